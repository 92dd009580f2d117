// nginx in front of example-app nodes, with the repository's nginx.conf (ports and timeouts
// changed for the test): WebSocket upgrade, client address, stickiness, idle connections
// kept alive by heartbeats, and the 1001 goodbye passing through.
import t, { type Test } from 'tap'
import { CloseCode } from '../../lib/index.js'
import { renderNginxConfig } from '../../example-app/cluster/render-nginx-config.js'
import { readFile } from 'node:fs/promises'
import { nginxConfigFile } from '../../example-app/cluster/render-nginx-config.js'
import { startNginxFor, startNode } from '../helpers/example-cluster.js'
import { TestClient } from '../helpers/ws-client.js'

function wsUrl (httpUrl: string): string {
  return httpUrl.replace(/^http/, 'ws') + '/ws'
}

async function connect (t: Test, url: string, options?: import('ws').ClientOptions): Promise<TestClient> {
  const client = await TestClient.connect(url, options)
  t.teardown(() => client.close())
  return client
}

t.test('the shipped nginx.conf proxies WebSockets as documented', async (t) => {
  const text = await readFile(nginxConfigFile, 'utf8')
  t.match(text, /map \$http_upgrade \$connection_upgrade \{/)
  t.match(text, /proxy_http_version 1\.1;/)
  for (const header of ['Upgrade \\$http_upgrade', 'Connection \\$connection_upgrade', 'Host \\$host', 'X-Real-IP \\$remote_addr', 'X-Forwarded-For \\$proxy_add_x_forwarded_for']) {
    t.match(text, new RegExp(`proxy_set_header ${header};`), header)
  }
  t.match(text, /proxy_read_timeout 3600s;/)
  t.match(text, /proxy_send_timeout 3600s;/)
  t.match(text, /^\s*ip_hash;$/m)
  t.match(text, /^\s*# hash \$cookie_rt_affinity consistent;$/m)
  t.match(text, /server 127\.0\.0\.1:3005 max_fails=0;\s*server 127\.0\.0\.1:3006 max_fails=0;/, 'nginx never takes a node out (rolling restarts)')
  t.match(text, /proxy_next_upstream error timeout http_503;/)
  t.match(text, /proxy_connect_timeout 5s;/)
  t.match(text, /listen 127\.0\.0\.1:8080;/)
})

t.test('the config renderer refuses a config it cannot rewrite', async (t) => {
  t.throws(() => renderNginxConfig('events {}', { listenPort: 1, nodePorts: [2] }), /expected exactly one match/)
})

t.test('the rendered config gives every node the server parameters of nginx.conf', async (t) => {
  const text = renderNginxConfig(await readFile(nginxConfigFile, 'utf8'), { listenPort: 9000, nodePorts: [4001, 4002, 4003] })
  const servers = text.match(/^\s*server 127\.0\.0\.1:\d+.*$/gm)?.map((line) => line.trim())
  t.same(servers, ['server 127.0.0.1:4001 max_fails=0;', 'server 127.0.0.1:4002 max_fails=0;', 'server 127.0.0.1:4003 max_fails=0;'])
  t.match(text, /listen 127\.0\.0\.1:9000;/)
})

t.test('a WebSocket through nginx reaches a node, which sees the client address', async (t) => {
  const node = await startNode(t, { nodeId: 'only', trustProxy: '127.0.0.1' })
  const nginx = await startNginxFor(t, { nodePorts: [node.port] })
  // From 127.0.0.2, so the address nginx forwards differs from nginx's own (127.0.0.1).
  const client = await connect(t, wsUrl(nginx.url), { localAddress: '127.0.0.2', headers: { 'x-forwarded-for': '203.0.113.9' } })
  t.equal(client.welcome.nodeId, 'only')
  t.equal(node.app.realtime.connection(client.welcome.connectionId)?.remoteAddress, '127.0.0.2', 'the real client address, not nginx\'s nor a forged header')
  await client.subscribe('news')
  const response = await fetch(`${nginx.url}/api/channels/news/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'via nginx' })
  })
  t.equal(response.status, 200)
  t.same((await client.nextOfType('message')).data, { text: 'via nginx', from: 'server' })
})

t.test('ip_hash sends every connection from one address to the same node', async (t) => {
  const one = await startNode(t, { nodeId: 'one' })
  const two = await startNode(t, { nodeId: 'two' })
  const nginx = await startNginxFor(t, { nodePorts: [one.port, two.port] })
  const nodes = new Set<string>()
  for (let i = 0; i < 4; i++) nodes.add((await connect(t, wsUrl(nginx.url))).welcome.nodeId)
  t.equal(nodes.size, 1)
})

t.test('the cookie-hash variant pins each browser by its rt_affinity cookie', async (t) => {
  const one = await startNode(t, { nodeId: 'one' })
  const two = await startNode(t, { nodeId: 'two' })
  const nginx = await startNginxFor(t, { nodePorts: [one.port, two.port], affinity: 'cookie' })
  const nodeOf = async (cookie: string): Promise<string> =>
    (await connect(t, wsUrl(nginx.url), { headers: { cookie: `rt_affinity=${cookie}` } })).welcome.nodeId
  const seen = new Map<string, string>()
  for (let i = 0; i < 12; i++) seen.set(`browser-${i}`, await nodeOf(`browser-${i}`))
  t.same(new Set(seen.values()), new Set(['one', 'two']), 'different cookies spread over both nodes')
  for (const [cookie, nodeId] of [...seen].slice(0, 4)) t.equal(await nodeOf(cookie), nodeId, `${cookie} lands on the same node again`)
})

t.test('an idle connection outlives nginx\'s read timeout because the server pings it', async (t) => {
  const node = await startNode(t, { heartbeatInterval: 300, heartbeatTimeout: 150 })
  const nginx = await startNginxFor(t, { nodePorts: [node.port], proxyTimeout: '1s' })
  const client = await connect(t, wsUrl(nginx.url))
  await client.subscribe('quiet')
  // The client sends nothing; server pings alone cross nginx. Wait for three read timeouts.
  const started = Date.now()
  await new Promise<void>((resolve) => {
    client.socket.on('ping', () => { if (Date.now() - started > 3000) resolve() })
  })
  t.equal(client.socket.readyState, client.socket.OPEN)
  await node.app.publish('quiet', { text: 'still here' })
  t.same((await client.nextOfType('message')).data, { text: 'still here' })
})

t.test('without heartbeats within the timeout, nginx cuts the idle connection', async (t) => {
  // The control for the test above: same nginx settings, pings far apart.
  const node = await startNode(t, { heartbeatInterval: 60_000, heartbeatTimeout: 10_000 })
  const nginx = await startNginxFor(t, { nodePorts: [node.port], proxyTimeout: '1s' })
  const client = await connect(t, wsUrl(nginx.url))
  const closed = await client.closed
  t.equal(closed.code, CloseCode.ABNORMAL, 'dropped without a close frame')
})

t.test('app.close() of a node says 1001 to its clients through nginx', async (t) => {
  const node = await startNode(t, { nodeId: 'leaving' })
  const nginx = await startNginxFor(t, { nodePorts: [node.port] })
  const client = await connect(t, wsUrl(nginx.url))
  const direct = await connect(t, wsUrl(node.url))
  await node.app.close()
  t.equal((await client.closed).code, CloseCode.GOING_AWAY, 'through nginx')
  t.equal((await direct.closed).code, CloseCode.GOING_AWAY, 'direct')
})
