// History for the embedded broker: a bounded ring of frames per channel. Messages are dropped
// after `ttl` without a publish; the position (epoch, top offset) outlives them by
// `positionTtl`, so a quiet channel continues its offsets. Epochs start with a random
// per-process part: a restart is a new epoch for every channel.
import { randomBytes } from 'node:crypto'
import type { HistoryEntry, HistoryLimits, HistoryPage, HistoryQuery, HistoryStore } from './broker.js'
import { historyFrameTail } from './history-frame.js'

/** What the history needs of its broker. */
export interface HistoryHost {
  /** Throws `broker_unavailable` when the broker cannot deliver. */
  assertReady: () => void
  /** Fans a frame out exactly like a plain publish. */
  deliver: (channel: string, frame: string) => void
}

interface ChannelStream {
  epoch: string
  offset: number
  /** Ring of the last `size` frames; `frames[offset % size]` holds the frame of `offset`. */
  frames: string[]
  size: number
  /** Oldest offset still kept. */
  earliest: number
  lastPublish: number
  ttl: number
  positionTtl: number
}

/** How often forgotten channels are swept out; lookups check expiry themselves. */
const SWEEP_INTERVAL = 60_000

export class MemoryHistory implements HistoryStore {
  readonly #streams = new Map<string, ChannelStream>()
  readonly #broker: HistoryHost
  readonly #processEpoch = randomBytes(4).toString('hex')
  #epochs = 0
  #sweeper: NodeJS.Timeout | undefined

  constructor (broker: HistoryHost) {
    this.#broker = broker
  }

  /** Channels with a kept position (for tests and stats). */
  get channelCount (): number {
    return this.#streams.size
  }

  async publish (channel: string, frameHead: string, limits: HistoryLimits): Promise<void> {
    // Checked first: an offset is never spent on a message that is not delivered.
    this.#broker.assertReady()
    const stream = this.#stream(channel, limits, Date.now())
    const offset = ++stream.offset
    const frame = frameHead + historyFrameTail(offset, stream.epoch)
    stream.frames[offset % stream.size] = frame
    stream.earliest = Math.max(stream.earliest, offset - stream.size + 1)
    stream.lastPublish = Date.now()
    this.#broker.deliver(channel, frame)
  }

  async read (channel: string, query: HistoryQuery, limits: HistoryLimits): Promise<HistoryPage> {
    this.#broker.assertReady()
    const stream = this.#stream(channel, limits, Date.now())
    const { offset, earliest, epoch } = stream
    const first = Math.max(earliest, (query.since ?? 0) + 1)
    const entries: HistoryEntry[] = []
    const count = Math.min(query.limit, Math.max(0, offset - first + 1))
    for (let i = 0; i < count; i++) {
      const at = query.reverse === true ? offset - i : first + i
      entries.push({ offset: at, frame: stream.frames[at % stream.size]! })
    }
    return { offset, epoch, earliest, entries }
  }

  close (): void {
    clearInterval(this.#sweeper)
    this.#sweeper = undefined
    this.#streams.clear()
  }

  /** The channel's stream with expiry applied: messages past `ttl`, the position past `positionTtl`. */
  #stream (channel: string, limits: HistoryLimits, now: number): ChannelStream {
    let stream = this.#streams.get(channel)
    if (stream !== undefined && now - stream.lastPublish > stream.ttl + stream.positionTtl) {
      this.#streams.delete(channel)
      stream = undefined
    }
    if (stream === undefined) {
      stream = {
        epoch: this.#processEpoch + (++this.#epochs).toString(36),
        offset: 0,
        frames: [],
        size: limits.size,
        earliest: 1,
        lastPublish: now,
        ttl: limits.ttl,
        positionTtl: limits.positionTtl
      }
      this.#streams.set(channel, stream)
      this.#sweeper ??= setInterval(this.#sweep, SWEEP_INTERVAL).unref()
    } else if (now - stream.lastPublish > stream.ttl && stream.earliest <= stream.offset) {
      dropMessages(stream)
    }
    return stream
  }

  readonly #sweep = (): void => {
    const now = Date.now()
    for (const [channel, stream] of this.#streams) {
      const quiet = now - stream.lastPublish
      if (quiet > stream.ttl + stream.positionTtl) this.#streams.delete(channel)
      else if (quiet > stream.ttl) dropMessages(stream)
    }
  }
}

function dropMessages (stream: ChannelStream): void {
  stream.frames = []
  stream.earliest = stream.offset + 1
}
