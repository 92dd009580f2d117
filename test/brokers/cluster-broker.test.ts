// The cluster broker against the broker contract, through a real relay over real message
// channels (worker_threads MessagePorts: the same structured-clone IPC semantics as a
// cluster worker's channel, without forking a process per test). The end-to-end run over
// node:cluster's own IPC is test/example-app/start-workers.test.ts.
import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { MessageChannel } from 'node:worker_threads'
import { ClusterBroker } from '../../lib/brokers/cluster-broker.js'
import { ClusterRelay } from '../../lib/brokers/cluster-relay.js'
import { linkOfPort } from '../../lib/brokers/cluster/relay-messages.js'
import { ErrorCode } from '../../lib/errors.js'
import { eventually } from '../helpers/redis-server.js'
import { brokerContract, DeliveryLog, frame, startBroker } from './broker-contract.js'

const execFileAsync = promisify(execFile)

/** A relay standing in for the primary, closed at teardown. */
function startRelay (t: Test): ClusterRelay {
  const relay = new ClusterRelay()
  t.teardown(() => relay.close())
  return relay
}

/** A ClusterBroker whose IPC channel leads to `relay` (or nowhere), and that channel's far end. */
function workerBroker (t: Test, relay: ClusterRelay | undefined, requestTimeout?: number): { broker: ClusterBroker, primaryEnd: MessageChannel['port1'] } {
  const { port1, port2 } = new MessageChannel()
  t.teardown(() => { port1.close(); port2.close() })
  if (relay !== undefined) relay.attach(linkOfPort(port1))
  return { broker: new ClusterBroker({ link: linkOfPort(port2), ...(requestTimeout !== undefined && { requestTimeout }) }), primaryEnd: port1 }
}

t.test('broker contract', async (t) => {
  const relay = startRelay(t)
  brokerContract(t, (t) => workerBroker(t, relay).broker)
})

t.test('a publish on one worker reaches every worker that wants the channel, once, in one order', async (t) => {
  const relay = startRelay(t)
  const workers = await Promise.all([0, 1, 2].map((i) => startBroker(t, () => workerBroker(t, relay).broker, `worker-${i}`)))
  for (const { broker } of workers) await broker.subscribe('room')
  t.equal(relay.subscriberCount('room'), 3)

  const published: string[] = []
  await Promise.all(workers.flatMap(({ broker }, i) => Array.from({ length: 100 }, () => {
    const sent = frame(`w${i}`)
    published.push(sent)
    return broker.publish('room', sent)
  })))
  // Acknowledged to the publishers; the other workers' copies may still be on their way.
  await eventually(() => workers.every(({ log }) => log.deliveries.length >= 300), 'every worker got 300 frames')
  const sequences = workers.map(({ log }) => log.deliveries.map((d) => d.frame))
  t.equal(sequences[0]!.length, 300, 'every publish delivered once')
  t.same(new Set(sequences[0]), new Set(published))
  t.same(sequences[1], sequences[0], 'the same order on every worker')
  t.same(sequences[2], sequences[0])
})

t.test('a worker whose channel closes loses its subscriptions in the primary', async (t) => {
  const relay = startRelay(t)
  const { broker, primaryEnd } = workerBroker(t, relay)
  const log = new DeliveryLog()
  await broker.start({ onMessage: log.onMessage, log: Fastify({ logger: false }).log, nodeId: 'w' })
  t.teardown(() => broker.close())
  await broker.subscribe('a')
  t.equal(relay.subscriberCount('a'), 1)
  primaryEnd.close()
  await eventually(() => relay.workers === 0, 'the relay dropped the worker')
  t.equal(relay.subscriberCount('a'), 0)
})

t.test('with the primary gone, publishes fail with broker_unavailable at once and waiting ones never hang', async (t) => {
  const relay = startRelay(t)
  const { broker, primaryEnd } = workerBroker(t, relay)
  const messages: string[] = []
  const logger = Fastify({ logger: { level: 'warn', stream: { write: (line: string) => messages.push(line) } } }).log
  await broker.start({ onMessage: () => {}, log: logger, nodeId: 'w' })
  t.teardown(() => broker.close())
  relay.close() // the primary stops answering first: this publish waits...
  const waiting = broker.publish('a', frame())
  primaryEnd.close() // ...until its channel closes
  await t.rejects(waiting, { code: ErrorCode.BROKER_UNAVAILABLE })
  t.equal(broker.state, 'unavailable')
  await t.rejects(broker.publish('a', frame()), { code: ErrorCode.BROKER_UNAVAILABLE })
  await t.rejects(broker.subscribe('b'), { code: ErrorCode.BROKER_UNAVAILABLE })
  t.match(messages.join(''), /the primary is gone/, 'logged at warn')
})

t.test('a primary that does not answer fails requests after requestTimeout', async (t) => {
  const relay = startRelay(t)
  const { broker } = workerBroker(t, relay, 50)
  await broker.start({ onMessage: () => {}, log: Fastify({ logger: false }).log, nodeId: 'w' })
  t.teardown(() => broker.close())
  relay.close()
  await t.rejects(broker.publish('a', frame()), { code: ErrorCode.BROKER_UNAVAILABLE, message: /did not answer within 50 ms/ })
})

t.test('start fails plainly without a relay in the primary, or without a primary at all', async (t) => {
  const { broker } = workerBroker(t, undefined, 50)
  await t.rejects(broker.start({ onMessage: () => {}, log: Fastify({ logger: false }).log, nodeId: 'w' }), /no answer from a cluster relay in the primary/)
  t.equal(broker.state, 'unavailable')

  // A process with no IPC channel, as `node server.js` outside a cluster (tap's own test
  // processes have one, to their runner).
  const script = `import Fastify from 'fastify'
import realtime, { ClusterBroker } from ${JSON.stringify(new URL('../../lib/index.ts', import.meta.url).href)}
const app = Fastify()
app.register(realtime, { broker: new ClusterBroker() })
try { await app.ready() } catch (err) { console.log(err.message) }`
  const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' } })
  t.match(stdout, /ClusterBroker runs in a node:cluster worker/)
})

t.test('bad options fail at construction', async (t) => {
  t.throws(() => new ClusterBroker({ requestTimeout: 0 }), /requestTimeout must be a positive integer/)
})

t.test('what one turn sends travels as one IPC message each way, in order; the app\'s own messages pass by', async (t) => {
  const relay = startRelay(t)
  const { port1, port2 } = new MessageChannel()
  t.teardown(() => { port1.close(); port2.close() })
  // Counts the IPC messages on each side of the worker's channel.
  const toPrimary: unknown[] = []
  const toWorker: unknown[] = []
  const primaryEnd = linkOfPort(port1)
  relay.attach({ ...primaryEnd, send: (message) => { toWorker.push(message); primaryEnd.send(message) } })
  port1.on('message', (message) => toPrimary.push(message))
  const broker = new ClusterBroker({ link: linkOfPort(port2) })
  const { log } = await startBroker(t, () => broker, 'w')
  await broker.subscribe('room')
  toPrimary.length = 0
  toWorker.length = 0

  const sent = Array.from({ length: 100 }, () => frame())
  await Promise.all(sent.map((text) => broker.publish('room', text)))
  t.same(log.deliveries.map((d) => d.frame), sent, 'every frame delivered once, in the order published')
  t.equal(toPrimary.length, 1, '100 publishes in one turn: one IPC message to the primary')
  t.equal(toWorker.length, 1, 'their 100 deliveries and 100 acks: one IPC message back')

  // An application's own IPC message on the same channel reaches it untouched.
  const received = new Promise((resolve) => port2.once('message', resolve))
  port1.postMessage({ app: 'hello' })
  t.same(await received, { app: 'hello' })
})

t.test('a burst larger than one batch is split, and still arrives whole and in order', async (t) => {
  const relay = startRelay(t)
  const { broker } = workerBroker(t, relay)
  const { log } = await startBroker(t, () => broker, 'w')
  await broker.subscribe('room')
  const sent = Array.from({ length: 3000 }, () => frame())
  await Promise.all(sent.map((text) => broker.publish('room', text)))
  t.same(log.deliveries.map((d) => d.frame), sent)
})

t.test('a primary and workers of different versions: no batches to a side that did not say it reads them', async (t) => {
  t.test('a relay that answers hello without { batches } (an older one) gets one message per publish', async (t) => {
    const { port1, port2 } = new MessageChannel()
    t.teardown(() => { port1.close(); port2.close() })
    const received: Array<{ op: string, id?: number }> = []
    // The older relay: acks everything, knows nothing of batches.
    port1.on('message', (message: { op: string, id?: number }) => {
      received.push(message)
      if (message.id !== undefined) port1.postMessage({ rt: 'fastify-realtime', op: 'ack', id: message.id })
    })
    const { broker } = await startBroker(t, () => new ClusterBroker({ link: linkOfPort(port2) }), 'w')
    await Promise.all([broker.publish('a', frame()), broker.publish('a', frame()), broker.publish('a', frame())])
    t.same(received.map((message) => message.op), ['hello', 'publish', 'publish', 'publish'])
  })

  t.test('a worker whose hello does not say { batches } (an older one) gets one message per delivery', async (t) => {
    const relay = startRelay(t)
    const { port1, port2 } = new MessageChannel()
    t.teardown(() => { port1.close(); port2.close() })
    relay.attach(linkOfPort(port1))
    const received: Array<{ op: string, frame?: string }> = []
    port2.on('message', (message: { op: string }) => received.push(message))
    const tag = 'fastify-realtime'
    port2.postMessage({ rt: tag, op: 'hello', id: 1, nodeId: 'old' })
    port2.postMessage({ rt: tag, op: 'subscribe', id: 2, channel: 'a' })
    await eventually(() => received.length === 2, 'hello and subscribe acknowledged')
    for (let id = 3; id < 6; id++) port2.postMessage({ rt: tag, op: 'publish', id, channel: 'a', frame: `f${id}` })
    await eventually(() => received.length === 8, 'three deliveries and three acks')
    t.same(received.map((message) => message.op), ['ack', 'ack', 'message', 'ack', 'message', 'ack', 'message', 'ack'])
  })
})
