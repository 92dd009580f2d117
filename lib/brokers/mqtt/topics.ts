// Channel names and MQTT topics. A channel lives at `<prefix><channel>`: reversible by
// stripping the prefix. Channel names hold only `A-Z a-z 0-9 _ . : @ / -`, so of the
// characters that mean something in a topic (`/ + # $`) a channel can carry only `/`, a level
// separator, which is harmless: the broker subscribes to exact topics, never to filters made
// from channel names, so no channel can act as a wildcard or leave the prefix.

/** Default topic prefix of the plugin's channels. */
export const DEFAULT_TOPIC_PREFIX = 'realtime/'

/** Why `prefix` cannot be a topic prefix, or undefined. */
export function prefixProblem (prefix: unknown): string | undefined {
  if (typeof prefix !== 'string' || prefix.length === 0) return 'must be a non-empty string'
  if (/[+#\0]/.test(prefix)) return 'must not hold the wildcards + or #, or NUL'
  if (prefix.startsWith('$')) return 'must not start with $ (topics reserved for the MQTT server)'
  if (!prefix.endsWith('/')) return 'must end with /'
  return undefined
}

export function topicOf (prefix: string, channel: string): string {
  return prefix + channel
}

/** The channel of a topic under `prefix`, or undefined. */
export function channelOf (prefix: string, topic: string): string | undefined {
  return topic.startsWith(prefix) ? topic.slice(prefix.length) : undefined
}

/** Why `filter` is not a valid MQTT topic filter, or undefined. */
export function filterProblem (filter: unknown): string | undefined {
  if (typeof filter !== 'string' || filter.length === 0) return 'must be a non-empty string'
  const levels = filter.split('/')
  for (const [index, level] of levels.entries()) {
    if (level.includes('#') && (level !== '#' || index !== levels.length - 1)) return '# must be a whole last level'
    if (level.includes('+') && level !== '+') return '+ must be a whole level'
  }
  return undefined
}

/**
 * The levels `+` and `#` stood for when `topic` matches `filter` (MQTT rules: `+` one
 * level, `#` the rest), or undefined when it does not match.
 */
export function matchTopic (filter: string, topic: string): string[] | undefined {
  // MQTT 4.7.2: a filter starting with a wildcard does not match topics starting with $.
  if (topic.startsWith('$') && !filter.startsWith('$')) return undefined
  const filterLevels = filter.split('/')
  const topicLevels = topic.split('/')
  const captured: string[] = []
  for (let i = 0; i < filterLevels.length; i++) {
    const level = filterLevels[i]
    if (level === '#') {
      captured.push(topicLevels.slice(i).join('/'))
      return captured
    }
    const topicLevel = topicLevels[i]
    if (topicLevel === undefined) return undefined
    if (level === '+') captured.push(topicLevel)
    else if (level !== topicLevel) return undefined
  }
  return filterLevels.length === topicLevels.length ? captured : undefined
}

/** `{1}`, `{2}`... in `template` replaced by the captured levels. */
export function fillTemplate (template: string, captured: readonly string[]): string {
  return template.replace(/\{(\d+)\}/g, (whole, digits: string) => captured[Number(digits) - 1] ?? whole)
}
