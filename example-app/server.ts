// Minimal example: one node, embedded broker, nothing else needed. `npm start` runs it.
// REDIS_URL (and NODE_ID) make it one node of several: see README "Scaling out with Redis".
import Fastify from 'fastify'
import realtime from '../lib/index.js'

const port = Number(process.env.PORT ?? 3000)
const app = Fastify({ logger: true })
const redisUrl = process.env.REDIS_URL
await app.register(realtime, {
  path: '/ws',
  ...(process.env.NODE_ID === undefined ? {} : { nodeId: process.env.NODE_ID }),
  ...(redisUrl === undefined ? {} : { redis: { url: redisUrl } })
})

app.post('/notify', async () => {
  await app.broadcast({ text: 'deploy finished' })
  return { ok: true }
})

app.post<{ Params: { id: string } }>('/orders/:id', async (request) => {
  await app.publish('orders', { id: request.params.id })
  return { ok: true }
})

app.get('/stats', async () => app.realtime.stats())

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { app.close().then(() => process.exit(0), () => process.exit(1)) })
}

await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' })
