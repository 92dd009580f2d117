// Bundles the chat page's script (page/main.ts and the fastify-realtime client it imports)
// with esbuild, as an application would. Output: public/build/, which git ignores.
// `npm run build:example` runs this file; server.ts calls buildPage() at start.
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const entry = fileURLToPath(new URL('./page/main.ts', import.meta.url))
export const pageBundle = fileURLToPath(new URL('./public/build/chat.js', import.meta.url))

export async function buildPage (): Promise<void> {
  await build({
    entryPoints: [entry],
    outfile: pageBundle,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    sourcemap: true,
    logLevel: 'warning'
  })
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildPage()
