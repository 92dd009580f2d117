// Minimal example: one node, embedded broker, nothing else needed. `npm start` runs it.
import Fastify from 'fastify'
import realtime from '../lib/index.js'

const port = Number(process.env.PORT ?? 3000)
const app = Fastify({ logger: true })
await app.register(realtime, { path: '/ws' })

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
