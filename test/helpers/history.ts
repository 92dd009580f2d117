// For the history tests: a raw subscribe that may resume after a stream position, and the
// next messages of one channel.
import type { Frame, TestClient } from './ws-client.js'

/** Sends `subscribe` (with `since` when given) and resolves with the frame answering it (`subscribed` or `error`). */
export async function subscribe (client: TestClient, channel: string, since?: { offset: number, epoch: string }): Promise<Frame> {
  const id = `s-${channel}-${Math.random()}`
  client.send(since === undefined ? { type: 'subscribe', channel, id } : { type: 'subscribe', channel, id, since })
  return await client.next((frame) => frame.id === id)
}

/** The next `count` messages of `channel`, in the order received. */
export async function messages (client: TestClient, channel: string, count: number): Promise<Frame[]> {
  const received: Frame[] = []
  for (let i = 0; i < count; i++) received.push(await client.next((frame) => frame.type === 'message' && frame.channel === channel))
  return received
}
