// Plain `ws` with the naive loop, the recipe most tutorials give: JSON.stringify once per
// publish, then ws.send per subscriber (ws frames it again for every recipient).
import { WebSocketServer, WebSocket } from 'ws'
import { serve } from './peer-control.js'

const channels = new Map<string, Set<WebSocket>>()
const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', path: '/ws', perMessageDeflate: false, maxPayload: 65536 })
await new Promise<void>((resolve) => wss.once('listening', resolve))

wss.on('connection', (ws) => {
  const joined = new Set<string>()
  ws.on('message', (raw) => {
    let message: { type?: unknown, channel?: unknown }
    try {
      message = JSON.parse(raw.toString())
    } catch {
      return
    }
    if (message.type === 'subscribe' && typeof message.channel === 'string') {
      let members = channels.get(message.channel)
      if (members === undefined) channels.set(message.channel, members = new Set())
      members.add(ws)
      joined.add(message.channel)
      ws.send(JSON.stringify({ type: 'subscribed', channel: message.channel }))
    }
  })
  ws.on('close', () => {
    for (const channel of joined) channels.get(channel)?.delete(ws)
  })
})

const address = wss.address()
if (address === null || typeof address === 'string') throw new Error('no port')
serve({
  name: 'ws (naive loop)',
  port: address.port,
  publish (channel, data) {
    const members = channels.get(channel)
    if (members === undefined) return
    const text = JSON.stringify({ type: 'message', channel, data, ts: Date.now() })
    for (const ws of members) {
      if (ws.readyState === WebSocket.OPEN) ws.send(text)
    }
  },
  connections: () => wss.clients.size,
  close: () => new Promise((resolve) => {
    for (const ws of wss.clients) ws.terminate()
    wss.close(() => resolve())
  })
})
