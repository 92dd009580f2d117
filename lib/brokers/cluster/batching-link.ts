// Batches what one side of the cluster relay sends in an event-loop turn into one IPC message.
// Each IPC message costs a serialization and a write to the pipe on one side and a read and a
// parse on the other; under load, many publishes and deliveries happen in one turn, and one
// message for all of them divides those costs. Order is kept: a batch holds its messages in
// the order they were sent, and batches leave in order.
import { RELAY_TAG, isRelayMessage, type IpcLink, type PrimaryMessage, type WorkerMessage } from './relay-messages.js'

type RelayMessage = WorkerMessage | PrimaryMessage

/** Sent at once when this many wait, so one batch stays a bounded message. */
const MAX_BATCH = 1024
/**
 * Frame characters one batch carries at most (a single larger frame travels alone): the batch
 * is serialized as one string, and many large frames in one turn would exceed V8's longest
 * string (about 512 M characters) and throw.
 */
const MAX_BATCH_CHARS = 4 * 1024 * 1024

interface Batch { rt: typeof RELAY_TAG, op: 'batch', messages: RelayMessage[] }

function isBatch (message: unknown): message is Batch {
  return isRelayMessage(message) && message.op === 'batch' && Array.isArray((message as Batch).messages)
}

export interface BatchingLink extends IpcLink {
  /** Sends what waits now, without waiting for the end of the turn (before a process may exit). */
  flush: () => void
  /**
   * Whether to batch: off until the other side said it reads batches (in the hello exchange),
   * so a primary and workers of different versions still understand each other. Batches are
   * always unpacked on receipt.
   */
  batching: boolean
}

/** `link`, with what is sent in one turn carried as one message, and batches unpacked on receipt. */
export function batchingLink (link: IpcLink): BatchingLink {
  let queue: RelayMessage[] = []
  let queuedChars = 0
  let scheduled: NodeJS.Immediate | undefined
  const flush = (): void => {
    if (scheduled !== undefined) clearImmediate(scheduled)
    scheduled = undefined
    const messages = queue
    queue = []
    queuedChars = 0
    if (messages.length === 1) link.send(messages[0]!)
    else if (messages.length > 1) link.send({ rt: RELAY_TAG, op: 'batch', messages } as unknown as RelayMessage)
  }
  const batchingLink: BatchingLink = {
    flush,
    batching: false,
    send (message) {
      if (!batchingLink.batching) {
        link.send(message)
        return
      }
      const chars = 'frame' in message ? message.frame.length : 0
      if (queuedChars + chars > MAX_BATCH_CHARS) flush()
      queue.push(message)
      queuedChars += chars
      if (queue.length >= MAX_BATCH) flush()
      else scheduled ??= setImmediate(flush)
    },
    onMessage (listener) {
      return link.onMessage((message) => {
        if (!isBatch(message)) {
          listener(message)
          return
        }
        for (const inner of message.messages) listener(inner)
      })
    },
    onClose (listener) {
      return link.onClose(listener)
    }
  }
  return batchingLink
}
