// Every relative link in README.md, CHANGELOG.md and docs/*.md points at a file that exists,
// and an anchor into a markdown file names one of its headings (GitHub's slugs).
import t from 'tap'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, normalize } from 'node:path'
import { anchors, codeBlocks, documentationFiles, root, slug } from './markdown.js'

interface Link { file: string, line: number, target: string }

function relativeLinks (file: string): Link[] {
  const insideCode = new Set<number>()
  for (const block of codeBlocks(file)) {
    const count = block.code.split('\n').length
    for (let i = -1; i <= count; i++) insideCode.add(block.line + i)
  }
  const links: Link[] = []
  readFileSync(join(root, file), 'utf8').split('\n').forEach((text, index) => {
    if (insideCode.has(index + 1)) return
    const withoutInlineCode = text.replace(/`[^`]*`/g, '')
    for (const match of withoutInlineCode.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1]!
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:...
      links.push({ file, line: index + 1, target })
    }
  })
  return links
}

function problemWith (link: Link): string | undefined {
  const [path, anchor] = link.target.split('#', 2) as [string, string | undefined]
  const targetFile = path === '' ? link.file : normalize(join(dirname(link.file), decodeURIComponent(path)))
  if (targetFile.startsWith('..')) return 'points outside the repository'
  if (!existsSync(join(root, targetFile))) return `${targetFile} does not exist`
  if (anchor === undefined) return undefined
  if (!targetFile.endsWith('.md')) return `an anchor into ${targetFile}, which is not markdown`
  if (!anchors(targetFile).has(anchor)) return `${targetFile} has no heading #${anchor}`
  return undefined
}

t.test('GitHub heading slugs', async (t) => {
  t.equal(slug('Who may connect: `authenticate`, `allowedOrigins`'), 'who-may-connect-authenticate-allowedorigins')
  t.equal(slug('"Exactly once, same order", and its limits'), 'exactly-once-same-order-and-its-limits')
  t.equal(slug('On the server: `app.realtime.history()`'), 'on-the-server-apprealtimehistory')
  t.equal(slug('Redis or MQTT?'), 'redis-or-mqtt')
})

t.test('the link checker finds dead links', async (t) => {
  t.match(problemWith({ file: 'README.md', line: 1, target: 'docs/nothing-here.md' }), /does not exist/)
  t.match(problemWith({ file: 'README.md', line: 1, target: 'docs/history.md#no-such-heading' }), /no heading/)
  t.match(problemWith({ file: 'docs/history.md', line: 1, target: '../../outside.md' }), /outside/)
  t.equal(problemWith({ file: 'docs/history.md', line: 1, target: '../README.md#license' }), undefined)
})

for (const file of documentationFiles()) {
  t.test(`links in ${file}`, async (t) => {
    t.ok(existsSync(join(root, file)), `${file} exists`)
    const links = relativeLinks(file)
    const dead = links.flatMap((link) => {
      const problem = problemWith(link)
      return problem === undefined ? [] : [`${file}:${link.line} (${link.target}): ${problem}`]
    })
    t.same(dead, [], `${links.length} relative links, none dead`)
  })
}
