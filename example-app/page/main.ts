// The chat page: connects with the fastify-realtime client, joins channels, shows messages,
// the connection state, latency, node id and the node's stats. esbuild bundles this file
// (build-page.ts) into public/build/chat.js.
import { ErrorCode, RealtimeClient, RealtimeError } from '../../lib/client/index.js'
import { ChatView, type ShownMessage } from './chat-view.js'
import type { contract } from '../contract.js'

interface ChatData { text?: unknown, from?: unknown }

const DEFAULT_CHANNELS = ['general', 'random', 'ops']
const STATS_EVERY_MS = 2000
// The client's heartbeat ping doubles as the latency probe; every 5 s keeps the number fresh.
const PING_EVERY_MS = 5000

// nginx can hash on this cookie instead of the client address (`hash $cookie_rt_affinity
// consistent`, see nginx.conf): the same browser then lands on the same node after a reconnect.
if (!document.cookie.split('; ').some((pair) => pair.startsWith('rt_affinity='))) {
  document.cookie = `rt_affinity=${crypto.randomUUID()}; path=/; max-age=31536000; samesite=lax`
}

const view = new ChatView()
const nameInput = document.getElementById('name') as HTMLInputElement
const textInput = document.getElementById('text') as HTMLInputElement
nameInput.value = localStorage.getItem('chat-name') ?? `guest-${Math.floor(Math.random() * 9000 + 1000)}`
nameInput.addEventListener('change', () => localStorage.setItem('chat-name', nameInput.value))

const channels = new Set(DEFAULT_CHANNELS)
const joined = new Map<string, () => void>()
/** Joined channels the current connection's node has confirmed; refilled after a reconnect. */
const confirmed = new Set<string>()
const unread = new Map<string, number>()
const messages: ShownMessage[] = []
let active = 'general'

const wsUrl = new URL('/ws', location.href)
wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
// Typed by the contract: subscribe handlers get `{ text, from? }`, publish checks its data.
const client = new RealtimeClient<typeof contract>(wsUrl.href, { pingInterval: PING_EVERY_MS })

function show (message: ShownMessage): void {
  messages.push(message)
  if (messages.length > 500) messages.shift()
  if (message.channel !== null && message.channel !== active) {
    unread.set(message.channel, (unread.get(message.channel) ?? 0) + 1)
    renderChannels()
    return
  }
  renderMessages()
}

function system (text: string): void {
  show({ channel: null, kind: 'system', text, ts: Date.now() })
}

function renderMessages (): void {
  view.renderMessages(messages.filter((message) => message.channel === null || message.channel === active))
}

function renderChannels (): void {
  view.renderChannels(channels, new Set(joined.keys()), confirmed, active, unread, { view: viewChannel, join, leave })
}

function viewChannel (channel: string): void {
  active = channel
  unread.delete(channel)
  renderChannels()
  renderMessages()
}

function join (channel: string): void {
  if (joined.has(channel)) return
  channels.add(channel)
  // The client re-subscribes by itself after a reconnect, on whichever node it lands.
  // The server validated every message against the contract's ChatText before fanning it out.
  const subscription = client.subscribe(channel, (data, frame) => {
    show({ channel, kind: 'message', from: data.from ?? 'anonymous', text: data.text, ts: frame.ts })
  })
  joined.set(channel, subscription)
  // The server said no for good (forbidden, bad name, too many, no answer); the client has let the channel go.
  subscription.ready.catch((err: Error) => {
    if (joined.get(channel) !== subscription) return
    joined.delete(channel)
    confirmed.delete(channel)
    system(`could not join #${channel}: ${err.message}`)
    renderChannels()
  })
  system(`joined #${channel}`)
  viewChannel(channel)
}

function leave (channel: string): void {
  joined.get(channel)?.()
  joined.delete(channel)
  confirmed.delete(channel)
  system(`left #${channel}`)
  renderChannels()
}

client.on('welcome', (welcome) => {
  view.setNode(welcome.nodeId)
  system(`connected to node ${welcome.nodeId}`)
  client.ping().catch(() => {})
  refreshStats()
})
client.on('state', (state) => {
  // 'reconnecting' is shown with its countdown by the listener below.
  if (state !== 'reconnecting') view.setState(state)
})
client.on('reconnecting', ({ delay }) => view.setState('reconnecting', Date.now() + delay))
client.on('latency', (ms) => view.setLatency(ms))
client.on('subscribed', ({ channel }) => {
  brokerAwayShown = false
  if (!joined.has(channel)) return
  confirmed.add(channel)
  renderChannels()
})
// Refused joins are told by join() through `ready`; the error event reports them too.
const JOIN_REFUSALS: ReadonlySet<string> = new Set([ErrorCode.FORBIDDEN, ErrorCode.INVALID_CHANNEL, ErrorCode.TOO_MANY_SUBSCRIPTIONS, ErrorCode.REQUEST_TIMEOUT])
let brokerAwayShown = false
client.on('error', (err) => {
  const code = err instanceof RealtimeError ? err.code : undefined
  if (code !== undefined && JOIN_REFUSALS.has(code)) return
  if (code === ErrorCode.BROKER_UNAVAILABLE) {
    // The client asks again until the server's broker is back, and is refused each time: say it once.
    if (!brokerAwayShown) system('the server cannot reach its message broker; channels join once it is back')
    brokerAwayShown = true
    return
  }
  system(`error: ${err.message}`)
})
client.on('close', ({ code, reason }) => {
  view.setNode(undefined)
  view.setLatency(undefined)
  view.setStats({})
  confirmed.clear()
  renderChannels()
  system(`disconnected (${code}${reason === '' ? '' : ` ${reason}`})`)
})
client.on('broadcast', (frame) => {
  const { text, from } = (frame.data ?? {}) as ChatData
  show({ channel: null, kind: 'broadcast', from: typeof from === 'string' ? from : 'server', text: typeof text === 'string' ? text : JSON.stringify(frame.data), ts: frame.ts })
})

document.getElementById('composer')!.addEventListener('submit', (event) => {
  event.preventDefault()
  const text = textInput.value.trim()
  if (text === '' || !joined.has(active)) return
  textInput.value = ''
  client.publish(active, { from: nameInput.value.trim() || 'anonymous', text }).catch((err: Error) => system(`not sent: ${err.message}`))
})

document.getElementById('add-channel')!.addEventListener('submit', (event) => {
  event.preventDefault()
  const input = document.getElementById('new-channel') as HTMLInputElement
  const channel = input.value.trim().replace(/^#/, '')
  if (channel === '') return
  input.value = ''
  join(channel)
})

function refreshStats (): void {
  fetch('/api/stats').then(async (response) => {
    view.setStats(response.ok ? await response.json() as Record<string, unknown> : {})
  }).catch(() => {
    // The server is away (the connection indicator says so): show no numbers rather than stale ones.
    view.setStats({})
  })
}
setInterval(refreshStats, STATS_EVERY_MS)

view.setState('connecting')
join('general')
