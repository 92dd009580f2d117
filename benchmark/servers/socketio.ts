// Socket.IO 4 with rooms, websocket transport only (no long-polling upgrade dance).
// BENCH_REDIS_URL: nodes share rooms through @socket.io/redis-adapter (scenario f);
// BENCH_REDIS_SHARDED=1: its sharded adapter (SPUBLISH/SSUBSCRIBE, one Redis channel per room).
import { once } from 'node:events'
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { serve } from './peer-control.js'

const http = createServer()
const io = new Server(http, { transports: ['websocket'], serveClient: false, perMessageDeflate: false, maxHttpBufferSize: 65536 })
const redisUrl = process.env.BENCH_REDIS_URL
const redisClients: Array<{ quit: () => Promise<unknown> }> = []
if (redisUrl !== undefined) {
  const { Redis } = await import('ioredis')
  const { createAdapter, createShardedAdapter } = await import('@socket.io/redis-adapter')
  const pub = new Redis(redisUrl)
  const sub = pub.duplicate()
  redisClients.push(pub, sub)
  // Ready first: ioredis' ready check (INFO) fails on a connection the sharded adapter has
  // already put in subscriber mode with SSUBSCRIBE.
  await Promise.all([once(pub, 'ready'), once(sub, 'ready')])
  io.adapter(process.env.BENCH_REDIS_SHARDED === '1' ? createShardedAdapter(pub, sub) : createAdapter(pub, sub))
}
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
  broadcast (data) {
    io.emit('broadcast', data)
  },
  connections: () => io.engine.clientsCount,
  close: () => new Promise((resolve) => {
    io.close(() => {
      Promise.all(redisClients.map((client) => client.quit())).finally(() => resolve())
    })
  })
})
