// Opens the package's own RealtimeClient in Node (with `ws`) and awaits its events, so
// client tests wait for what happens instead of sleeping.
import type { Test } from 'tap'
import WebSocket from 'ws'
import { RealtimeClient, type RealtimeClientEvents, type RealtimeClientOptions, type UrlSource } from '../../lib/client/index.js'

/** A client on `url` that is closed at teardown. */
export function openClient (t: Test, url: UrlSource, options: RealtimeClientOptions = {}): RealtimeClient {
  const client = new RealtimeClient(url, { WebSocket, ...options })
  t.teardown(() => client.close())
  return client
}

/** Resolves with the payload of the next `event` that `match` accepts. */
export function nextEvent<Name extends keyof RealtimeClientEvents> (
  client: RealtimeClient,
  event: Name,
  match: (payload: RealtimeClientEvents[Name]) => boolean = () => true,
  timeoutMs = 5000
): Promise<RealtimeClientEvents[Name]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off()
      reject(new Error(`timed out waiting for client event "${String(event)}"`))
    }, timeoutMs)
    const off = client.on(event, (payload) => {
      if (!match(payload)) return
      off()
      clearTimeout(timer)
      resolve(payload)
    })
  })
}

/** Collects every payload of `event` from now on. */
export function record<Name extends keyof RealtimeClientEvents> (client: RealtimeClient, event: Name): Array<RealtimeClientEvents[Name]> {
  const seen: Array<RealtimeClientEvents[Name]> = []
  client.on(event, (payload) => { seen.push(payload) })
  return seen
}
