// Why this client and not undici's Pool (measured 2026-12-06, Bun 1.4.5, undici 8.14.1, 2 shared cores):
// `npx bun bench/webhook-client.ts --requests 20000 --rounds 11` (20,000 signed 327-byte POSTs, 8 at
// once, keep-alive; medians of 11 alternating rounds, min–max of the per-round ratios) gave undici
// 0.59x the requests/s (0.45–0.75), 1.87x the CPU per request (1.51–2.72: 32.8 µs against 17.5) and
// 1.8x the p50 latency. On the binary, `npx bun bench/webhooks.ts --binary dist/chat-server
// --seconds 5 --rounds 5` (two runs each; post.ts on a Pool for undici's) stored 0.81–0.83x of
// webhooks-off with this client, 0.50–0.61x with undici. undici also reads an endless status line,
// chunk extension or run of 103 heads until the timeout, drops credentials given in the URL, does
// not resend on a connection closed while idle, and keeps a connection that answered before a
// request's body went out whole. (The devDependency is undici 7, which still runs on Node 20; a
// single round with it gave the same picture: 0.35x the requests/s, 3.1x the CPU per request.)
import type { Socket } from 'bun'
import { RequestFailed, ResponseReader, type PostAnswer } from './response-reader.ts'

/** An idle connection is closed after this long: before common servers' keep-alive timeouts (5 s in Node's). */
const IDLE_MS = 4000

/** One connection, one request at a time. */
class Connection {
  private reader: ResponseReader | null = null
  private settle: { resolve(answer: PostAnswer & { keepAlive: boolean }): void; reject(error: RequestFailed): void } | null = null
  private unsent: Buffer | null = null
  private idleTimer: ReturnType<typeof setTimeout> | undefined
  closed = false
  /** Requests this connection carried: a reused one may have been closed by the server meanwhile. */
  used = 0
  /** Bytes of the answer to the request under way. */
  private received = 0

  private constructor(private readonly onClose: (c: Connection) => void) {}

  private socket!: Socket<undefined>

  static async open(host: string, port: number, onClose: (c: Connection) => void): Promise<Connection> {
    const connection = new Connection(onClose)
    try {
      connection.socket = await Bun.connect({
        hostname: host,
        port,
        socket: {
          data: (_socket, data) => connection.data(data),
          drain: () => connection.drain(),
          end: () => connection.end(),
          close: () => connection.end(),
          error: (_socket, error) => connection.fail(new RequestFailed(`request failed: ${error.message}`)),
          connectError: () => {},
        },
      })
    } catch (error) {
      throw new RequestFailed(`request failed: ${error instanceof Error ? error.message : String(error)}`)
    }
    return connection
  }

  /** Sends one request and waits for its answer. */
  request(bytes: Buffer): Promise<PostAnswer & { keepAlive: boolean }> {
    clearTimeout(this.idleTimer)
    this.used++
    this.received = 0
    this.reader = new ResponseReader()
    return new Promise((resolve, reject) => {
      this.settle = { resolve, reject }
      this.write(bytes)
    })
  }

  /** Whether all of the last request went out (a server may answer before reading it all). */
  get flushed(): boolean {
    return this.unsent === null
  }

  /** Whether any of an answer to the last request came. */
  get answered(): boolean {
    return this.received > 0
  }

  /** Parks the connection for the next request; it closes itself if none comes soon. */
  idle(): void {
    this.idleTimer = setTimeout(() => this.close(), IDLE_MS)
    this.idleTimer.unref()
  }

  close(): void {
    clearTimeout(this.idleTimer)
    if (!this.closed) this.socket.end()
    this.end()
  }

  private write(bytes: Buffer): void {
    const written = this.socket.write(bytes)
    this.unsent = written < bytes.length ? bytes.subarray(Math.max(0, written)) : null
  }

  private drain(): void {
    if (this.unsent) this.write(this.unsent)
  }

  private data(chunk: Buffer): void {
    this.received += chunk.length
    if (!this.reader || !this.settle) return this.fail(new RequestFailed('the server sent bytes nobody asked for'))
    try {
      const answer = this.reader.feed(chunk)
      if (answer) this.done(answer)
    } catch (error) {
      this.fail(error instanceof RequestFailed ? error : new RequestFailed(String(error)))
    }
  }

  private end(): void {
    if (this.closed) return
    this.closed = true
    this.socket?.end()
    clearTimeout(this.idleTimer)
    const answer = this.reader?.ended()
    if (answer) this.done(answer)
    else this.fail(new RequestFailed('request failed: the connection closed before an answer'))
    this.onClose(this)
  }

  private done(answer: PostAnswer & { keepAlive: boolean }): void {
    const settle = this.settle
    this.settle = null
    this.reader = null
    settle?.resolve(answer)
  }

  private fail(error: RequestFailed): void {
    const settle = this.settle
    this.settle = null
    this.reader = null
    if (!this.closed) this.socket.terminate()
    settle?.reject(error)
  }
}

/**
 * POSTs to one http:// origin over keep-alive connections: a fraction of `fetch`'s cost per
 * request (measured in bench/webhooks.ts), which was most of an event's cost when each went in a
 * POST of its own (WEBHOOK_BATCH=1; in batches, the passes cost more than the POSTs: README).
 * No redirects are followed and no body is kept; an answer past the reader's bounds
 * (response-reader.ts) fails its request and drops its connection. A request on a reused
 * connection that the server closed while it was idle is sent again once on a fresh one.
 */
export class Http1Client {
  private readonly idle: Connection[] = []
  private readonly host: string
  private readonly port: number
  private readonly target: string

  constructor(url: URL) {
    if (url.protocol !== 'http:') throw new TypeError('Http1Client speaks plain http only')
    this.host = url.hostname.replace(/^\[|\]$/g, '')
    this.port = Number(url.port || 80)
    // Credentials in the URL go as Basic auth, as fetch sends them.
    const basic = url.username || url.password ? `authorization: Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}\r\n` : ''
    this.target = `POST ${url.pathname}${url.search} HTTP/1.1\r\nhost: ${url.host}\r\n${basic}`
  }

  /** POSTs `body` with `headers` (names and values the caller vouches for: no CR or LF); rejects with RequestFailed. */
  async post(headers: Record<string, string>, body: string, timeoutMs: number): Promise<PostAnswer> {
    let head = this.target
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`
    const payload = Buffer.from(body)
    const bytes = Buffer.concat([Buffer.from(`${head}content-length: ${payload.length}\r\n\r\n`, 'latin1'), payload])
    const deadline = Date.now() + timeoutMs
    for (let attempt = 0; ; attempt++) {
      const connection = this.idle.pop() ?? (await this.open(deadline))
      const reused = connection.used > 0
      try {
        const answer = await this.withTimeout(connection.request(bytes), deadline, connection)
        // Answered before the whole request went out: the rest must not run into the next request.
        if (answer.keepAlive && !connection.closed && connection.flushed) {
          connection.idle()
          this.idle.push(connection)
        } else connection.close()
        return { status: answer.status, retryAfter: answer.retryAfter }
      } catch (error) {
        connection.close()
        // Closed by the server while it sat idle here, before any answer: the request never counted.
        if (reused && attempt === 0 && error instanceof RequestFailed && error.name !== 'TimeoutError' && !connection.answered) continue
        throw error
      }
    }
  }

  /** Closes every idle connection. */
  close(): void {
    for (const connection of this.idle.splice(0)) connection.close()
  }

  /** A fresh connection, or RequestFailed; one that opens after the deadline is closed at once. */
  private async open(deadline: number): Promise<Connection> {
    const opening = Connection.open(this.host, this.port, (c) => this.forget(c))
    try {
      return await this.withTimeout(opening, deadline)
    } catch (error) {
      opening.then(
        (late) => late.close(),
        () => {},
      )
      throw error
    }
  }

  private forget(connection: Connection): void {
    const at = this.idle.indexOf(connection)
    if (at !== -1) this.idle.splice(at, 1)
  }

  private withTimeout<T>(promise: Promise<T>, deadline: number, connection?: Connection): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => {
          // Rejected first: the close below settles the request too, and the race takes the first.
          reject(new RequestFailed('no answer in time', 'TimeoutError'))
          connection?.close()
        },
        Math.max(0, deadline - Date.now()),
      )
    })
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
  }
}
