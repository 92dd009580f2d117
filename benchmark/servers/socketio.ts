// Socket.IO 4 with rooms, websocket transport only (no long-polling upgrade dance).
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { serve } from './peer-control.js'

const http = createServer()
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 65536 })
io.on('connection', (socket) => {
  socket.on('subscribe', (channel: unknown, ack?: unknown) => {
    if (typeof channel !== 'string') return
    socket.join(channel)
    if (typeof ack === 'function') ack()
  })
})
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
const address = http.address()
if (address === null || typeof address === 'string') throw new Error('no port')

serve({
  name: 'Socket.IO 4 (rooms)',
  port: address.port,
  publish (channel, data) {
    io.to(channel).emit('message', data)
  },
  connections: () => io.engine.clientsCount,
  close: () => new Promise((resolve) => { io.close(() => resolve()) })
})
