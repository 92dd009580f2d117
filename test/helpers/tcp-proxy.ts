// A TCP proxy in front of a real server, for the faults a stopped server cannot make: a link
// cut without a close handshake, and a half-open link whose traffic is black-holed in both
// directions (no FIN, no RST: what a dead NAT entry or a pulled cable looks like).
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { once } from 'node:events'
import type { Test } from 'tap'

export interface TcpLink {
  /** While true, bytes in both directions are dropped; neither side notices. */
  blackHole: boolean
  /** Destroys both sides, as a network failure would. */
  cut: () => void
}

export interface TcpProxy {
  port: number
  /** Links in the order clients opened them. */
  links: TcpLink[]
  /** Resolves with the next link a client opens. */
  nextLink: () => Promise<TcpLink>
  /** `ws://127.0.0.1:<port><path>`. */
  url: (path?: string) => string
}

export async function startTcpProxy (t: Test, targetPort: number): Promise<TcpProxy> {
  const links: TcpLink[] = []
  const waiting: Array<(link: TcpLink) => void> = []
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
    }
    const link: TcpLink = {
      blackHole: false,
      cut: () => {
        client.destroy()
        upstream.destroy()
      }
    }
    client.on('data', (data: Buffer) => { if (!link.blackHole) upstream.write(data) })
    upstream.on('data', (data: Buffer) => { if (!link.blackHole) client.write(data) })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    links.push(link)
    waiting.shift()?.(link)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const socket of sockets) socket.destroy()
    await new Promise((resolve) => server.close(resolve))
  })
  const port = (server.address() as AddressInfo).port
  return {
    port,
    links,
    nextLink: () => new Promise((resolve) => waiting.push(resolve)),
    url: (path = '/ws') => `ws://127.0.0.1:${port}${path}`
  }
}
