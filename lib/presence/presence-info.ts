// A member's info: what the client sent with its subscribe (checked against the rule's
// `info` schema and the size limit), or else what the `presenceInfo` option derives from
// the connection (the application's own, trusted).
import type { Connection } from '../connection.js'
import { ErrorCode, RealtimeError } from '../errors.js'
import type { PresenceInfoFunction } from '../options.js'
import type { PresenceRule } from './presence-rules.js'

const MAX_ISSUES = 10

function byteLength (value: unknown): number {
  const json = JSON.stringify(value)
  return json === undefined ? 0 : Buffer.byteLength(json)
}

/** The info sent with a subscribe, checked; throws `invalid_message` when it is not acceptable. */
export function checkSentInfo (rule: PresenceRule | undefined, sent: unknown, maxBytes: number): unknown {
  if (rule?.info === undefined) {
    throw new RealtimeError(ErrorCode.INVALID_MESSAGE, 'This channel takes no presence info', [{ path: '/info', message: 'not accepted for this channel' }])
  }
  if (byteLength(sent) > maxBytes) {
    throw new RealtimeError(ErrorCode.INVALID_MESSAGE, `Presence info is larger than ${maxBytes} bytes`, [{ path: '/info', message: `must be at most ${maxBytes} bytes of JSON` }])
  }
  if (!rule.info.Check(sent)) {
    const issues = []
    for (const error of rule.info.Errors(sent)) {
      if (issues.length >= MAX_ISSUES) break
      issues.push({ path: '/info' + error.instancePath, message: error.message })
    }
    throw new RealtimeError(ErrorCode.INVALID_MESSAGE, 'Presence info does not match the channel\'s schema', issues)
  }
  return sent
}

/** The info the application derives for `connection`, or undefined; over-size info is dropped with a warning. */
export function derivedInfo (presenceInfo: PresenceInfoFunction | undefined, connection: Connection, maxBytes: number): unknown {
  if (presenceInfo === undefined) return undefined
  let info: unknown
  try {
    info = presenceInfo(connection)
    if (byteLength(info) <= maxBytes) return info
  } catch (err) {
    connection.log.error({ err }, 'presenceInfo threw; the member is listed without info')
    return undefined
  }
  connection.log.warn({ maxBytes }, 'presenceInfo returned more than presence.maxInfoBytes; the member is listed without info')
  return undefined
}
