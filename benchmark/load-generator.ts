// A load generator process: opens a few thousand WebSocket connections, subscribes each to
// one channel, and counts what arrives. The orchestrator (run.ts) drives it over IPC.
//
// It speaks WebSocket over raw `net` sockets instead of using a client library: a frame costs
// a header parse and a counter increment, no event, no string, no UTF-8 check. That keeps the
// client side far from being the bottleneck (its CPU is reported to show it), and every peer
// is read by exactly the same code. Only some connections (`sampleEvery`) parse the send
// timestamp out of the payload for latency.
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { now } from './clock.js'
import { Histogram } from './histogram.js'

export type Dialect = 'json' | 'socketio'

export interface ConnectCommand {
  cmd: 'connect'
  port: number
  path: string
  dialect: Dialect
  channel: string
  /** Instead of `channel`: each connection subscribes to several channels (scenario f). */
  channelPlan?: ChannelPlan
  count: number
  localAddresses: string[]
  concurrency: number
  sampleEvery: number
  timeoutMs: number
}

/**
 * Connection number `k` (counted over every generator, from `firstIndex`) subscribes to channels
 * `prefix + ((k * perConnection + j) % channels)`, j < perConnection: when `channels` divides
 * connections x perConnection, every channel has the same number of subscribers, spread over the
 * whole range of connections (and so over every server process).
 */
export interface ChannelPlan {
  prefix: string
  channels: number
  perConnection: number
  firstIndex: number
}

export function plannedChannels (plan: ChannelPlan, k: number): string[] {
  return Array.from({ length: plan.perConnection }, (_, j) => plan.prefix + String((k * plan.perConnection + j) % plan.channels))
}

/** What every connection received so far, by kind (scenario e's probe). */
export interface GeneratorProbe {
  ev: 'probe'
  subscribed: number
  open: number
  /** Connections with `expected` broadcasts and `expected` channel messages. */
  gotBoth: number
  /** Connections with fewer broadcasts than `expected`. */
  missingBroadcast: number
  missingMessage: number
  /** Connections that received one kind more than `expected` times. */
  duplicated: number
}

export type GeneratorCommand =
  | ConnectCommand
  | { cmd: 'reset' }
  | { cmd: 'stats' }
  | { cmd: 'probe', expected: number }
  | { cmd: 'disconnect' }
  | { cmd: 'exit' }

export interface GeneratorStats {
  ev: 'stats'
  received: number
  open: number
  closed: number
  /** Closes since the last reset by cause: the close code the server sent, or `no close frame`. */
  closeCauses: Record<string, number>
  histogram: Array<[number, number]>
  cpuUserMs: number
  cpuSystemMs: number
  elapsedMs: number
}

const OP_TEXT = 0x1
const OP_CLOSE = 0x8
const OP_PING = 0x9
const OP_PONG = 0xa
const T_KEY = Buffer.from('"t":')
const HEADER_END = Buffer.from('\r\n\r\n')
const SUBSCRIBED_JSON = Buffer.from('"subscribed"')
/** `{"type":"` is 9 bytes: the next one tells a broadcast (b) from a channel message (m). */
const TYPE_AT = 9
const LETTER_B = 0x62

let received = 0
let closedCount = 0
let closeCauses: Record<string, number> = {}
const histogram = new Histogram()
let cpuMark = process.cpuUsage()
let timeMark = now()
const clients = new Set<RawClient>()

/** A client frame: FIN + opcode, masked with a zero key (valid, and leaves the payload as is). */
function clientFrame (opcode: number, payload: Buffer): Buffer {
  if (payload.length > 125) throw new RangeError('load generator frames are small')
  const frame = Buffer.allocUnsafe(6 + payload.length)
  frame[0] = 0x80 | opcode
  frame[1] = 0x80 | payload.length
  frame.writeUInt32BE(0, 2)
  payload.copy(frame, 6)
  return frame
}

/** Reads the number after `"t":` in `buf[start, end)`; NaN when absent. */
function readTimestamp (buf: Buffer, start: number, end: number): number {
  let i = buf.indexOf(T_KEY, start)
  if (i === -1 || i >= end) return NaN
  i += T_KEY.length
  let value = 0
  let scale = 0
  for (; i < end; i++) {
    const c = buf[i]!
    if (c === 0x2e) scale = 1
    else if (c >= 0x30 && c <= 0x39) {
      value = value * 10 + (c - 0x30)
      if (scale !== 0) scale *= 10
    } else break
  }
  return scale === 0 ? value : value / scale
}

class RawClient {
  readonly socket: net.Socket
  readonly #dialect: Dialect
  readonly #channels: string[]
  readonly #sampled: boolean
  #handshaken = false
  #subscribed = false
  #acknowledged = 0
  broadcasts = 0
  messages = 0
  #pending: Buffer | null = null
  /** The code of the close frame the server sent, if any. */
  #closeCode: number | undefined
  #onSubscribed: ((err?: Error) => void) | null

  constructor (command: ConnectCommand, channels: string[], localAddress: string, sampled: boolean, onSubscribed: (err?: Error) => void) {
    this.#dialect = command.dialect
    this.#channels = channels
    this.#sampled = sampled
    this.#onSubscribed = onSubscribed
    this.socket = net.connect({ host: '127.0.0.1', port: command.port, localAddress })
    this.socket.setNoDelay(true)
    this.socket.on('connect', () => {
      this.socket.write(
        `GET ${command.path} HTTP/1.1\r\nHost: 127.0.0.1:${command.port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
        'Sec-WebSocket-Version: 13\r\n\r\n'
      )
    })
    this.socket.on('data', (chunk: Buffer) => this.#onData(chunk))
    this.socket.on('error', (err) => this.#settle(err))
    this.socket.on('close', () => {
      if (clients.delete(this)) {
        closedCount++
        const cause = this.#closeCode === undefined ? 'no close frame' : String(this.#closeCode)
        closeCauses[cause] = (closeCauses[cause] ?? 0) + 1
      }
      this.#settle(new Error('closed before subscribing'))
    })
  }

  #settle (err?: Error): void {
    const callback = this.#onSubscribed
    this.#onSubscribed = null
    callback?.(err)
  }

  #sendText (text: string): void {
    this.socket.write(clientFrame(OP_TEXT, Buffer.from(text)))
  }

  #onData (chunk: Buffer): void {
    let buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk])
    this.#pending = null
    if (!this.#handshaken) {
      const end = buf.indexOf(HEADER_END)
      if (end === -1) {
        this.#pending = buf
        return
      }
      if (buf.toString('latin1', 0, 12) !== 'HTTP/1.1 101') {
        this.#settle(new Error(`upgrade refused: ${buf.toString('latin1', 0, Math.min(end, 200))}`))
        this.socket.destroy()
        return
      }
      this.#handshaken = true
      if (this.#dialect === 'json') for (const channel of this.#channels) this.#sendText(`{"type":"subscribe","channel":"${channel}"}`)
      buf = buf.subarray(end + 4)
    }
    let offset = 0
    const length = buf.length
    while (length - offset >= 2) {
      const opcode = buf[offset]! & 0x0f
      let payloadLength = buf[offset + 1]! & 0x7f
      let headerLength = 2
      if (payloadLength === 126) {
        if (length - offset < 4) break
        payloadLength = buf.readUInt16BE(offset + 2)
        headerLength = 4
      } else if (payloadLength === 127) {
        if (length - offset < 10) break
        payloadLength = buf.readUInt32BE(offset + 2) * 0x100000000 + buf.readUInt32BE(offset + 6)
        headerLength = 10
      }
      const start = offset + headerLength
      const end = start + payloadLength
      if (end > length) break
      if (opcode === OP_TEXT) this.#onText(buf, start, end)
      else if (opcode === OP_PING) this.socket.write(clientFrame(OP_PONG, buf.subarray(start, end)))
      else if (opcode === OP_CLOSE) {
        this.#closeCode = end - start >= 2 ? buf.readUInt16BE(start) : 1005
        this.socket.end()
      }
      offset = end
    }
    if (offset < length) this.#pending = Buffer.from(buf.subarray(offset))
  }

  #onText (buf: Buffer, start: number, end: number): void {
    if (this.#subscribed) {
      if (this.#dialect === 'socketio') {
        // Engine.IO ping ('2') is answered; only socket.io events ('42...') are messages.
        if (buf[start] === 0x32 && end - start === 1) {
          this.#sendText('3')
          return
        }
        if (buf[start] !== 0x34 || buf[start + 1] !== 0x32) return
      }
      received++
      if (this.#dialect === 'json' && buf[start + TYPE_AT] === LETTER_B) this.broadcasts++
      else this.messages++
      if (this.#sampled) {
        const sentAt = readTimestamp(buf, start, end)
        if (!Number.isNaN(sentAt)) histogram.record(now() - sentAt)
      }
      return
    }
    if (this.#dialect === 'json') {
      const at = buf.indexOf(SUBSCRIBED_JSON, start)
      if (at !== -1 && at < end && ++this.#acknowledged === this.#channels.length) this.#markSubscribed()
      return
    }
    // Socket.IO: open packet '0{...}' -> connect to the main namespace '40' -> '40{sid}' ->
    // subscribe with an ack per channel ('42<id>[...]') -> acks '43<id>[...]'.
    const text = buf.toString('latin1', start, Math.min(end, start + 3))
    if (text[0] === '0') this.#sendText('40')
    else if (text.startsWith('40')) this.#channels.forEach((channel, id) => this.#sendText(`42${id}["subscribe","${channel}"]`))
    else if (text.startsWith('43') && ++this.#acknowledged === this.#channels.length) this.#markSubscribed()
    else if (text === '2') this.#sendText('3')
  }

  get subscribed (): boolean {
    return this.#subscribed
  }

  #markSubscribed (): void {
    this.#subscribed = true
    this.#settle()
  }
}

async function connectAll (command: ConnectCommand): Promise<{ ev: 'connected', ok: number, failed: number, ms: number, firstError?: string }> {
  const started = now()
  let ok = 0
  let failed = 0
  let firstError: string | undefined
  let next = 0
  const deadline = started + command.timeoutMs
  await new Promise<void>((resolve) => {
    let inFlight = 0
    const launch = (): void => {
      while (inFlight < command.concurrency && next < command.count && now() < deadline) {
        const index = next++
        inFlight++
        const localAddress = command.localAddresses[index % command.localAddresses.length]!
        const channels = command.channelPlan === undefined ? [command.channel] : plannedChannels(command.channelPlan, command.channelPlan.firstIndex + index)
        const client: RawClient = new RawClient(command, channels, localAddress, index % command.sampleEvery === 0, (err) => {
          clearTimeout(timer)
          inFlight--
          if (err === undefined) ok++
          else {
            failed++
            firstError ??= err.message
          }
          if (next < command.count && now() < deadline) launch()
          else if (inFlight === 0) resolve()
        })
        const timer = setTimeout(() => client.socket.destroy(new Error('subscribe timed out')), Math.max(1, deadline - now()))
        clients.add(client)
      }
      if (inFlight === 0) resolve()
    }
    launch()
  })
  failed += command.count - next
  return { ev: 'connected', ok, failed, ms: now() - started, ...(firstError === undefined ? {} : { firstError }) }
}

function stats (): GeneratorStats {
  const cpu = process.cpuUsage(cpuMark)
  return {
    ev: 'stats',
    received,
    open: clients.size,
    closed: closedCount,
    closeCauses,
    histogram: histogram.toSparse(),
    cpuUserMs: cpu.user / 1000,
    cpuSystemMs: cpu.system / 1000,
    elapsedMs: now() - timeMark
  }
}

function probe (expected: number): GeneratorProbe {
  const result: GeneratorProbe = { ev: 'probe', subscribed: 0, open: 0, gotBoth: 0, missingBroadcast: 0, missingMessage: 0, duplicated: 0 }
  for (const client of clients) {
    result.open++
    if (client.subscribed) result.subscribed++
    if (client.broadcasts < expected) result.missingBroadcast++
    if (client.messages < expected) result.missingMessage++
    if (client.broadcasts === expected && client.messages === expected) result.gotBoth++
    if (client.broadcasts > expected || client.messages > expected) result.duplicated++
  }
  return result
}

function reply (message: object): void {
  process.send?.(message)
}

process.on('message', (command: GeneratorCommand) => {
  switch (command.cmd) {
    case 'connect':
      connectAll(command).then(reply, (err: Error) => reply({ ev: 'connected', ok: 0, failed: command.count, ms: 0, firstError: err.message }))
      break
    case 'reset':
      received = 0
      closedCount = 0
      closeCauses = {}
      histogram.reset()
      cpuMark = process.cpuUsage()
      timeMark = now()
      reply({ ev: 'reset' })
      break
    case 'stats':
      reply(stats())
      break
    case 'probe':
      reply(probe(command.expected))
      break
    case 'disconnect':
      for (const client of clients) client.socket.destroy()
      clients.clear()
      reply({ ev: 'disconnected' })
      break
    case 'exit':
      process.exit(0)
  }
})
// The orchestrator going away must not leave this process behind.
process.on('disconnect', () => process.exit(0))
reply({ ev: 'ready' })
