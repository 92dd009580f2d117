// Builds the plugin's RedisBroker for scenario (d). Imported through a computed path so the
// benchmark type-checks and runs (a)-(c) on a tree where lib/brokers/redis-broker.ts is absent.
import type { Broker } from '../../lib/index.js'

const REDIS_BROKER_MODULE = '../../lib/brokers/redis-broker.js'

export async function createRedisBroker (url: string): Promise<Broker> {
  const module = await import(REDIS_BROKER_MODULE) as { RedisBroker: new (options: { url: string, redis?: object }) => Broker }
  // BENCH_REDIS_AUTOPIPELINING=1: ioredis' auto-pipelining, the `redis.redis` option a user would set.
  return new module.RedisBroker({ url, ...(process.env.BENCH_REDIS_AUTOPIPELINING === '1' ? { redis: { enableAutoPipelining: true } } : {}) })
}
