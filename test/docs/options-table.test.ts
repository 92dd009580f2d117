// Every plugin option is documented with its default in docs/options.md, and the README's
// short table lists the same options with the same defaults.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { NON_DATA_OPTIONS, OptionsSchema } from '../../lib/options.js'
import { root } from './markdown.js'

/** `| \`name\` | default |...` rows of the first table whose header starts with `| option | default |`. */
function optionRows (file: string): Map<string, string> {
  const text = readFileSync(join(root, file), 'utf8')
  const table = text.slice(text.indexOf('| option | default |')).split('\n\n')[0]!
  const rows = new Map<string, string>()
  for (const line of table.split('\n').slice(2)) {
    const cells = line.split(' | ')
    rows.set(cells[0]!.replace(/^\| `|`$/g, ''), cells[1]!.replace(/ \|$/, '').trim())
  }
  return rows
}

const options = [...Object.keys(OptionsSchema.properties), ...NON_DATA_OPTIONS].sort()

t.test('docs/options.md has a row for every option', async (t) => {
  t.same([...optionRows('docs/options.md').keys()].sort(), options)
})

t.test('the README lists the same options with the same defaults', async (t) => {
  t.same(Object.fromEntries(optionRows('README.md')), Object.fromEntries(optionRows('docs/options.md')))
})
