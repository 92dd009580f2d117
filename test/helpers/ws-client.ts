// A real `ws` client for tests: queues every frame it receives so a test can await the
// next one that matches, instead of sleeping.
import WebSocket from 'ws'
import type { ServerMessage, WelcomeMessage } from '../../lib/protocol.js'

export type Frame = ServerMessage & Record<string, any>

interface Waiter {
  match: (frame: Frame) => boolean
  resolve: (frame: Frame) => void
  reject: (err: Error) => void
  timer: NodeJS.Timeout
}

export interface Closed {
  code: number
  reason: string
}

export class TestClient {
  readonly socket: WebSocket
  /** Every frame received, in order, including those already awaited. */
  readonly received: Frame[] = []
  readonly closed: Promise<Closed>
  welcome!: WelcomeMessage
  #unclaimed: Frame[] = []
  #waiters: Waiter[] = []

  private constructor (socket: WebSocket) {
    this.socket = socket
    this.closed = new Promise((resolve) => {
      socket.on('close', (code, reason) => {
        for (const waiter of this.#waiters.splice(0)) {
          clearTimeout(waiter.timer)
          waiter.reject(new Error(`socket closed (${code}) while waiting for a frame`))
        }
        resolve({ code, reason: reason.toString() })
      })
    })
    socket.on('message', (data, isBinary) => {
      const frame = JSON.parse(isBinary ? '{}' : data.toString()) as Frame
      this.received.push(frame)
      const index = this.#waiters.findIndex((waiter) => waiter.match(frame))
      if (index === -1) {
        this.#unclaimed.push(frame)
        return
      }
      const [waiter] = this.#waiters.splice(index, 1)
      clearTimeout(waiter!.timer)
      waiter!.resolve(frame)
    })
  }

  /** Opens a socket and waits for the server's welcome frame. */
  static async connect (url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
    const socket = new WebSocket(url, options)
    const client = new TestClient(socket)
    await new Promise<void>((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
      socket.once('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)))
    })
    client.welcome = await client.next((frame) => frame.type === 'welcome') as WelcomeMessage
    return client
  }

  /** Resolves with the next frame (received or still to come) that `match` accepts. */
  next (match: (frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    const index = this.#unclaimed.findIndex(match)
    if (index !== -1) return Promise.resolve(this.#unclaimed.splice(index, 1)[0]!)
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1)
          reject(new Error('timed out waiting for a frame'))
        }, timeoutMs)
      }
      this.#waiters.push(waiter)
    })
  }

  /** The next frame of a given type. */
  nextOfType (type: string, timeoutMs?: number): Promise<Frame> {
    return this.next((frame) => frame.type === type, timeoutMs)
  }

  send (message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /** Sends a request and waits for the frame answering its id (ack, subscribed, error...). */
  async request (message: Record<string, unknown>, id = String(Math.random()).slice(2)): Promise<Frame> {
    const answer = this.next((frame) => frame.id === id)
    this.send({ ...message, id })
    return await answer
  }

  async subscribe (channel: string): Promise<Frame> {
    return await this.request({ type: 'subscribe', channel })
  }

  /** Frames received so far that match, without claiming them. */
  seen (match: (frame: Frame) => boolean): Frame[] {
    return this.received.filter(match)
  }

  async close (): Promise<Closed> {
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close()
    return await this.closed
  }
}
