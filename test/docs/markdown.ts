// Reads the documentation the way the doc tests need it: which pages there are, their code
// blocks (with the info string that says how to check them) and GitHub's heading anchors.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

export const root = new URL('../../', import.meta.url).pathname

/** README.md, CHANGELOG.md and every page of docs/, relative to the repository root. */
export function documentationFiles (): string[] {
  const docs = readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).sort()
  return ['README.md', 'CHANGELOG.md', ...docs.map((name) => `docs/${name}`)]
}

export interface CodeBlock {
  file: string
  /** 1-based line of the block's first code line in its markdown file. */
  line: number
  /** The info string after the fence: `ts`, `ts fragment`, `ts doc-test=first-server`... */
  info: string
  code: string
}

export function codeBlocks (file: string): CodeBlock[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n')
  const blocks: CodeBlock[] = []
  let open: { fence: string, info: string, line: number, code: string[] } | undefined
  lines.forEach((text, index) => {
    if (open === undefined) {
      const start = /^(`{3,}|~{3,})\s*(.*)$/.exec(text)
      if (start !== null) open = { fence: start[1]!, info: start[2]!.trim(), line: index + 2, code: [] }
    } else if (text.trim().startsWith(open.fence) && text.trim().replace(/[`~]/g, '') === '') {
      blocks.push({ file, line: open.line, info: open.info, code: open.code.join('\n') })
      open = undefined
    } else {
      open.code.push(text)
    }
  })
  return blocks
}

/** `ts` blocks that are complete modules (not marked `fragment`). */
export function checkedTypeScriptBlocks (file: string): CodeBlock[] {
  return codeBlocks(file).filter((block) => {
    const words = block.info.split(/\s+/)
    return (words[0] === 'ts' || words[0] === 'typescript') && !words.includes('fragment')
  })
}

/** The block whose info string carries `doc-test=<name>`. */
export function docTestBlock (file: string, name: string): CodeBlock | undefined {
  return codeBlocks(file).find((block) => block.info.split(/\s+/).includes(`doc-test=${name}`))
}

/** GitHub's anchor for a heading: lowercase, punctuation but `-` and spaces dropped, spaces to `-`. */
export function slug (heading: string): string {
  const text = heading
    .replace(/`/g, '')
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link keeps its text
    .replace(/<[^>]+>/g, '')
    .trim()
    .toLowerCase()
  return text.replace(/[^\p{L}\p{N}\p{M}\p{Pc}\- ]/gu, '').replace(/ /g, '-')
}

/** Every anchor a markdown file offers, duplicates suffixed -1, -2... as GitHub does. */
export function anchors (file: string): Set<string> {
  const seen = new Map<string, number>()
  const result = new Set<string>()
  let fence: string | undefined
  for (const line of readFileSync(join(root, file), 'utf8').split('\n')) {
    const marker = /^(`{3,}|~{3,})/.exec(line)?.[1]
    if (fence === undefined && marker !== undefined) { fence = marker; continue }
    if (fence !== undefined) {
      if (marker !== undefined && marker.startsWith(fence) && line.trim().replace(/[`~]/g, '') === '') fence = undefined
      continue
    }
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading === null) continue
    const base = slug(heading[1]!)
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    result.add(count === 0 ? base : `${base}-${count}`)
  }
  return result
}
