// Hostile handshakes over raw TCP: each gets its 4xx (or, for an unknown extension, an
// upgrade that negotiates nothing), and the server keeps serving everyone else.
import t from 'tap'
import { startServer } from '../helpers/server.js'
import { rawStatus, upgradeRequest, tryUpgrade } from '../helpers/handshake.js'

t.test('malformed and oversized upgrade requests are refused and the server stays up', async (t) => {
  const { app, url, connect } = await startServer(t, { plugin: { maxConnections: 50 } })
  const port = (app.server.address() as { port: number }).port
  const host = `127.0.0.1:${port}`
  const watcher = await connect()
  t.match(await watcher.subscribe('alive'), { type: 'subscribed' })

  const manyHeaders: Record<string, string> = {}
  for (let i = 0; i < 2100; i++) manyHeaders[`X-Filler-${i}`] = 'v'
  // The shape of CVE-2024-37890 (ws < 8.17.1 crashed): exactly 2,000 short headers, so the
  // ones ws needs come after Node's maxHeadersCount and are dropped.
  const tokenChars = "!#$%&'*+-.0123456789abcdefghijklmnopqrstuvwxyz^_`|~"
  const atTheLimit: Record<string, string> = {}
  for (const a of tokenChars) {
    for (const b of tokenChars) if (Object.keys(atTheLimit).length < 2000) atTheLimit[a + b] = 'x'
  }
  const crashShape = `GET /ws HTTP/1.1\r\nHost: ${host}\r\n` + Object.entries(atTheLimit).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
    'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'
  const cases: Array<[string, string, number]> = [
    ['2,000 headers pushing the upgrade headers past maxHeadersCount (CVE-2024-37890)', crashShape, 400],
    ['more than 2,000 request headers', upgradeRequest('/ws', host, manyHeaders), 431],
    ['a 32,000-character Sec-WebSocket-Protocol', upgradeRequest('/ws', host, { 'Sec-WebSocket-Protocol': 'a'.repeat(32_000) }), 431],
    ['a long list of duplicate subprotocols (the old ws ReDoS shape)', upgradeRequest('/ws', host, { 'Sec-WebSocket-Protocol': 'a,'.repeat(4000) + 'a' }), 400],
    ['subprotocol with invalid characters', upgradeRequest('/ws', host, { 'Sec-WebSocket-Protocol': 'chat, "x"' }), 400],
    ['POST upgrade', upgradeRequest('/ws', host, {}, 'POST'), 404],
    ['PUT upgrade', upgradeRequest('/ws', host, {}, 'PUT'), 404],
    ['wrong Sec-WebSocket-Version', upgradeRequest('/ws', host, { 'Sec-WebSocket-Version': '12' }), 400],
    ['non-numeric Sec-WebSocket-Version', upgradeRequest('/ws', host, { 'Sec-WebSocket-Version': 'constructor' }), 400],
    ['bad Sec-WebSocket-Key', upgradeRequest('/ws', host, { 'Sec-WebSocket-Key': 'not-a-key' }), 400],
    ['empty Sec-WebSocket-Key', upgradeRequest('/ws', host, { 'Sec-WebSocket-Key': '' }), 400],
    ['Upgrade to something else', upgradeRequest('/ws', host, { Upgrade: 'h2c' }), 400],
    ['a request line that is not HTTP', 'GARBAGE\r\n\r\n', 400],
    ['a header with a NUL byte', upgradeRequest('/ws', host, { 'X-Bad': 'a\u0000b' }), 400]
  ]
  for (const [name, request, expected] of cases) {
    const { status } = await rawStatus(port, request)
    t.equal(status, expected, name)
  }

  // Unknown extension offers are ignored (RFC 6455 section 9.1), never parsed into objects.
  for (const extensions of ['constructor', '__proto__; polluted=1', 'toString, hasOwnProperty; x']) {
    const result = await tryUpgrade(url, { headers: { 'Sec-WebSocket-Extensions': extensions } })
    t.equal(result.status, 101, `Sec-WebSocket-Extensions: ${extensions} is ignored`)
    t.equal(result.socket?.extensions, '', 'no extension negotiated')
    result.socket?.close()
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was touched')

  t.equal(app.realtime.connectionCount >= 1, true)
  await app.publish('alive', 'still here')
  t.equal((await watcher.nextOfType('message')).data, 'still here', 'the server kept serving the connected client')
  const late = await connect()
  t.ok(late.welcome.connectionId, 'and new clients can still connect')
})

t.test('with permessage-deflate on, a malformed extension offer gets 400', async (t) => {
  const { app } = await startServer(t, { plugin: { perMessageDeflate: true } })
  const port = (app.server.address() as { port: number }).port
  const { status } = await rawStatus(port, upgradeRequest('/ws', `127.0.0.1:${port}`, { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_max_window_bits=99' }))
  t.equal(status, 400)
})
