// The messages a ClusterBroker (in a worker) and the ClusterRelay (in the primary) exchange
// over the worker's IPC channel. Every one carries `rt: RELAY_TAG`, so an application's own
// IPC messages on the same channel pass by untouched.

import type { PresenceMember } from '../broker.js'

export const RELAY_TAG = 'fastify-realtime'

/** A presence call a worker asks the primary to run on the members it holds for every worker. */
export type PresenceCall =
  | { method: 'add', channel: string, members: PresenceMember[], ttl: number }
  | { method: 'remove', channel: string, members: PresenceMember[] }
  | { method: 'members', channel: string }
  | { method: 'stats', channel: string }
  | { method: 'removeNode', nodeId: string }

/** Worker to primary. `id` correlates the primary's `ack`. */
export type WorkerMessage =
  /** `batches`: this worker reads batched messages (see batching-link.ts); a relay that does too says so in its ack. */
  | { rt: typeof RELAY_TAG, op: 'hello', id: number, nodeId: string, batches?: boolean }
  | { rt: typeof RELAY_TAG, op: 'subscribe', id: number, channel: string }
  | { rt: typeof RELAY_TAG, op: 'unsubscribe', channel: string }
  | { rt: typeof RELAY_TAG, op: 'publish', id: number, channel: string, frame: string }
  | { rt: typeof RELAY_TAG, op: 'presence', id: number, call: PresenceCall }

/** Primary to worker. `result`: what a presence call returned. */
export type PrimaryMessage =
  | { rt: typeof RELAY_TAG, op: 'ack', id: number, result?: unknown }
  | { rt: typeof RELAY_TAG, op: 'message', channel: string, frame: string }

export function isRelayMessage (message: unknown): message is { rt: typeof RELAY_TAG, op: string } {
  return typeof message === 'object' && message !== null && (message as { rt?: unknown }).rt === RELAY_TAG
}

/**
 * One end of an IPC channel, whatever carries it: a `cluster` worker's `process` and the
 * primary's `Worker` object (see `linkOf*` below), or a `MessagePort`.
 */
export interface IpcLink {
  send (message: WorkerMessage | PrimaryMessage): void
  onMessage (listener: (message: unknown) => void): () => void
  /** Called once when the other end is gone (process exited, channel closed). */
  onClose (listener: () => void): () => void
}

interface ProcessLike {
  send? (message: WorkerMessage | PrimaryMessage, handle: undefined, options: object, callback: (err: Error | null) => void): boolean
  connected?: boolean
  on (event: 'message', listener: (message: unknown) => void): unknown
  on (event: 'disconnect', listener: () => void): unknown
  off (event: 'message', listener: (message: unknown) => void): unknown
  off (event: 'disconnect', listener: () => void): unknown
}

/** A write to a channel that is closing: its 'disconnect' reports the channel gone. */
function ignoreSendError (): void {}

/**
 * The IPC channel of a process to its parent (`process` in a `cluster` worker), or of the
 * primary to a worker (`cluster.Worker` and `ChildProcess` have the same shape).
 */
export function linkOfProcess (target: ProcessLike): IpcLink {
  return {
    send (message) {
      // A channel that closed meanwhile: the 'disconnect' listener already reported it.
      // The callback takes a failed write (EPIPE: the other end exited before its channel
      // was seen closed), which would otherwise be an unhandled 'error' that kills this process.
      if (target.connected !== false) target.send?.(message, undefined, {}, ignoreSendError)
    },
    onMessage (listener) {
      target.on('message', listener)
      return () => { target.off('message', listener) }
    },
    onClose (listener) {
      target.on('disconnect', listener)
      return () => { target.off('disconnect', listener) }
    }
  }
}

interface PortLike {
  postMessage (message: unknown): void
  on (event: 'message' | 'close', listener: (message: unknown) => void): unknown
  off (event: 'message' | 'close', listener: (message: unknown) => void): unknown
}

/** A `worker_threads` MessagePort: the same relay between threads of one process. */
export function linkOfPort (port: PortLike): IpcLink {
  return {
    send (message) { port.postMessage(message) },
    onMessage (listener) {
      port.on('message', listener)
      return () => { port.off('message', listener) }
    },
    onClose (listener) {
      const once = (): void => listener()
      port.on('close', once)
      return () => { port.off('close', once) }
    }
  }
}
