import type { ServerEndpoint, TestUser } from './server.ts'

/** A frame the server sent, parsed. */
export type Frame = { type: string } & Record<string, unknown>

/**
 * A real WebSocket client that queues what it receives, so tests can await frames in order.
 */
let barrierCount = 0

export class TestSocket {
  readonly frames: Frame[] = []
  readonly closed: Promise<{ code: number; reason: string }>
  private waiters: (() => void)[] = []
  private cursor = 0

  private constructor(readonly ws: WebSocket) {
    ws.addEventListener('message', (event) => {
      this.frames.push(JSON.parse(String(event.data)) as Frame)
      this.wake()
    })
    this.closed = new Promise((resolve) => ws.addEventListener('close', (e) => (this.wake(), resolve({ code: e.code, reason: e.reason }))))
  }

  /** Connects to a room as `user` (query parameters, as the seed's gateway does), with extra query such as `since`. */
  static async connect(server: Pick<ServerEndpoint, 'wsBase'>, roomId: number, user: TestUser, extra: Record<string, string> = {}): Promise<TestSocket> {
    const query = new URLSearchParams({ ...user, ...extra } as Record<string, string>)
    return TestSocket.open(`${server.wsBase}/ws/chat/${roomId}/chat/?${query}`)
  }

  /**
   * A socket that hears everything sent to the room from now on. A socket's live delivery starts
   * once its instance's subscription to the room is set up, which neither its opening nor a
   * `barrier` waits for; `chat.recovered` of since=0 comes after it. (A fresh room's replay is
   * empty or short.)
   */
  static async live(server: Pick<ServerEndpoint, 'wsBase'>, roomId: number, user: TestUser): Promise<TestSocket> {
    const socket = await TestSocket.connect(server, roomId, user, { since: '0' })
    await socket.next('chat.recovered')
    return socket
  }

  /** Opens `user`'s inbox stream (`WS /ws/chat/inbox/`); wait for `inbox.ready` before relying on it. */
  static inbox(server: Pick<ServerEndpoint, 'wsBase'>, user: TestUser): Promise<TestSocket> {
    return TestSocket.open(`${server.wsBase}/ws/chat/inbox/?${new URLSearchParams({ ...user } as Record<string, string>)}`)
  }

  /** Opens `url`; `protocols` are offered in Sec-WebSocket-Protocol, as a browser's second argument does. */
  static open(url: string, options?: { headers?: Record<string, string>; protocols?: string[] }): Promise<TestSocket> {
    const ws = new WebSocket(url, options as never)
    const socket = new TestSocket(ws)
    return new Promise((resolve, reject) => {
      ws.addEventListener('open', () => resolve(socket), { once: true })
      ws.addEventListener('error', () => reject(new Error(`could not connect to ${url}`)), { once: true })
    })
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  sendMessage(message: string, clientMsgId?: string): void {
    this.send(clientMsgId === undefined ? { type: 'chat.message', message } : { type: 'chat.message', message, client_msg_id: clientMsgId })
  }

  /** The next frame not yet taken that matches, waiting up to `timeoutMs`. Frames before it are skipped. */
  async next(match: string | ((f: Frame) => boolean) = () => true, timeoutMs = 5000): Promise<Frame> {
    const test = typeof match === 'string' ? (f: Frame) => f.type === match : match
    const deadline = Date.now() + timeoutMs
    for (;;) {
      while (this.cursor < this.frames.length) {
        const frame = this.frames[this.cursor++]!
        if (test(frame)) return frame
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no frame matching ${typeof match === 'string' ? match : 'predicate'} within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => (clearTimeout(timer), resolve()))
      })
    }
  }

  /** Waits until `count` frames of `type` have arrived in total, and returns them. */
  async collect(type: string, count: number, timeoutMs = 10_000): Promise<Frame[]> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.frames.filter((f) => f.type === type)
      if (found.length >= count) return found
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`only ${found.length} of ${count} ${type} frames within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => (clearTimeout(timer), resolve()))
      })
    }
  }

  /** All frames of a type received so far. */
  all(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type)
  }

  /**
   * Waits until the server has handled every frame this socket sent so far: it answers an
   * unknown type with a chat.error naming it, after the frames before it. Does not consume frames.
   */
  async barrier(timeoutMs = 5000): Promise<void> {
    const token = `__barrier_${++barrierCount}__`
    this.send({ type: token })
    const deadline = Date.now() + timeoutMs
    while (!this.frames.some((f) => f.type === 'chat.error' && String(f.message).includes(token))) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('barrier timed out')
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => (clearTimeout(timer), resolve()))
      })
    }
  }

  /** Closes and waits for the close to complete. */
  async close(): Promise<void> {
    this.ws.close()
    await this.closed
  }

  private wake() {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }
}
