// Bundles fastify-realtime/client with esbuild the way an application would, and sizes it.
import { fileURLToPath } from 'node:url'
import { gzipSync } from 'node:zlib'
import { build } from 'esbuild'

const entry = fileURLToPath(new URL('../../lib/client/index.ts', import.meta.url))

export interface ClientBundle {
  code: string
  bytes: number
  /** gzip at level 9, what a server with static compression sends. */
  gzipBytes: number
  /** Source files that ended up in the bundle, relative to the project root. */
  inputs: string[]
}

export async function bundleClient ({ minify = true, format = 'esm' }: { minify?: boolean, format?: 'esm' | 'iife' } = {}): Promise<ClientBundle> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    write: false,
    minify,
    format,
    globalName: format === 'iife' ? 'FastifyRealtime' : undefined,
    platform: 'browser',
    target: 'es2022',
    metafile: true,
    logLevel: 'silent'
  })
  const code = result.outputFiles[0]!.text
  return {
    code,
    bytes: Buffer.byteLength(code),
    gzipBytes: gzipSync(code, { level: 9 }).length,
    inputs: Object.keys(result.metafile.inputs)
  }
}
