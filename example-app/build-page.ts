// Bundles the chat page's script (page/main.ts and the fastify-realtime client it imports)
// with esbuild, as an application would. Output: public/build/ (git-ignored), or the folder
// in PAGE_BUILD_DIR, which the app then serves as /build/ (tests build into a temp folder so
// that concurrent runs do not write the same files).
// `npm run build:example` runs this file; server.ts calls buildPage() at start.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const entry = fileURLToPath(new URL('./page/main.ts', import.meta.url))
export const defaultPageBuildDir = fileURLToPath(new URL('./public/build/', import.meta.url))

/** Writes chat.js (and its source map) into `outDir`. */
export async function buildPage (outDir: string = defaultPageBuildDir): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile: join(outDir, 'chat.js'),
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning'
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildPage(process.env.PAGE_BUILD_DIR)
