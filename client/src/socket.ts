import { backoffDelay, type BackoffOptions } from './backoff.ts'
import { ChatApiError } from './errors.ts'
import { OPEN, problemOf, type AuthParams, type Transport, type WebSocketLike } from './http.ts'
import type { RoomClientFrame } from './types.ts'

/** Where a connection is: opening, live, waiting to reconnect, or ended. */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** Why a connection ended for good; it does not reconnect after any of these. */
export interface StopInfo {
  /**
   * `removed`: the server closed it with 4403 (removed from the room). `banned`: closed with 4403
   * `banned`, or a handshake refused 403 `banned` (a moderator banned the user from the room).
   * `policy`: closed with 1008 (kept sending past the rate limit). `refused`: the handshake was
   * refused for a reason a retry will not change (no such room, not a member, invalid identity:
   * see `error`). `unauthorized`: the credentials were refused again and again, fresh ones too.
   */
  reason: 'removed' | 'banned' | 'policy' | 'refused' | 'unauthorized'
  /** The close code, when the server closed an open socket. */
  closeCode?: number
  /** The close reason the server gave, or what the refusal said. */
  message: string
  /** The problem the server answered, for `refused` and `unauthorized`. */
  error?: ChatApiError
}

/** How a connection retries. */
export interface ReconnectOptions extends BackoffOptions {
  /** Refused credentials in a row (each after asking the auth hook afresh) before giving up (default 3). */
  maxAuthFailures?: number
  /** A handshake not answered within this long is given up and tried again (default 10 s): a path that swallows it would otherwise hang the connection. */
  handshakeTimeoutMs?: number
}

/** What the owner of a socket (a room, the inbox) does with it. */
export interface SocketOwner {
  /** The socket path and the query of the next attempt (since=, epoch=). */
  target(): { path: string; query?: Record<string, string | number> }
  /** A REST path answered with the same checks as the handshake: its status says why one was refused. */
  readonly probePath: string
  opened(): void
  /** A frame from the server, parsed from JSON. */
  frame(frame: unknown): void
  /** The open socket closed; a reconnect follows unless `stopped` is called. */
  dropped(code: number): void
  state(state: ConnectionState): void
  stopped(info: StopInfo): void
  error(error: Error): void
}

/** A connection open this long counts as healthy: the next failure starts the backoff afresh. */
const STABLE_MS = 5_000

/** Statuses a retry will not change: the handshake was refused on its merits. */
const FINAL_STATUSES = new Set([400, 403, 404])

/**
 * One logical connection over successive WebSockets: asks for credentials before each attempt,
 * reconnects with full-jitter backoff, finds out why a handshake was refused (a browser is not
 * told the HTTP status, so it asks the REST API the same question), and stops for good on the
 * close codes and refusals that say so.
 */
export class ReconnectingSocket {
  private current: WebSocketLike | null = null
  private phase: ConnectionState = 'connecting'
  private attempt = 0
  private authFailures = 0
  /** Set while fresh credentials are wanted: the refusal of the last ones. */
  private refusal: ChatApiError | null = null
  /** Aborted by `close()`: the auth hook may be waiting on something. */
  private readonly closing = new AbortController()
  private openedAt = 0
  private timer: ReturnType<typeof setTimeout> | undefined

  constructor(
    private readonly transport: Transport,
    private readonly owner: SocketOwner,
    private readonly options: ReconnectOptions = {},
  ) {}

  get state(): ConnectionState {
    return this.phase
  }

  private get handshakeTimeoutMs(): number {
    return this.options.handshakeTimeoutMs ?? 10_000
  }

  get isOpen(): boolean {
    return this.phase === 'open' && this.current?.readyState === OPEN
  }

  /** Starts the first attempt. */
  start(): void {
    this.connectAfter(0)
  }

  /** Sends a frame if the socket is open; false otherwise. */
  send(frame: RoomClientFrame): boolean {
    if (!this.isOpen) return false
    this.current!.send(JSON.stringify(frame))
    return true
  }

  /** Drops the open socket and connects again (after the usual backoff). */
  reconnect(reason: string): void {
    const socket = this.current
    if (!socket || this.phase === 'closed') return
    this.current = null
    socket.close(4000, reason)
    this.owner.dropped(4000)
    this.retry()
  }

  /** Ends the connection from the app's side. */
  close(): void {
    this.end()
    this.closing.abort()
    this.current?.close(1000, 'closed by the client')
    this.current = null
  }

  private end(): void {
    clearTimeout(this.timer)
    this.setState('closed')
  }

  private stop(info: StopInfo): void {
    this.end()
    this.owner.stopped(info)
  }

  private setState(state: ConnectionState): void {
    if (this.phase === state || this.phase === 'closed') return
    this.phase = state
    this.owner.state(state)
  }

  private async connect(): Promise<void> {
    let auth: AuthParams
    try {
      const refused = this.refusal
      auth = await this.transport.authorize(refused ? { refresh: true, refused, signal: this.closing.signal } : { refresh: false, signal: this.closing.signal })
    } catch (error) {
      if (this.phase === 'closed') return
      this.owner.error(error instanceof Error ? error : new Error(String(error)))
      return this.authRefused(`the auth hook failed: ${String(error)}`)
    }
    if (this.phase === 'closed') return
    this.refusal = null
    const { path, query } = this.owner.target()
    let socket: WebSocketLike
    try {
      socket = this.transport.openSocket(path, auth, query)
    } catch (error) {
      // A URL or subprotocol the WebSocket will not take: no retry can fix that.
      return this.stop({ reason: 'refused', message: String(error) })
    }
    this.current = socket
    let opened = false
    const handshakeTimer = setTimeout(() => {
      if (this.current !== socket) return
      // Unanswered: this socket is let go (its own close is ignored) and the attempt counts as refused.
      this.current = null
      socket.close()
      void this.refused(auth)
    }, this.handshakeTimeoutMs)
    socket.addEventListener('open', () => {
      clearTimeout(handshakeTimer)
      if (this.current !== socket) return
      opened = true
      this.openedAt = Date.now()
      this.authFailures = 0
      this.setState('open')
      this.owner.opened()
    })
    socket.addEventListener('message', (event) => {
      if (this.current !== socket) return
      let frame: unknown
      try {
        frame = JSON.parse(String(event.data))
      } catch {
        return this.owner.error(new Error('the server sent a frame that is not JSON'))
      }
      this.owner.frame(frame)
    })
    // Node's `ws` throws an 'error' nobody listens to; the 'close' that follows says what to do.
    socket.addEventListener('error', () => {})
    socket.addEventListener('close', (event) => {
      clearTimeout(handshakeTimer)
      if (this.current !== socket) return
      this.current = null
      if (opened) this.closed(event.code, event.reason)
      else void this.refused(auth)
    })
  }

  /** An open socket closed. */
  private closed(code: number, reason: string): void {
    this.owner.dropped(code)
    if (code === 4403) return this.stop({ reason: reason === 'banned' ? reason : 'removed', closeCode: code, message: reason || 'removed from the room' })
    if (code === 1008) return this.stop({ reason: 'policy', closeCode: code, message: reason || 'closed for sending too fast' })
    // 1001 (shutdown), 1013 (too slow, or live delivery away), 1006 (network) and the rest: reconnect.
    if (Date.now() - this.openedAt >= STABLE_MS) this.attempt = 0
    this.retry()
  }

  /**
   * The handshake failed before the upgrade. The server answered it with an HTTP status, which a
   * browser's WebSocket does not reveal; the probe asks the REST API, with the same credentials,
   * a question that passes the same checks (gateway token, identity, room, membership).
   */
  private async refused(auth: AuthParams): Promise<void> {
    let problem: ChatApiError | null = null
    try {
      // Bounded like the handshake: a path that swallows one swallows this too.
      const response = await this.transport.request('GET', this.owner.probePath, auth, { timeoutMs: this.handshakeTimeoutMs })
      if (!response.ok) problem = await problemOf(response)
    } catch {
      // The server is unreachable: a plain retry.
    }
    if (this.phase === 'closed') return
    if (problem?.status === 401) return this.authRefused(problem.detail, problem)
    if (problem && FINAL_STATUSES.has(problem.status)) return this.stop({ reason: problem.code === 'banned' ? 'banned' : 'refused', message: problem.detail, error: problem })
    this.setState('reconnecting')
    this.retry(problem?.retryAfter === undefined ? 0 : problem.retryAfter * 1000)
  }

  /** The credentials were refused: ask for fresh ones at once the first time, then back off, then give up. */
  private authRefused(message: string, error?: ChatApiError): void {
    this.refusal = error ?? new ChatApiError({ type: 'about:blank', title: 'Unauthorized', status: 401, detail: message, code: 'auth_hook_failed' })
    if (++this.authFailures >= (this.options.maxAuthFailures ?? 3)) return this.stop({ reason: 'unauthorized', message, ...(error ? { error } : {}) })
    this.setState('reconnecting')
    if (this.authFailures === 1) this.connectAfter(0)
    else this.retry()
  }

  /** Waits the backoff (at least `atLeastMs`), then connects again. */
  private retry(atLeastMs = 0): void {
    if (this.phase === 'closed') return
    this.setState('reconnecting')
    this.connectAfter(Math.max(atLeastMs, backoffDelay(this.attempt++, this.options)))
  }

  private connectAfter(delayMs: number): void {
    clearTimeout(this.timer)
    this.timer = setTimeout(() => this.connect().catch((error: unknown) => this.owner.error(error instanceof Error ? error : new Error(String(error)))), delayMs)
  }
}
