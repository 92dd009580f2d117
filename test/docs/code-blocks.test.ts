// Every ```ts block of README.md and docs/*.md not marked `fragment` is a complete module that
// type-checks against the package: one tsc run over all of them (conventions: docs/README.md).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { checkedTypeScriptBlocks, documentationFiles, root } from './markdown.js'
import { snippetsRoot, writeSnippets } from './snippets.js'

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')

t.test('documented TypeScript blocks type-check against the package', async (t) => {
  const blocks = documentationFiles().flatMap((file) => checkedTypeScriptBlocks(file).map((block) => ({
    name: `${file.replace(/[/.]/g, '-')}-${block.line}`,
    block
  })))
  t.ok(blocks.length >= 10, `${blocks.length} blocks to check`)
  const written = writeSnippets('check', blocks)
  const result = spawnSync(process.execPath, [tsc, '-p', join(snippetsRoot, 'check/tsconfig.json')], {
    cwd: root, encoding: 'utf8'
  })
  // tsc names the extracted file and line; point at the markdown instead (file line - 1).
  const output = written.reduce((text, { block, path }) => text.replace(
    new RegExp(`${path.slice(root.length).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\((\\d+),(\\d+)\\)`, 'g'),
    (_, line: string, column: string) => `${block.file}:${block.line + Number(line) - 2}:${column}`
  ), result.stdout + result.stderr)
  t.equal(result.status, 0, 'tsc passes', { output })
})
