// At least 100,000 malformed frames over many connections. Seedable: FUZZ_SEED=<n> replays a
// run (the seed is printed first); FUZZ_FRAMES=<n> changes the volume.
import t from 'tap'
import { randomInt } from 'node:crypto'
import { fuzzSession, Random } from '../fuzz/fuzzer.js'
import { startServer } from '../helpers/server.js'

const seed = process.env.FUZZ_SEED === undefined ? randomInt(2 ** 31) : Number(process.env.FUZZ_SEED)
const TOTAL_FRAMES = Number(process.env.FUZZ_FRAMES ?? 100_000)
const WORKERS = 16
const MAX_PAYLOAD = 64 * 1024

const prototypes = [Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype]
const ownNames = () => prototypes.map((prototype) => Object.getOwnPropertyNames(prototype).sort())

t.test(`fuzz: ${TOTAL_FRAMES} malformed frames, seed ${seed}`, async (t) => {
  t.comment(`fuzz seed ${seed} (replay with FUZZ_SEED=${seed})`)
  t.teardown(() => { if (!t.passing()) console.error(`# fuzz FAILED with seed ${seed}: replay with FUZZ_SEED=${seed} npx tap test/security/fuzz.test.ts`) })
  const namesBefore = ownNames()
  const problems: unknown[] = []
  const onRejection = (reason: unknown): void => { problems.push({ unhandledRejection: String(reason) }) }
  process.on('unhandledRejection', onRejection)
  t.teardown(() => { process.off('unhandledRejection', onRejection) })
  const serverErrors: unknown[] = []
  const stream = { write: (line: string) => { const entry = JSON.parse(line); if (entry.level >= 50) serverErrors.push(entry) } }

  const { app, url, connect } = await startServer(t, {
    fastify: { logger: { level: 'warn', stream } },
    // The rate limit has its own test; here every frame must reach the parser.
    plugin: { rateLimit: false, maxPayload: MAX_PAYLOAD }
  })
  const watcher = await connect()
  t.match(await watcher.subscribe('watch'), { type: 'subscribed' })

  let published = 0
  let frames = 0
  let connections = 0
  const kinds = new Map<string, number>()
  const badCloses: unknown[] = []
  await Promise.all(Array.from({ length: WORKERS }, async (_, worker) => {
    // One generator per worker: the frames depend on the seed alone, not on scheduling.
    const random = new Random(seed + worker * 7919)
    let quota = Math.ceil(TOTAL_FRAMES / WORKERS)
    while (quota > 0) {
      const count = Math.min(quota, 50 + random.int(1500))
      const endFatally = random.next() < 0.6
      try {
        const result = await fuzzSession(url, random, count, endFatally, MAX_PAYLOAD)
        connections++
        frames += result.sent + (result.fatal === undefined ? 0 : 1)
        for (const [kind, n] of result.kinds) kinds.set(kind, (kinds.get(kind) ?? 0) + n)
        if (result.fatal !== undefined && result.fatal.got !== result.fatal.expected) badCloses.push({ worker, ...result.fatal })
      } catch (err) {
        problems.push({ worker, session: connections, error: (err as Error).message })
        return
      }
      quota -= count
      // Something meant for the watcher, between the fuzzing.
      await app.publish('watch', { seq: published++ })
    }
  }))

  t.comment(`${frames} frames over ${connections} connections; ${[...kinds].sort(([a], [b]) => a.localeCompare(b)).map(([kind, n]) => `${kind}: ${n}`).join(', ')}`)
  t.ok(frames >= TOTAL_FRAMES, `sent ${frames} frames`)
  t.same(problems, [], `every frame answered, no unhandled rejection (seed ${seed})`)
  t.same(badCloses, [], `every fatal frame closed with its code (seed ${seed})`)
  t.same(serverErrors, [], 'nothing logged at error level')

  // The watcher, connected throughout, got exactly what was meant for it.
  const last = published - 1
  await watcher.next((frame) => frame.type === 'message' && (frame.data as { seq: number }).seq === last)
  const seqs = watcher.seen((frame) => frame.type === 'message' && frame.channel === 'watch').map((frame) => (frame.data as { seq: number }).seq)
  t.same(seqs, Array.from({ length: published }, (_, i) => i), 'the well-behaved client received every message, in order')
  t.same(watcher.seen((frame) => frame.type === 'error'), [], 'and no error')

  for (const key of ['polluted', 'isAdmin']) {
    t.equal((({}) as Record<string, unknown>)[key], undefined, `({}).${key} is undefined`)
    t.equal(([] as unknown as Record<string, unknown>)[key], undefined, `[].${key} is undefined`)
  }
  t.same(ownNames(), namesBefore, 'no built-in prototype gained or lost a property')

  const late = await connect()
  late.send({ type: 'ping', ts: 5 })
  t.equal((await late.nextOfType('pong')).ts, 5, 'the server still serves new clients')
})
