// A TCP proxy between WebSocket clients and one or more servers, for the cuts a network makes:
// `cut()` closes every link (both sides see it), `blackHole()` stops forwarding on every link
// without closing anything (no FIN: the peers only learn from their heartbeats). New
// connections are forwarded normally; with several targets they go to each in turn.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { once } from 'node:events'

export interface TcpProxy {
  port: number
  /** Connections accepted so far. */
  connections: number
  cut: () => void
  blackHole: () => void
}

interface Link {
  client: Socket
  upstream: Socket
  silent: boolean
}

/** Anything that runs cleanups at the end: a tap `Test`, or the benchmark's own list. */
export interface Teardown {
  teardown: (fn: () => unknown) => void
}

export async function startTcpProxy (t: Teardown, targets: number[]): Promise<TcpProxy> {
  const links = new Set<Link>()
  const server = createServer((client) => {
    const target = targets[proxy.connections++ % targets.length]!
    const upstream = connect(target, '127.0.0.1')
    const link: Link = { client, upstream, silent: false }
    links.add(link)
    client.on('error', () => {})
    upstream.on('error', () => {})
    client.on('data', (data: Buffer) => { if (!link.silent) upstream.write(data) })
    upstream.on('data', (data: Buffer) => { if (!link.silent) client.write(data) })
    // A black-holed link tells neither side that the other has gone.
    client.on('close', () => { if (!link.silent) { upstream.destroy(); links.delete(link) } })
    upstream.on('close', () => { if (!link.silent) { client.destroy(); links.delete(link) } })
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const link of links) { link.client.destroy(); link.upstream.destroy() }
    await new Promise((resolve) => server.close(resolve))
  })
  const proxy: TcpProxy = {
    port: (server.address() as AddressInfo).port,
    connections: 0,
    cut: () => {
      for (const link of links) { link.client.destroy(); link.upstream.destroy() }
    },
    blackHole: () => {
      for (const link of links) link.silent = true
    }
  }
  return proxy
}
