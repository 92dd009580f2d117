// The Broker contract against a real redis-server, in plain and in sharded Pub/Sub mode
// (SPUBLISH/SSUBSCRIBE also work on a single Redis 7 server).
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisBroker } from '../../lib/brokers/redis-broker.js'
import { startRedis } from '../helpers/redis-server.js'
import { brokerContract } from './broker-contract.js'

const redis = await startRedis(t)
let n = 0

t.test('Pub/Sub', async (t) => {
  brokerContract(t, () => new RedisBroker({ url: redis.url, keyPrefix: `contract-${++n}:` }))
})

t.test('sharded Pub/Sub', async (t) => {
  brokerContract(t, (t) => {
    const client = new Redis(redis.url)
    t.teardown(() => client.quit())
    return new RedisBroker({ client, sharded: true, keyPrefix: `sharded-${++n}:` })
  })
})
