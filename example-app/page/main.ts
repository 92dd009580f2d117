// The chat page: connects with the fastify-realtime client, joins channels, shows messages,
// the connection state, latency, node id and the node's stats. esbuild bundles this file
// (build-page.ts) into public/build/chat.js.
import { ErrorCode, RealtimeClient, RealtimeError } from '../../lib/client/index.js'
import { ChatView, shortNodeName, type ShownMessage } from './chat-view.js'
import type { contract } from '../contract.js'

const DEFAULT_CHANNELS = ['general', 'random', 'ops']
const STATS_EVERY_MS = 2000
// The client's heartbeat ping doubles as the latency probe; every 5 s keeps the number fresh.
const PING_EVERY_MS = 5000

/** What a chat line carries: `cid` is the sending page's id of the line, to match its echo. */
interface ChatData { text?: unknown, from?: unknown, cid?: unknown }

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
/** Channels the server refused, with its reason; the user may remove them. */
const refused = new Map<string, string>()
const unread = new Map<string, number>()
const messages: ShownMessage[] = []
/** Lines this page sent that the server has not echoed yet, by their `cid`. */
const ownLines = new Map<string, ShownMessage>()
let active = 'general'
/** When the current outage began; undefined while connected. */
let outageSince: number | undefined

const wsUrl = new URL('/ws', location.href)
wsUrl.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:'
type ChatClient = RealtimeClient<typeof contract>
// Typed by the contract (a type-only import): subscribe handlers get `{ text, from?, cid? }`, publish checks its data.

// Refused joins are told by join() through `ready`; the error event reports them too.
const JOIN_REFUSALS: ReadonlySet<string> = new Set([ErrorCode.FORBIDDEN, ErrorCode.INVALID_CHANNEL, ErrorCode.TOO_MANY_SUBSCRIPTIONS, ErrorCode.REQUEST_TIMEOUT])
let brokerAwayShown = false

/** A client with the page's listeners; the channels are joined by join(). */
function startClient (): ChatClient {
  const created: ChatClient = new RealtimeClient<typeof contract>(wsUrl.href, { pingInterval: PING_EVERY_MS })
  created.on('welcome', (welcome) => {
    view.setNode(welcome.nodeId)
    if (outageSince === undefined) {
      system(`connected to node ${shortNodeName(welcome.nodeId)}`)
    } else {
      system(`reconnected after ${Math.max(1, Math.round((Date.now() - outageSince) / 1000))} s, to node ${shortNodeName(welcome.nodeId)}`)
      outageSince = undefined
    }
    created.ping().catch(() => {})
    refreshStats()
  })
  created.on('state', (state) => {
    // 'reconnecting' is shown with its countdown by the listener below.
    if (state !== 'reconnecting') view.setState(state)
  })
  created.on('reconnecting', ({ delay }) => view.setState('reconnecting', Date.now() + delay))
  created.on('latency', (ms) => view.setLatency(ms))
  created.on('subscribed', ({ channel }) => {
    brokerAwayShown = false
    if (!joined.has(channel)) return
    confirmed.add(channel)
    renderChannels()
  })
  created.on('error', (err) => {
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
  created.on('close', ({ code, reason, willReconnect }) => {
    view.setNode(undefined)
    view.setLatency(undefined)
    view.setStats({})
    confirmed.clear()
    renderChannels()
    const why = `${code}${reason === '' ? '' : ` ${reason}`}`
    if (!willReconnect) {
      // Final (1008: the session ended, sustained abuse): the client does not retry. The page can start over.
      system(`disconnected for good (${why}): the server will not take this connection back`)
      view.offerStartAgain(startAgain)
      return
    }
    // One line per outage, however many attempts it takes.
    if (outageSince !== undefined) return
    outageSince = Date.now()
    system(`disconnected (${why}), reconnecting…`)
  })
  created.on('broadcast', (frame) => {
    const { text, from } = (frame.data ?? {}) as ChatData
    show({ channel: null, kind: 'broadcast', from: typeof from === 'string' ? from : 'server', text: typeof text === 'string' ? text : JSON.stringify(frame.data), ts: frame.ts })
  })
  return created
}

/** After a final close: a new client, the same channels, no reload. */
function startAgain (): void {
  outageSince = undefined
  client = startClient()
  const wanted = [...joined.keys()]
  joined.clear()
  confirmed.clear()
  const shown = active
  for (const channel of wanted) join(channel)
  viewChannel(shown)
  system('starting again')
}

// Replaced by a fresh one after a final close (1008) when the user starts again: see startAgain().
let client: ChatClient = startClient()
view.onReconnectNow(() => client.reconnect())

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
  view.renderMessages(messages.filter((message) => message.channel === null || message.channel === active), { retry: sendLine })
}

function renderChannels (): void {
  view.renderChannels(channels, { joined: new Set(joined.keys()), confirmed, refused }, active, unread, { view: viewChannel, join, leave, remove })
}

function viewChannel (channel: string): void {
  active = channel
  unread.delete(channel)
  renderChannels()
  renderMessages()
}

/** Where each history channel was last seen: a rejoin (start again) resumes there. */
const positions = new Map<string, { offset: number, epoch: string }>()

function join (channel: string): void {
  if (joined.has(channel)) return
  channels.add(channel)
  refused.delete(channel)
  // Held while the room's history loads; leave() during the load drops it.
  const loading = (): void => {}
  joined.set(channel, loading)
  viewChannel(channel)
  const known = positions.get(channel)
  const position = known !== undefined ? Promise.resolve(known) : loadHistory(channel)
  position.then((since) => {
    if (joined.get(channel) === loading) subscribeTo(channel, since)
  }, () => {})
}

/** Shows the room's recent lines (a page that reloads keeps its conversation) and returns where they end. */
async function loadHistory (channel: string): Promise<{ offset: number, epoch: string } | undefined> {
  try {
    const response = await fetch(`/api/channels/${encodeURIComponent(channel)}/history`)
    // 404: a channel without history (the MQTT engine keeps none); joined without it.
    if (!response.ok) return undefined
    const page = await response.json() as { offset: number, epoch: string, messages: Array<{ data: ChatData | null, ts: number }> }
    for (const { data, ts } of page.messages) receive(channel, data, ts)
    return { offset: page.offset, epoch: page.epoch }
  } catch {
    return undefined
  }
}

function subscribeTo (channel: string, since: { offset: number, epoch: string } | undefined): void {
  // The client re-subscribes by itself after a reconnect, on whichever node it lands, and
  // recovers what was missed meanwhile. Typed by the contract: the server validated `data`
  // against ChatLine before fanning it out.
  const subscription = client.subscribe(channel, (data, frame) => {
    if (frame.offset !== undefined && frame.epoch !== undefined) positions.set(channel, { offset: frame.offset, epoch: frame.epoch })
    receive(channel, data, frame.ts)
  }, {
    ...(since !== undefined && { since }),
    onUnrecovered: () => system(`some messages in #${channel} were lost while disconnected (the server no longer had them)`)
  })
  joined.set(channel, subscription)
  subscription.ready.then(() => {
    if (joined.get(channel) === subscription) system(`joined #${channel}`)
  }, (err: Error) => {
    // The server said no for good (forbidden, bad name, too many, no answer); the client has let the channel go.
    if (joined.get(channel) !== subscription) return
    joined.delete(channel)
    confirmed.delete(channel)
    refused.set(channel, err.message)
    system(`could not join #${channel}: ${err.message}`)
    renderChannels()
  })
}

function leave (channel: string): void {
  joined.get(channel)?.()
  joined.delete(channel)
  confirmed.delete(channel)
  system(`left #${channel}`)
  renderChannels()
}

function remove (channel: string): void {
  if (joined.has(channel)) leave(channel)
  channels.delete(channel)
  refused.delete(channel)
  unread.delete(channel)
  if (active === channel) active = channels.values().next().value ?? 'general'
  renderChannels()
  renderMessages()
}

function receive (channel: string, data: ChatData | null, ts: number): void {
  const { text, from, cid } = data ?? {}
  const own = typeof cid === 'string' ? ownLines.get(cid) : undefined
  if (own !== undefined) {
    // The echo of a line typed here: it is already shown, now as delivered.
    ownLines.delete(own.cid ?? '')
    own.status = undefined
    own.ts = ts
    renderMessages()
    return
  }
  show({ channel, kind: 'message', from: typeof from === 'string' ? from : 'anonymous', text: typeof text === 'string' ? text : JSON.stringify(data), ts })
}

/** Publishes a line shown as `sending` until the server acknowledges it, `failed` with a retry if it cannot. */
function sendLine (line: ShownMessage): void {
  if (line.channel === null || line.cid === undefined) return
  line.status = 'sending'
  ownLines.set(line.cid, line)
  renderMessages()
  // Queued by the client while disconnected and sent once the connection is back.
  client.publish(line.channel, { from: line.from, text: line.text, cid: line.cid }).then(() => {
    if (line.status === 'sending') line.status = undefined
    renderMessages()
  }, (err: Error) => {
    line.status = 'failed'
    line.error = err.message
    renderMessages()
  })
}

document.getElementById('composer')!.addEventListener('submit', (event) => {
  event.preventDefault()
  const text = textInput.value.trim()
  if (text === '' || !joined.has(active)) return
  textInput.value = ''
  const line: ShownMessage = { channel: active, kind: 'message', from: nameInput.value.trim() || 'anonymous', text, ts: Date.now(), cid: crypto.randomUUID() }
  messages.push(line)
  sendLine(line)
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
  // While disconnected the indicator says so; asking a node that is away would only fail.
  if (client.state !== 'open') return
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
