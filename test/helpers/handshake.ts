// Handshake probes for tests: what status a WebSocket upgrade gets, with a real ws client
// or with raw bytes over a plain TCP socket (for requests a well-behaved client never sends).
import { connect as netConnect } from 'node:net'
import WebSocket from 'ws'

export interface UpgradeResult {
  /** 101 when the upgrade succeeded, otherwise the HTTP status the server answered. */
  status: number
  /** The opened socket when status is 101 (the caller closes it). */
  socket?: WebSocket
  body?: string
}

/** Tries an upgrade with a real ws client; never rejects for an HTTP refusal. */
export async function tryUpgrade (url: string, options: WebSocket.ClientOptions = {}, protocols?: string | string[]): Promise<UpgradeResult> {
  const socket = new WebSocket(url, protocols, options)
  return await new Promise((resolve, reject) => {
    socket.once('open', () => resolve({ status: 101, socket }))
    socket.once('unexpected-response', (_request, response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
      response.on('error', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    socket.once('error', reject)
  })
}

/** A well-formed upgrade request, as text, for raw tests to take apart. */
export function upgradeRequest (path: string, host: string, headers: Record<string, string> = {}, method = 'GET'): string {
  const all: Record<string, string> = {
    Host: host,
    Connection: 'Upgrade',
    Upgrade: 'websocket',
    'Sec-WebSocket-Version': '13',
    'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
    ...headers
  }
  return `${method} ${path} HTTP/1.1\r\n` + Object.entries(all).map(([name, value]) => `${name}: ${value}\r\n`).join('') + '\r\n'
}

/**
 * Writes `request` on a fresh TCP connection and resolves with the status line's code
 * once the server answers (or 0 when it closes without an HTTP answer).
 */
export async function rawStatus (port: number, request: string | Buffer): Promise<{ status: number, head: string }> {
  return await new Promise((resolve, reject) => {
    const socket = netConnect(port, '127.0.0.1')
    let received = ''
    let settled = false
    const finish = (): void => {
      if (settled) return
      settled = true
      socket.destroy()
      const match = /^HTTP\/1\.1 (\d{3})/.exec(received)
      resolve({ status: match === null ? 0 : Number(match[1]), head: received.split('\r\n\r\n')[0] ?? '' })
    }
    socket.setEncoding('latin1')
    socket.on('data', (chunk: string) => {
      received += chunk
      if (received.includes('\r\n\r\n')) finish()
    })
    socket.on('end', finish)
    socket.on('close', finish)
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // The server may answer and reset while we are still writing a huge request.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish()
      else if (!settled) reject(err)
    })
    socket.write(request)
  })
}
