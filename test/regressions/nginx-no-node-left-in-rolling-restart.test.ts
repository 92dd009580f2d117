// The example nginx.conf left clients with no node during a rolling restart. With nginx's
// default `max_fails=1 fail_timeout=10s`, one refused connect while node A restarted took A out
// for 10 s; when node B then drained, its 503 (counted as a failure, as `proxy_next_upstream`
// names http_503) took B out too. nginx had no node left and answered every handshake with an
// error, so clients backed off for up to 30 s although A was up and ready. The upstream servers
// now have `max_fails=0`: nginx never takes a node out and tries the other one per request.
import { request } from 'node:http'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { buildApp } from '../../example-app/app.js'
import { freePort, startNginxFor, startNode } from '../helpers/example-cluster.js'
import { TestClient } from '../helpers/ws-client.js'

/** Loopback addresses in different /24 networks: ip_hash sends them to different nodes. */
const sources = Array.from({ length: 16 }, (_, index) => `127.0.${index + 1}.1`)

/** A GET through nginx from `localAddress`; resolves with the status, whatever it is. */
function get (url: string, localAddress: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { localAddress }, (response) => {
      response.resume()
      resolve(response.statusCode ?? 0)
    }).on('error', reject).end()
  })
}

t.test('a node that was refusing connections is used again at once while the other node drains', async (t) => {
  const portA = await freePort()
  // Built now, listening later: node A is "restarting".
  const a = await buildApp({ nodeId: 'node-a' })
  t.teardown(() => a.close())
  const b = await startNode(t, { nodeId: 'node-b' })
  const nginx = await startNginxFor(t, { nodePorts: [portA, b.port] })

  // While A is down, requests hashed to it are refused and go on to B.
  for (const source of sources) t.equal(await get(`${nginx.url}/api/stats`, source), 200, `from ${source}`)
  const errorLog = await readFile(join(nginx.prefix, 'logs', 'error.log'), 'utf8')
  t.match(errorLog, `upstream: "http://127.0.0.1:${portA}/api/stats"`, 'nginx did try the node that was down')

  // A is back; B starts its drain (no clients to close, so it stays draining: every handshake 503).
  await a.listen({ port: portA, host: '127.0.0.1' })
  await b.app.realtime.drain({ overMs: 0 })
  t.ok(b.app.realtime.draining, 'node B drains')

  for (const source of sources.slice(0, 6)) {
    const client = await TestClient.connect(`${nginx.url.replace(/^http/, 'ws')}/ws`, { localAddress: source, handshakeTimeout: 5000 })
    t.teardown(() => client.close())
    t.equal(client.welcome.nodeId, 'node-a', `a handshake from ${source} reaches node A`)
  }
})
