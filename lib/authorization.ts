// Who may do what on which channel, for client `subscribe`, `publish` and `chat`. Built-in
// namespace rules come first and cannot be overridden; `authorize` decides the rest.
//
// Namespaces:
// - `user:<id>` and `user:<id>:...`: only a connection whose user id is `<id>` may
//   subscribe; no client may publish (the server publishes there with `app.publish`). `<id>`
//   is the escaped id of channels/user-channel.ts, so ownership is exact for any id.
// - `private:...`: only authenticated connections (with a user) are asked about at all.
import type { Connection } from './connection.js'
import { ErrorCode, RealtimeError } from './errors.js'
import type { AuthorizeFunction, ChannelAction, ResolvedOptions } from './options.js'
import { USER_NAMESPACE, isOwnUserChannel } from './channels/user-channel.js'

export { USER_NAMESPACE }
export const PRIVATE_NAMESPACE = 'private:'

export type AuthorizationSettings = Pick<ResolvedOptions, 'authorize' | 'allowClientPublish' | 'userId'> & Partial<Pick<ResolvedOptions, 'channels'>>

function forbidden (message: string): RealtimeError {
  return new RealtimeError(ErrorCode.FORBIDDEN, message)
}

export class Authorization {
  readonly #authorize: AuthorizeFunction | undefined
  readonly #allowClientPublish: boolean
  readonly #channels: AuthorizationSettings['channels']
  readonly userIdOf: (user: unknown) => string | undefined

  constructor (settings: AuthorizationSettings) {
    this.#authorize = settings.authorize
    this.#allowClientPublish = settings.allowClientPublish
    this.#channels = settings.channels
    this.userIdOf = settings.userId
  }

  /**
   * Resolves when `connection` may do `action` on `channel`; rejects with `forbidden` otherwise.
   * `granted`: a subscription token already decided, so `authorize` is not asked (the
   * namespace rules still are).
   */
  async check (connection: Connection, channel: string, action: ChannelAction, granted = false): Promise<void> {
    if (action === 'publish') {
      // A channel rule's `publish` overrides `allowClientPublish` for the channels it matches.
      const rule = this.#channels?.ruleFor(channel)?.publish
      if (rule === 'server') throw forbidden('This channel is published by the server only')
      if (rule === undefined && !this.#allowClientPublish) throw forbidden('Clients may not publish')
    } else if (action === 'chat' && !this.#allowClientPublish) {
      throw forbidden('Clients may not publish')
    }
    if (channel.startsWith(USER_NAMESPACE)) {
      if (action === 'publish') throw forbidden('user: channels are published by the server only')
      const userId = this.userIdOf(connection.user)
      if (userId === undefined || !isOwnUserChannel(channel, userId)) throw forbidden('user: channels belong to their user')
    } else if (channel.startsWith(PRIVATE_NAMESPACE) && connection.user === undefined) {
      throw forbidden('private: channels need an authenticated connection')
    }
    if (this.#authorize === undefined || granted) return
    let allowed: boolean | undefined
    try {
      allowed = await this.#authorize({ connection, user: connection.user, channel, action })
    } catch (err) {
      if (err instanceof RealtimeError) throw err
      // Fail closed: a broken authorize refuses, and the log says why.
      connection.log.error({ err, channel, action }, 'authorize threw')
      throw forbidden('Forbidden')
    }
    if (allowed !== true) throw forbidden('Forbidden')
  }
}
