// The README's first server and first browser client, run against each other as written:
// the server block on a free port, the client block in Node with what a page would give it
// (`location`, the global WebSocket from `ws`, a fetch that resolves relative URLs).
import t, { type Test } from 'tap'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { docTestBlock } from './markdown.js'
import { snippetsRoot, writeSnippets } from './snippets.js'

const tsxLoader = createRequire(import.meta.url).resolve('tsx')

const pageGlobals = `import { WebSocket } from 'ws'
const origin = \`http://127.0.0.1:\${process.env.PORT}\`
const pageFetch = globalThis.fetch
Object.assign(globalThis, {
  location: new URL(origin),
  WebSocket,
  fetch: (input: string, init?: RequestInit) => pageFetch(new URL(input, origin), init)
})
`

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

function run (t: Test, file: string, port: number): { child: ChildProcessWithoutNullStreams, lines: AsyncIterableIterator<string>, stderr: () => string } {
  const child = spawn(process.execPath, ['--import', tsxLoader, file], {
    cwd: join(snippetsRoot, 'run'),
    // tsx transpiles lib/ differently from tap's loader: its line maps would corrupt the
    // coverage report, so this child records none.
    env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0', PORT: String(port), TSX_TSCONFIG_PATH: join(snippetsRoot, 'run/tsconfig.json') }
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  t.teardown(() => { if (child.exitCode === null) child.kill() })
  return { child, lines: createInterface({ input: child.stdout })[Symbol.asyncIterator](), stderr: () => stderr }
}

async function lineMatching (lines: AsyncIterableIterator<string>, test: (line: string) => boolean): Promise<string | undefined> {
  for await (const line of lines) if (test(line)) return line
  return undefined
}

t.test('the README\'s first client receives what the first server publishes', { timeout: 60_000 }, async (t) => {
  const server = docTestBlock('README.md', 'first-server')
  const client = docTestBlock('README.md', 'first-client')
  if (server === undefined || client === undefined) {
    t.fail('README.md has blocks marked doc-test=first-server and doc-test=first-client')
    return
  }
  t.match(client.code, /prints "news: deploy finished"/, 'the README promises this output')
  const [serverFile, , clientFile] = writeSnippets('run', [
    { name: 'server', block: server },
    { name: 'page-globals', block: { ...server, code: pageGlobals } },
    { name: 'client', block: client, prelude: "import './page-globals.js'\n" }
  ])
  const port = await freePort()

  const serverProcess = run(t, serverFile!.path, port)
  const listening = await lineMatching(serverProcess.lines, (line) => line.includes('Server listening at'))
  t.ok(listening, 'the server logs that it listens', { stderr: serverProcess.stderr() })

  const clientProcess = run(t, clientFile!.path, port)
  const printed = await lineMatching(clientProcess.lines, (line) => line.startsWith('news:'))
  t.equal(printed, 'news: deploy finished', 'the client prints what the README says', { stderr: clientProcess.stderr() })
})
