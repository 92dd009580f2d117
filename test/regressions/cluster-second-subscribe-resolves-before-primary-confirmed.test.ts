// With the node:cluster broker, a second subscribe to a channel resolved at once, because the
// channel already had a reference, while the primary had not yet confirmed the first: its
// caller was told it was subscribed, and what another worker published meanwhile was lost.
// Later subscribers now wait for the first subscribe's confirmation.
import t from 'tap'
import { MessageChannel } from 'node:worker_threads'
import { ClusterBroker } from '../../lib/brokers/cluster-broker.js'
import { ClusterRelay } from '../../lib/brokers/cluster-relay.js'
import { linkOfPort, type IpcLink } from '../../lib/brokers/cluster/relay-messages.js'
import { frame, startBroker } from '../brokers/broker-contract.js'

/** The primary's end of a worker's channel, whose incoming messages can be held back (a busy primary). */
function heldLink (link: IpcLink): { link: IpcLink, hold: () => void, release: () => void } {
  let held = false
  const queue: unknown[] = []
  const listeners: Array<(message: unknown) => void> = []
  return {
    link: {
      send: (message) => link.send(message),
      onMessage (listener) {
        listeners.push(listener)
        return link.onMessage((message) => { if (held) queue.push(message); else listener(message) })
      },
      onClose: (listener) => link.onClose(listener)
    },
    hold: () => { held = true },
    release: () => {
      held = false
      for (const message of queue.splice(0)) for (const listener of listeners) listener(message)
    }
  }
}

t.test('a second subscribe resolves only once the primary confirmed the channel, so nothing published after it is lost', async (t) => {
  const relay = new ClusterRelay()
  t.teardown(() => relay.close())
  const ports = [new MessageChannel(), new MessageChannel()]
  t.teardown(() => { for (const { port1, port2 } of ports) { port1.close(); port2.close() } })
  const busy = heldLink(linkOfPort(ports[0]!.port1))
  relay.attach(busy.link)
  relay.attach(linkOfPort(ports[1]!.port1))
  const a = await startBroker(t, () => new ClusterBroker({ link: linkOfPort(ports[0]!.port2) }), 'worker-a')
  const b = await startBroker(t, () => new ClusterBroker({ link: linkOfPort(ports[1]!.port2) }), 'worker-b')

  busy.hold()
  const first = a.broker.subscribe('c')
  const second = a.broker.subscribe('c')
  const early = frame('early')
  // What the second subscriber's caller does once told it is subscribed: another worker publishes.
  const earlyPublished = second.then(async () => await b.broker.publish('c', early))
  const settled = await Promise.race([
    second.then(() => 'resolved'),
    b.broker.publish('elsewhere', frame()).then(() => 'pending')
  ])
  t.equal(settled, 'pending', 'the second subscribe waits while the primary has not confirmed the first')
  // Had it resolved, the primary is still busy with the first subscribe when that publish arrives.
  if (settled === 'resolved') await earlyPublished

  busy.release()
  await Promise.all([first, second, earlyPublished])
  const marker = frame('marker')
  await b.broker.publish('c', marker)
  await a.log.wait((d) => d.frame === marker)
  t.equal(a.log.count(early), 1, 'the publish made after the second subscribe resolved was delivered')
})
