// Writes documentation code blocks out as TypeScript modules beside a tsconfig that resolves
// `fastify-realtime` and `fastify-realtime/client` to lib/, for tsc (type check) and tsx (run).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { root, type CodeBlock } from './markdown.js'

export const snippetsRoot = join(root, 'test/docs/.snippets')

export interface WrittenSnippet { block: CodeBlock, path: string }

/** Empties `folder` under test/docs/.snippets/ and writes one module per block, plus a tsconfig. */
export function writeSnippets (folder: string, blocks: Array<{ name: string, block: CodeBlock, prelude?: string }>): WrittenSnippet[] {
  const dir = join(snippetsRoot, folder)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const up = relative(dir, root)
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    extends: `${up}/tsconfig.json`,
    compilerOptions: {
      noEmit: true,
      rootDir: up,
      // Kept outside the emptied folder: a second run re-checks only what changed.
      incremental: true,
      tsBuildInfoFile: `../${folder}.tsbuildinfo`,
      paths: {
        'fastify-realtime': [`${up}/lib/index.ts`],
        'fastify-realtime/client': [`${up}/lib/client/index.ts`]
      }
    },
    include: ['./*.ts'],
    exclude: []
  }, null, 2))
  return blocks.map(({ name, block, prelude }) => {
    const path = join(dir, `${name}.ts`)
    // The first line says where the block lives; `export {}` makes every block a module
    // (top-level await) even when it imports nothing.
    writeFileSync(path, `// ${block.file}:${block.line}\n${prelude ?? ''}${block.code}\nexport {}\n`)
    return { block, path }
  })
}
