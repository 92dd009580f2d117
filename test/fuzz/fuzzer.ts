// A seedable fuzzer of the client-to-server protocol. Every frame it makes has a known
// outcome: either exactly one answer (an error frame, or pong/ack/subscribed for the few
// that are valid on purpose), or a close with a known code. Same seed, same frames.
import { once } from 'node:events'
import type { Socket } from 'node:net'
import WebSocket from 'ws'

/** sfc32: small, fast, and the same sequence for the same seed on every machine. */
export class Random {
  #a: number
  #b: number
  #c: number
  #d: number

  constructor (seed: number) {
    this.#a = 0x9e3779b9
    this.#b = 0x243f6a88
    this.#c = 0xb7e15162
    this.#d = seed >>> 0
    for (let i = 0; i < 15; i++) this.next()
  }

  /** Uniform in [0, 1). */
  next (): number {
    this.#a >>>= 0; this.#b >>>= 0; this.#c >>>= 0; this.#d >>>= 0
    const t = (this.#a + this.#b) | 0
    this.#a = this.#b ^ (this.#b >>> 9)
    this.#b = (this.#c + (this.#c << 3)) | 0
    this.#c = (this.#c << 21) | (this.#c >>> 11)
    this.#d = (this.#d + 1) | 0
    const result = (t + this.#d) | 0
    this.#c = (this.#c + result) | 0
    return (result >>> 0) / 4294967296
  }

  int (max: number): number {
    return Math.floor(this.next() * max)
  }

  pick<T> (items: readonly T[]): T {
    return items[this.int(items.length)]!
  }

  bytes (length: number): Buffer {
    const buffer = Buffer.allocUnsafe(length)
    for (let i = 0; i < length; i++) buffer[i] = this.int(256)
    return buffer
  }

  ascii (length: number): string {
    let text = ''
    for (let i = 0; i < length; i++) text += String.fromCharCode(32 + this.int(95))
    return text
  }
}

/** A frame the server must answer with exactly one frame and keep the connection. */
export interface AnsweredFrame {
  kind: string
  data: string | Buffer
  binary: boolean
}

/** Bytes that must make the server close the connection with `code`. */
export interface FatalFrame {
  kind: string
  bytes: Buffer
  code: number
}

const WRONG_VALUES: readonly unknown[] = [null, true, false, 0, -1, 1.5, 1e308, '', 'x', [], [1, 'a'], {}, { a: 1 }, '\u0000', 'é']
const EVIL_KEYS = ['__proto__', 'constructor', 'prototype']
const EVIL_TYPES = ['error', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', 'welcome', 'message', 'ack', 'broadcast', 'PING', ' ping', 'ping\u0000', '']
const BAD_CHANNELS = [
  'é', 'caf\u00e9', '🙂', 'ｎｅｗｓ', 'a\u0000b', '\u202enews', 'news\u200b', 'a b', '\ud800', '\udfff\ud800', 'x'.repeat(201),
  'news*', 'n?ws', '[abc]', 'a]', '*', '?', 'a\\b', 'a\nb', '<script>', '!broadcast', '', 'Ω', '\u{10ffff}'
]
/** Channel names that look dangerous as object keys; valid here, and must stay harmless. */
const KEY_LIKE_CHANNELS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', '__defineGetter__']

/** Each schema field of each built-in type, with a valid value to start from. */
const VALID_FRAMES: ReadonlyArray<Record<string, unknown>> = [
  { type: 'ping', ts: 1 },
  { type: 'subscribe', channel: 'fz.a', id: 'i' },
  { type: 'unsubscribe', channel: 'fz.a', id: 'i' },
  { type: 'publish', channel: 'fz.a', data: { x: 1 }, id: 'i' },
  { type: 'chat', content: 'hello', id: 'i' },
  { type: 'refresh', token: 'header.payload.signature', id: 'i' },
  { type: 'subscribe', channel: 'private:fz', token: 'payload.signature', id: 'i' }
]

/** Valid frames with an id (or a ping): each is answered by exactly one frame too. */
function answeredValid (random: Random): Record<string, unknown> {
  const frame: Record<string, unknown> = { ...random.pick(VALID_FRAMES), id: `v${random.int(1e9)}` }
  if (frame.type === 'ping') delete frame.id
  if (frame.type === 'subscribe' || frame.type === 'unsubscribe' || frame.type === 'publish') frame.channel = random.pick(KEY_LIKE_CHANNELS)
  return frame
}

/** Nesting that fits in `budget` bytes, as deep as it may go. */
function deepNesting (random: Random, budget: number): string {
  const open = random.pick(['[', '{"a":'])
  const close = open === '[' ? ']' : '}'
  const leaf = open === '[' ? '' : '1'
  const depth = 100 + random.int(Math.floor(budget / (open.length + 1)) - 100)
  return open.repeat(depth) + leaf + close.repeat(depth)
}

export function answeredFrame (random: Random): AnsweredFrame {
  const text = (kind: string, data: string): AnsweredFrame => ({ kind, data, binary: false })
  const roll = random.int(100)
  if (roll < 8) return { kind: 'random bytes (binary)', data: random.bytes(1 + random.int(256)), binary: true }
  if (roll < 16) return text('random printable text', random.ascii(1 + random.int(120)))
  if (roll < 26) {
    const full = JSON.stringify(random.pick(VALID_FRAMES))
    return text('truncated JSON', full.slice(0, 1 + random.int(full.length - 1)))
  }
  if (roll < 27) {
    // Deep nesting as the whole frame (not an object) or inside `data`: JSON.stringify
    // of the latter overflows the stack when published, and must answer, not crash.
    return random.int(2) === 0
      ? text('deeply nested JSON', deepNesting(random, 24_000))
      : text('deeply nested data', `{"type":"publish","channel":"fz.deep","id":"deep","data":${deepNesting(random, 24_000)}}`)
  }
  if (roll < 34) {
    const big = random.pick([
      '{"type":"ping","ts":1e999}', '{"type":"ping","ts":-1e999}', `{"type":"ping","ts":${'9'.repeat(400)}}`,
      `{"type":"subscribe","channel":"${'a'.repeat(201 + random.int(random.int(2) === 0 ? 1000 : 60_000))}"}`,
      `{"type":"chat","content":"${'b'.repeat(4001 + random.int(random.int(2) === 0 ? 1000 : 50_000))}"}`,
      `{"type":"publish","channel":"fz.a","id":"${'c'.repeat(65 + random.int(10_000))}","data":1}`,
      `{"type":"${'t'.repeat(1 + random.int(random.int(2) === 0 ? 100 : 30_000))}"}`
    ])
    return text('huge numbers and strings', big)
  }
  if (roll < 56) {
    // Every field of every type, one at a time, with a value of the wrong type or missing.
    const frame: Record<string, unknown> = { ...random.pick(VALID_FRAMES) }
    const original = String(frame.type)
    const fields = Object.keys(frame).filter((field) => field !== 'data')
    const field = random.pick(fields)
    let value = random.pick(WRONG_VALUES)
    if (field === 'id' && typeof value === 'string' && value.length > 0 && value.length <= 64) value = 7
    if (field === 'content' && typeof value === 'string' && value.length > 0) value = ''
    if (field === 'ts' && typeof value === 'number' && Number.isFinite(value)) value = 'soon'
    // Without its id a valid publish or chat gets no answer: the id is never left out.
    if (random.int(5) === 0 && field !== 'type' && field !== 'id') delete frame[field]
    else frame[field] = value
    return text(`wrong type for ${original}.${field}`, JSON.stringify(frame))
  }
  if (roll < 68) {
    const key = random.pick(EVIL_KEYS)
    const payload = random.pick([
      `{"type":"publish","channel":"fz.a","id":"k","data":{"${key}":{"polluted":1}}}`,
      `{"${key}":{"polluted":1},"type":"ping"}`.replace('"prototype"', '"__proto__"'),
      '{"type":"subscribe","channel":"fz.a","constructor":{"prototype":{"polluted":1}}}',
      '{"type":"chat","content":"x","__proto__":{"isAdmin":true}}',
      '[{"__proto__":{"polluted":1}}]'
    ])
    return text(`${key} keys`, payload)
  }
  if (roll < 76) return text('evil type', JSON.stringify({ type: random.pick(EVIL_TYPES), id: 'e' }))
  if (roll < 86) {
    const channel = random.pick(BAD_CHANNELS)
    return text('unicode and glob channel names', JSON.stringify({ type: random.pick(['subscribe', 'unsubscribe', 'publish']), channel, data: 1 }))
  }
  if (roll < 90) return text('JSON that is not an object', random.pick(['null', '[]', '"ping"', '123', 'true', '""', '{}', ' ', '']))
  return text('valid frames with ids and key-like channels', JSON.stringify(answeredValid(random)))
}

/** A masked client frame, built by hand so any header bit can be wrong. */
export function encodeFrame (random: Random, options: { opcode: number, payload: Buffer, fin?: boolean, rsv?: number, mask?: boolean, length?: bigint }): Buffer {
  const { opcode, payload, fin = true, rsv = 0, mask = true } = options
  const length = options.length ?? BigInt(payload.length)
  let header: Buffer
  if (length < 126n) {
    header = Buffer.alloc(2)
    header[1] = Number(length)
  } else if (length < 65536n) {
    header = Buffer.alloc(4)
    header[1] = 126
    header.writeUInt16BE(Number(length), 2)
  } else {
    header = Buffer.alloc(10)
    header[1] = 127
    header.writeBigUInt64BE(length, 2)
  }
  header[0] = (fin ? 0x80 : 0) | (rsv << 4) | opcode
  if (!mask) return Buffer.concat([header, payload])
  header[1]! |= 0x80
  const key = random.bytes(4)
  const masked = Buffer.from(payload)
  for (let i = 0; i < masked.length; i++) masked[i]! ^= key[i % 4]!
  return Buffer.concat([header, key, masked])
}

const INVALID_UTF8 = [
  [0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xc3], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]
]

export function fatalFrame (random: Random, maxPayload: number): FatalFrame {
  const roll = random.int(10)
  const json = Buffer.from('{"type":"ping"}')
  if (roll < 3) {
    const bad = Buffer.concat([Buffer.from('{"type":"ping","ts":"'), Buffer.from(random.pick(INVALID_UTF8)), Buffer.from('"}')])
    if (random.int(2) === 0) return { kind: 'invalid UTF-8 text', bytes: encodeFrame(random, { opcode: 1, payload: bad }), code: 1007 }
    // Split over two fragments, the bad sequence in the second.
    const cut = 5
    return {
      kind: 'invalid UTF-8 across fragments',
      bytes: Buffer.concat([encodeFrame(random, { opcode: 1, payload: bad.subarray(0, cut), fin: false }), encodeFrame(random, { opcode: 0, payload: bad.subarray(cut) })]),
      code: 1007
    }
  }
  if (roll < 5) return { kind: 'reserved bits', bytes: encodeFrame(random, { opcode: 1, payload: json, rsv: 1 + random.int(7) }), code: 1002 }
  if (roll < 7) return { kind: 'unknown opcode', bytes: encodeFrame(random, { opcode: random.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), payload: json }), code: 1002 }
  const other = random.pick<FatalFrame>([
    { kind: 'continuation without a start', bytes: encodeFrame(random, { opcode: 0, payload: json }), code: 1002 },
    { kind: 'fragmented ping', bytes: encodeFrame(random, { opcode: 9, payload: Buffer.from('p'), fin: false }), code: 1002 },
    { kind: 'control frame over 125 bytes', bytes: encodeFrame(random, { opcode: 9, payload: Buffer.alloc(126) }), code: 1002 },
    { kind: 'unmasked frame', bytes: encodeFrame(random, { opcode: 1, payload: json, mask: false }), code: 1002 },
    { kind: 'close with an invalid code', bytes: encodeFrame(random, { opcode: 8, payload: Buffer.from([0x03, 0xe7]) }), code: 1002 },
    { kind: 'close with a one-byte body', bytes: encodeFrame(random, { opcode: 8, payload: Buffer.from([0x03]) }), code: 1002 },
    { kind: 'length over maxPayload', bytes: encodeFrame(random, { opcode: 1, payload: Buffer.alloc(0), length: BigInt(maxPayload + 1) }), code: 1009 },
    { kind: 'length over 2^53', bytes: encodeFrame(random, { opcode: 2, payload: Buffer.alloc(0), length: 2n ** 63n }), code: 1009 }
  ])
  return other
}

/** Types of the frames that answer a request; deliveries (message, chat, broadcast) are not answers. */
const ANSWERS = new Set(['error', 'pong', 'ack', 'subscribed', 'unsubscribed'])

export interface SessionResult {
  sent: number
  answered: number
  kinds: Map<string, number>
  fatal?: { kind: string, expected: number, got: number }
}

/**
 * One connection's life: `count` answered frames, each answered once, then (when
 * `endFatally`) one fatal frame and the close code it must cause.
 */
export async function fuzzSession (url: string, random: Random, count: number, endFatally: boolean, maxPayload: number): Promise<SessionResult> {
  const socket = new WebSocket(url)
  const result: SessionResult = { sent: 0, answered: 0, kinds: new Map() }
  let allAnswered: () => void = () => {}
  const answered = new Promise<void>((resolve) => { allAnswered = resolve })
  let welcomed = false
  socket.on('message', (data, isBinary) => {
    if (isBinary) throw new Error('the server sent a binary frame')
    const frame = JSON.parse(data.toString()) as { type: string }
    if (frame.type === 'welcome') welcomed = true
    if (!ANSWERS.has(frame.type)) return
    result.answered++
    if (result.answered === count) allAnswered()
  })
  const closed = once(socket, 'close') as Promise<[number, Buffer]>
  socket.on('error', () => {})
  await once(socket, 'open')
  for (let i = 0; i < count; i++) {
    const frame = answeredFrame(random)
    result.kinds.set(frame.kind, (result.kinds.get(frame.kind) ?? 0) + 1)
    socket.send(frame.data, { binary: frame.binary })
    result.sent++
    // Let the socket drain now and then, like a real client, instead of queueing megabytes.
    if (socket.bufferedAmount > 256 * 1024) await new Promise((resolve) => setImmediate(resolve))
  }
  await Promise.race([answered, closed.then(([code]) => { throw new Error(`closed with ${code} after ${result.answered}/${count} answers`) })])
  if (!welcomed) throw new Error('no welcome frame')
  if (endFatally) {
    const fatal = fatalFrame(random, maxPayload)
    ;(socket as WebSocket & { _socket: Socket })._socket.write(fatal.bytes)
    const [code] = await closed
    result.fatal = { kind: fatal.kind, expected: fatal.code, got: code }
    result.kinds.set(fatal.kind, (result.kinds.get(fatal.kind) ?? 0) + 1)
  } else {
    socket.close(1000)
    await closed
  }
  return result
}
