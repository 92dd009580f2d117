// The chat page's DOM: renders channels, messages, connection state and stats. Knows nothing
// of WebSockets; main.ts feeds it. User text only ever goes through textContent.

import type { ConnectionState } from '../../lib/client/index.js'

export interface ShownMessage {
  /** null for broadcasts and system lines, which every channel view shows. */
  channel: string | null
  kind: 'message' | 'broadcast' | 'system'
  from?: string
  text: string
  ts: number
  /** A line typed on this page: its id, carried in the published data to match the echo. */
  cid?: string
  /** A line typed here that the server has not acknowledged yet, or could not take. */
  status?: 'sending' | 'failed' | undefined
  /** Why a `failed` line was not sent. */
  error?: string
}

export interface ChannelActions {
  view: (channel: string) => void
  join: (channel: string) => void
  leave: (channel: string) => void
  remove: (channel: string) => void
}

export interface ChannelStates {
  joined: ReadonlySet<string>
  /** Joined and confirmed by the server on the current connection. */
  confirmed: ReadonlySet<string>
  /** Refused by the server, with its reason. */
  refused: ReadonlyMap<string, string>
}

export interface MessageActions {
  retry: (message: ShownMessage) => void
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** `node-1` stays as it is; a random UUID id is cut to its first 8 characters. */
export function shortNodeName (nodeId: string): string {
  if (UUID.test(nodeId)) return nodeId.slice(0, 8)
  return nodeId.length > 24 ? `${nodeId.slice(0, 23)}…` : nodeId
}

function byId<T extends HTMLElement> (id: string): T {
  const element = document.getElementById(id)
  if (element === null) throw new Error(`#${id} is missing from the page`)
  return element as T
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' })

export class ChatView {
  readonly #status = byId('status')
  readonly #statusText = byId('status-text')
  readonly #latency = byId('latency')
  readonly #nodeId = byId('node-id')
  readonly #channels = byId<HTMLUListElement>('channels')
  readonly #messages = byId<HTMLOListElement>('messages')
  readonly #roomTitle = byId('room-title')
  readonly #roomNote = byId('room-note')
  readonly #statsNode = byId('stats-node')
  readonly #text = byId<HTMLInputElement>('text')
  readonly #send = byId<HTMLButtonElement>('send')
  readonly #reconnectNow = byId<HTMLButtonElement>('reconnect-now')
  readonly #startAgain = byId<HTMLButtonElement>('start-again')
  #onStartAgain: (() => void) | undefined
  #countdown: ReturnType<typeof setInterval> | undefined

  /** The "reconnect now" button shown while waiting for the next attempt. */
  onReconnectNow (action: () => void): void {
    this.#reconnectNow.addEventListener('click', action)
  }

  /** Shows "start again" after a final close; hidden again once used. */
  offerStartAgain (action: () => void): void {
    this.#onStartAgain = action
    this.#startAgain.hidden = false
  }

  constructor () {
    this.#startAgain.addEventListener('click', () => {
      this.#startAgain.hidden = true
      this.#onStartAgain?.()
    })
  }

  setState (state: ConnectionState, reconnectAt?: number): void {
    clearInterval(this.#countdown)
    this.#status.dataset.state = state
    this.#reconnectNow.hidden = state !== 'reconnecting'
    if (state === 'reconnecting' && reconnectAt !== undefined) {
      const tick = (): void => {
        const seconds = Math.max(0, Math.ceil((reconnectAt - Date.now()) / 1000))
        this.#statusText.textContent = seconds > 0 ? `reconnecting in ${seconds} s` : 'reconnecting…'
      }
      tick()
      this.#countdown = setInterval(tick, 250)
      return
    }
    this.#statusText.textContent = { connecting: 'connecting…', open: 'connected', reconnecting: 'reconnecting…', disconnected: 'disconnected', closed: 'disconnected' }[state]
  }

  setLatency (ms: number | undefined): void {
    this.#latency.textContent = ms === undefined ? '–' : `${Math.round(ms)} ms`
  }

  setNode (nodeId: string | undefined): void {
    this.#nodeId.textContent = nodeId === undefined ? '–' : shortNodeName(nodeId)
    this.#nodeId.title = nodeId ?? ''
  }

  setStats (stats: Record<string, unknown>): void {
    for (const cell of Array.from(document.querySelectorAll<HTMLElement>('[data-stat]'))) {
      const value = stats[cell.dataset.stat ?? '']
      cell.textContent = value === undefined ? '–' : String(value)
    }
    this.#statsNode.textContent = typeof stats.nodeId === 'string' ? `(node ${shortNodeName(stats.nodeId)})` : ''
  }

  renderChannels (channels: Iterable<string>, states: ChannelStates, active: string, unread: ReadonlyMap<string, number>, actions: ChannelActions): void {
    const { joined, confirmed, refused } = states
    const items: HTMLLIElement[] = []
    for (const channel of channels) {
      const item = document.createElement('li')
      item.dataset.channel = channel
      item.classList.toggle('joined', joined.has(channel))
      // Joined but not yet confirmed by the server (right after joining, or during a reconnect).
      item.classList.toggle('pending', joined.has(channel) && !confirmed.has(channel))
      item.dataset.subscribed = String(confirmed.has(channel))
      item.classList.toggle('active', channel === active)
      item.classList.toggle('refused', refused.has(channel))
      item.title = refused.has(channel) ? `refused: ${refused.get(channel) ?? ''}` : ''

      const name = document.createElement('button')
      name.className = 'name'
      name.type = 'button'
      name.textContent = `#${channel}`
      name.addEventListener('click', () => actions.view(channel))
      item.append(name)

      const count = unread.get(channel) ?? 0
      if (count > 0) {
        const badge = document.createElement('span')
        badge.className = 'unread'
        badge.textContent = String(count)
        item.append(badge)
      }

      const toggle = document.createElement('button')
      toggle.className = 'secondary toggle'
      toggle.type = 'button'
      toggle.textContent = joined.has(channel) ? 'leave' : 'join'
      toggle.addEventListener('click', () => joined.has(channel) ? actions.leave(channel) : actions.join(channel))
      item.append(toggle)
      if (!joined.has(channel)) {
        const remove = document.createElement('button')
        remove.className = 'secondary remove'
        remove.type = 'button'
        remove.textContent = '×'
        remove.title = `remove #${channel} from the list`
        remove.setAttribute('aria-label', `remove #${channel}`)
        remove.addEventListener('click', () => actions.remove(channel))
        item.append(remove)
      }
      items.push(item)
    }
    this.#channels.replaceChildren(...items)

    this.#roomTitle.textContent = `#${active}`
    const canSend = joined.has(active)
    const refusal = refused.get(active)
    this.#roomNote.textContent = canSend ? '' : refusal !== undefined ? `the server refused this channel: ${refusal}` : 'join this channel to read and write in it'
    this.#text.placeholder = canSend ? `Message #${active}` : `Join #${active} first`
    this.#text.disabled = !canSend
    this.#send.disabled = !canSend
  }

  renderMessages (messages: readonly ShownMessage[], actions: MessageActions): void {
    this.#messages.replaceChildren(...messages.map((message) => messageItem(message, actions)))
    this.#messages.scrollTop = this.#messages.scrollHeight
  }
}

function messageItem (message: ShownMessage, actions: MessageActions): HTMLLIElement {
  const item = document.createElement('li')
  item.className = message.kind
  if (message.status !== undefined) item.dataset.status = message.status
  const time = document.createElement('time')
  time.className = 'time'
  time.dateTime = new Date(message.ts).toISOString()
  time.textContent = timeFormat.format(message.ts)
  const body = document.createElement('span')
  body.className = 'body'
  if (message.from !== undefined) {
    const from = document.createElement('span')
    from.className = 'from'
    from.textContent = message.from
    body.append(from)
  }
  const text = document.createElement('span')
  text.className = 'text'
  text.textContent = message.text
  body.append(text)
  if (message.status === 'sending') {
    const note = document.createElement('span')
    note.className = 'delivery'
    note.textContent = 'sending…'
    body.append(note)
  } else if (message.status === 'failed') {
    const note = document.createElement('span')
    note.className = 'delivery'
    note.textContent = `not sent${message.error === undefined ? '' : `: ${message.error}`}`
    const retry = document.createElement('button')
    retry.className = 'secondary retry'
    retry.type = 'button'
    retry.textContent = 'retry'
    retry.addEventListener('click', () => actions.retry(message))
    body.append(note, retry)
  }
  item.append(time, body)
  return item
}
