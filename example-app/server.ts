// Runs one node of the example app. `npm start`: port 3000, embedded broker, nothing else
// needed. Environment: PORT, HOST, NODE_ID, REDIS_URL (join other nodes through Redis, see
// docs/scaling.md "Through Redis"), MQTT_URL (through an MQTT server instead), TRUST_PROXY, LOG_LEVEL, BUILD_PAGE, PAGE_BUILD_DIR,
// DRAIN_MS (SIGTERM drains over that many ms first, see docs/operations.md). The cluster script
// (start-cluster.ts) runs two of these with REDIS_URL, TRUST_PROXY and DRAIN_MS set, behind nginx.
import { buildApp } from './app.js'
import { buildPage } from './build-page.js'

const env = process.env
const port = Number(env.PORT ?? 3000)
const host = env.HOST ?? '127.0.0.1'
/** How long a close may take (after the drain) before the node exits anyway. */
const CLOSE_DEADLINE_MS = 10_000

/** Whether the app serves yet: the launcher watch below may fire before. */
const node = { listening: false }

// Started by start-cluster.ts with an IPC channel: when the launcher goes away, even by
// SIGKILL, the channel closes and this node stops rather than outliving it. Watched from the
// first line, so a launcher gone while the node starts counts too; a node not serving yet just
// exits, and a close that does not finish in time is cut short (stopAndExit).
function onLauncherGone (): void {
  if (!node.listening) process.exit(0)
  stopAndExit(0)
}
if (process.send !== undefined) {
  process.once('disconnect', onLauncherGone)
  // Gone before this module ran: no 'disconnect' event is coming.
  if (!process.connected) onLauncherGone()
}

// The cluster script bundles the page once for both nodes and sets BUILD_PAGE=0.
if (env.BUILD_PAGE !== '0') await buildPage(env.PAGE_BUILD_DIR)

const app = await buildApp({
  logger: { level: env.LOG_LEVEL ?? 'info' },
  ...(env.NODE_ID !== undefined && { nodeId: env.NODE_ID }),
  // Without it this node uses the embedded broker.
  ...(env.REDIS_URL !== undefined && { redis: { url: env.REDIS_URL } }),
  // MQTT carries frames but keeps no history or presence: the chat rooms go without them there.
  ...(env.MQTT_URL !== undefined && { realtime: { mqtt: { url: env.MQTT_URL } }, history: false, presence: false }),
  // The proxy's own address (127.0.0.1 in the cluster): request.ip is then the client's
  // address as nginx saw it. Trust only proxies you run, or any client can claim any address.
  ...(env.TRUST_PROXY !== undefined && { trustProxy: env.TRUST_PROXY }),
  ...(env.PAGE_BUILD_DIR !== undefined && { pageBuildDir: env.PAGE_BUILD_DIR })
})

// A rolling deploy stops nodes one at a time: their clients move over DRAIN_MS, not at once.
const drainMs = Number(env.DRAIN_MS ?? 0)
let closed: Promise<void> | undefined

/**
 * Drains first (1012, spread over `overMs`, while the HTTP API still serves: drainOnClose would
 * drain inside app.close(), when Fastify already answers every request 503), then closes: the
 * clients left get 1001. SIGINT during the drain cuts it short.
 */
async function stop (overMs: number): Promise<void> {
  if (overMs > 0 && !app.realtime.draining) await app.realtime.drain({ overMs })
  closed ??= app.close()
  await closed
}

/**
 * Stops (draining over `overMs`) and exits. A stop that does not end in time exits anyway: a
 * node stuck closing was seen once after a test run, and a deploy or the cluster script must
 * not wait on it for ever.
 */
function stopAndExit (overMs: number): void {
  setTimeout(() => process.exit(1), overMs + CLOSE_DEADLINE_MS).unref()
  stop(overMs).then(() => process.exit(0), () => process.exit(1))
}

// SIGTERM is how deploys (and the cluster's rolling restart) stop a node: drain over DRAIN_MS.
// SIGINT (Ctrl-C) stops at once; the clients reconnect elsewhere either way.
process.once('SIGTERM', () => stopAndExit(drainMs))
process.once('SIGINT', () => stopAndExit(0))

await app.listen({ port, host })
node.listening = true
