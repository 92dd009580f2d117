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
}

export interface ChannelActions {
  view: (channel: string) => void
  join: (channel: string) => void
  leave: (channel: string) => void
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
  #countdown: ReturnType<typeof setInterval> | undefined

  setState (state: ConnectionState, reconnectAt?: number): void {
    clearInterval(this.#countdown)
    this.#status.dataset.state = state
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
    this.#nodeId.textContent = nodeId ?? '–'
  }

  setStats (stats: Record<string, unknown>): void {
    for (const cell of Array.from(document.querySelectorAll<HTMLElement>('[data-stat]'))) {
      const value = stats[cell.dataset.stat ?? '']
      cell.textContent = value === undefined ? '–' : String(value)
    }
    this.#statsNode.textContent = typeof stats.nodeId === 'string' ? `(node ${stats.nodeId})` : ''
  }

  renderChannels (channels: Iterable<string>, joined: ReadonlySet<string>, confirmed: ReadonlySet<string>, active: string, unread: ReadonlyMap<string, number>, actions: ChannelActions): void {
    const items: HTMLLIElement[] = []
    for (const channel of channels) {
      const item = document.createElement('li')
      item.dataset.channel = channel
      item.classList.toggle('joined', joined.has(channel))
      // Joined but not yet confirmed by the server (right after joining, or during a reconnect).
      item.classList.toggle('pending', joined.has(channel) && !confirmed.has(channel))
      item.dataset.subscribed = String(confirmed.has(channel))
      item.classList.toggle('active', channel === active)

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
      items.push(item)
    }
    this.#channels.replaceChildren(...items)

    this.#roomTitle.textContent = `#${active}`
    const canSend = joined.has(active)
    this.#roomNote.textContent = canSend ? '' : 'join this channel to read and write in it'
    this.#text.placeholder = canSend ? `Message #${active}` : `Join #${active} first`
    this.#text.disabled = !canSend
    this.#send.disabled = !canSend
  }

  renderMessages (messages: readonly ShownMessage[]): void {
    this.#messages.replaceChildren(...messages.map(messageItem))
    this.#messages.scrollTop = this.#messages.scrollHeight
  }
}

function messageItem (message: ShownMessage): HTMLLIElement {
  const item = document.createElement('li')
  item.className = message.kind
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
  item.append(time, body)
  return item
}
