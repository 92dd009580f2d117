// uWebSockets.js pub/sub as a benchmark peer (a C++ server with a JS API). Plain JavaScript in
// its own folder: @trufflesuite/uws-js-unofficial and its dependencies live in
// benchmark/uws/node_modules and must not change how `ws` resolves for the other peers.
import uWS from '@trufflesuite/uws-js-unofficial'
import { serve } from '../servers/peer-control.ts'

let connections = 0
const decoder = new TextDecoder()
const app = uWS.App().ws('/ws', {
  compression: uWS.DISABLED,
  maxPayloadLength: 64 * 1024,
  maxBackpressure: 16 * 1024 * 1024,
  idleTimeout: 120,
  open: () => { connections++ },
  close: () => { connections-- },
  message: (ws, message) => {
    let parsed
    try {
      parsed = JSON.parse(decoder.decode(message))
    } catch {
      return
    }
    if (parsed.type === 'subscribe' && typeof parsed.channel === 'string') {
      ws.subscribe(parsed.channel)
      ws.send(JSON.stringify({ type: 'subscribed', channel: parsed.channel }), false)
    }
  }
})

let listenSocket
app.listen('127.0.0.1', 0, (token) => {
  if (!token) throw new Error('uWS could not listen')
  listenSocket = token
  serve({
    name: 'uWebSockets.js (pub/sub)',
    port: uWS.us_socket_local_port(token),
    publish (channel, data) {
      app.publish(channel, JSON.stringify({ type: 'message', channel, data, ts: Date.now() }), false)
    },
    connections: () => connections,
    close: async () => { uWS.us_listen_socket_close(listenSocket) }
  })
})
