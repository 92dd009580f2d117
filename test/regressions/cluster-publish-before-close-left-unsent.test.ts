// A worker that publishes without awaiting and then closes its app (as `await app.close();
// process.exit()` does) must have handed the publish to its IPC channel by the time close()
// resolves: the batch waiting for the end of the turn would otherwise die with the process.
import t from 'tap'
import Fastify from 'fastify'
import { MessageChannel } from 'node:worker_threads'
import { ClusterBroker } from '../../lib/brokers/cluster-broker.js'
import { ClusterRelay } from '../../lib/brokers/cluster-relay.js'
import { linkOfPort, type IpcLink } from '../../lib/brokers/cluster/relay-messages.js'

t.test('close() sends what was published in the same turn before it resolves', async (t) => {
  const relay = new ClusterRelay()
  t.teardown(() => relay.close())
  const { port1, port2 } = new MessageChannel()
  t.teardown(() => { port1.close(); port2.close() })
  relay.attach(linkOfPort(port1))
  // What actually went into the worker's end of the channel, as it went.
  const written: unknown[] = []
  const workerEnd = linkOfPort(port2)
  const link: IpcLink = { ...workerEnd, send: (message) => { written.push(message); workerEnd.send(message) } }
  const broker = new ClusterBroker({ link })
  await broker.start({ onMessage: () => {}, log: Fastify({ logger: false }).log, nodeId: 'w' })
  await broker.subscribe('room')
  written.length = 0

  const published = broker.publish('room', '{"type":"message","channel":"room","data":1}')
  published.catch(() => {}) // close() fails what the primary has not acknowledged yet
  await broker.close()
  const sent = JSON.stringify(written)
  t.match(sent, /"op":"publish"/, 'the publish was written before close() resolved')
  t.match(sent, /"op":"unsubscribe"/, 'and the unsubscribe of the channel it held')
})
