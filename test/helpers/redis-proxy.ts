// A TCP proxy between a broker and a real redis-server, for faults a killed server cannot
// make on its own: a link on which commands reach Redis but the replies never come back,
// then a cut with those commands unanswered, a Redis that refuses new connections for
// a while, and a black hole: links that stay open but carry nothing (a hung server, a
// partition, a NAT that forgot the connection). Each client connection gets its own link, found by what the client wrote on it
// (ioredis sends its connection name first).
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { once } from 'node:events'
import type { Test } from 'tap'

export interface ProxyLink {
  /** While true, Redis' replies on this link are dropped before they reach the client. */
  swallowReplies: boolean
  /** While true, nothing crosses this link in either direction, and it stays open. */
  blackHole: boolean
  /** Resolves once the client has written `text` on this link (a channel name, a payload). */
  written: (text: string) => Promise<void>
  /** Drops the link on both sides, as a network failure would. */
  cut: () => void
}

export interface RedisProxy {
  port: number
  url: string
  /** The latest link whose client wrote `text`, or the next one that does. */
  link: (text: string) => Promise<ProxyLink>
  /** While true, new connections are closed as soon as they are accepted, as if Redis were away. */
  refuse: boolean
  /** How many connections were refused so far. */
  refused: number
  /** While true, every link (open ones and new ones) is a black hole: accepted, open, silent. */
  blackHole: boolean
}

interface LinkState extends ProxyLink {
  sent: string
  client: Socket
  upstream: Socket
  waiters: Array<{ text: string, resolve: () => void }>
}

export async function startRedisProxy (t: Test, redisPort: number): Promise<RedisProxy> {
  const links: LinkState[] = []
  const linkWaiters: Array<{ text: string, resolve: (link: ProxyLink) => void }> = []

  const onWritten = (link: LinkState): void => {
    link.waiters = link.waiters.filter((waiter) => {
      if (!link.sent.includes(waiter.text)) return true
      waiter.resolve()
      return false
    })
    for (const waiter of linkWaiters.filter((w) => link.sent.includes(w.text))) {
      linkWaiters.splice(linkWaiters.indexOf(waiter), 1)
      waiter.resolve(link)
    }
  }

  const server = createServer((client) => {
    client.on('error', () => {})
    if (proxy.refuse) {
      proxy.refused++
      client.destroy()
      return
    }
    const upstream = connect(redisPort, '127.0.0.1')
    upstream.on('error', () => {})
    const link: LinkState = {
      sent: '',
      client,
      upstream,
      waiters: [],
      swallowReplies: false,
      blackHole: false,
      written: (text) => new Promise((resolve) => {
        link.waiters.push({ text, resolve })
        onWritten(link)
      }),
      cut: () => {
        client.destroy()
        upstream.destroy()
      }
    }
    links.push(link)
    const silent = (): boolean => proxy.blackHole || link.blackHole
    client.on('data', (data: Buffer) => {
      // Lost on the way, not delayed: Redis never sees what was written into the hole.
      if (!silent()) upstream.write(data)
      link.sent += data.toString('latin1')
      onWritten(link)
    })
    upstream.on('data', (data: Buffer) => {
      if (!link.swallowReplies && !silent()) client.write(data)
    })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const port = (server.address() as AddressInfo).port
  t.teardown(async () => {
    for (const link of links) link.cut()
    await new Promise((resolve) => server.close(resolve))
  })

  const proxy: RedisProxy = {
    port,
    url: `redis://127.0.0.1:${port}`,
    refuse: false,
    refused: 0,
    blackHole: false,
    link: (text) => {
      const existing = links.findLast((link) => link.sent.includes(text))
      if (existing !== undefined) return Promise.resolve(existing)
      return new Promise((resolve) => linkWaiters.push({ text, resolve }))
    }
  }
  return proxy
}
