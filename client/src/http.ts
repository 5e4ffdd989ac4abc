import { ChatApiError } from './errors.ts'
import type { Problem } from './types.ts'

/**
 * Credentials for one connection attempt or REST call, as the app's auth hook returns them.
 * Browsers cannot set headers on a WebSocket, so sockets carry `token` and `query` only.
 */
export interface AuthParams {
  /**
   * A bearer token for the gateway: `Authorization: Bearer <token>` on REST calls, and the
   * subprotocol `bearer.<token>` (beside `chat`) on sockets, as the reference gateway reads them.
   */
  token?: string
  /** Query parameters for sockets (without a gateway: `user_id`, `nickname`, `email`, `profile_url`). */
  query?: Record<string, string>
  /** Headers for REST calls (without a gateway: `X-User-Id`, … percent-encoded). */
  headers?: Record<string, string>
}

/** What an abort signal offers a hook: a `fetch` signal or `AbortSignal` of its own fits where one is wanted. */
export interface AuthSignal {
  readonly aborted: boolean
  addEventListener(type: 'abort', listener: () => void): void
}

/** What the auth hook is told. */
export interface AuthContext {
  /** The last credentials were refused (401): fresh ones are wanted, not the ones cached. */
  refresh: boolean
  /** With `refresh`: the refusal (`detail` says why, such as an expired token). */
  refused?: ChatApiError
  /**
   * For connection attempts: aborted when the app closes the connection, so a hook that waits
   * (on a sign-in, say) can stop waiting.
   */
  signal?: AuthSignal
}

/** Called before every connection attempt and REST call. */
export type AuthHook = (context: AuthContext) => AuthParams | Promise<AuthParams>

/** What the client needs of a `fetch` answer. */
export interface FetchResponse {
  readonly status: number
  readonly ok: boolean
  readonly headers: { get(name: string): string | null }
  text(): Promise<string>
}

/**
 * A `fetch` function (the global one by default). Uploads go through it too when it is given,
 * their `body` then the file's bytes (a Blob or Uint8Array) rather than text.
 */
export type FetchLike = (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => Promise<FetchResponse>

/** What the client needs of a WebSocket: the browser's, Bun's, or Node's `ws` package. */
export interface WebSocketLike {
  readonly readyState: number
  send(data: string): void
  close(code?: number, reason?: string): void
  addEventListener(type: 'open' | 'error', listener: () => void): void
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void
  addEventListener(type: 'close', listener: (event: { code: number; reason: string }) => void): void
}

/** A WebSocket constructor (the global one by default). */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/** Where and how the client reaches the server. */
export interface TransportOptions {
  /** The server (or gateway) as `https://host[:port]`; in a browser, the page's origin by default. */
  baseUrl?: string
  /** Credentials before each connection attempt and REST call. */
  auth?: AuthHook
  /** Where there is no global WebSocket (Node 20): for instance `import WebSocket from 'ws'`. */
  WebSocket?: WebSocketConstructor
  /** Where there is no global `fetch`, or to wrap it. */
  fetch?: FetchLike
}

/** The `open` readyState every WebSocket implementation shares. */
export const OPEN = 1

type QueryValues = Readonly<Record<string, unknown>>

/** Appends the defined values of `query` to `path`. */
function withQuery(path: string, query: QueryValues = {}): string {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) if (value !== undefined && value !== null) search.set(name, String(value))
  const text = search.toString()
  return text ? `${path}?${text}` : path
}

/** The one place that knows base URLs, credentials and how requests and sockets carry them. */
export class Transport {
  private readonly httpBase: string
  private readonly fetch: FetchLike

  constructor(private readonly options: TransportOptions) {
    const origin = (globalThis as { location?: { origin?: string } }).location?.origin
    const base = options.baseUrl ?? origin
    if (!base) throw new TypeError('baseUrl is required outside a browser page')
    this.httpBase = base.replace(/\/+$/, '')
    const given = options.fetch
    // Called through a closure: a browser's fetch refuses to run with another `this`.
    this.fetch = given ? (url, init) => given(url, init) : (url, init) => globalThis.fetch(url, init)
  }

  /** Asks the app for credentials (none without an auth hook). */
  async authorize(context: AuthContext = { refresh: false }): Promise<AuthParams> {
    return (await this.options.auth?.(context)) ?? {}
  }

  /** Opens a socket on `path` with `auth` and extra query values (since=, epoch=). */
  openSocket(path: string, auth: AuthParams, query: QueryValues = {}): WebSocketLike {
    const Socket = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
    if (!Socket) throw new TypeError('no WebSocket here: pass one as the WebSocket option (in Node 20, the ws package)')
    const url = withQuery(this.httpBase.replace(/^http/, 'ws') + path, { ...auth.query, ...query })
    // The server chooses `chat`; a gateway takes the token from the `bearer.` entry and drops it.
    return auth.token ? new Socket(url, ['chat', `bearer.${auth.token}`]) : new Socket(url)
  }

  /** The address of `path` on the server, with the defined values of `query`. */
  url(path: string, query?: QueryValues): string {
    return this.httpBase + withQuery(path, query)
  }

  /** The headers of a REST call with `auth`'s credentials. */
  headers(auth: AuthParams): Record<string, string> {
    const headers: Record<string, string> = { accept: 'application/json', ...auth.headers }
    if (auth.token) headers.authorization = `Bearer ${auth.token}`
    return headers
  }

  /**
   * Where a request's upload progress can be followed: a browser's XMLHttpRequest, unless the app
   * gave a `fetch` of its own (which then carries uploads too).
   */
  get xhr(): boolean {
    return !this.options.fetch && typeof XMLHttpRequest === 'function'
  }

  /** Posts a body of bytes (a Blob or Uint8Array) through `fetch`: an upload where progress cannot be followed. */
  postBytes(url: string, headers: Record<string, string>, body: unknown, signal?: AuthSignal): Promise<FetchResponse> {
    // The app's fetch is typed for JSON text bodies; it passes an upload's bytes on as they are.
    return this.fetch(url, { method: 'POST', headers, body, signal } as Parameters<FetchLike>[1])
  }

  /** One request with the given credentials, as it comes back. */
  request(method: string, path: string, auth: AuthParams, options: { query?: QueryValues; body?: unknown; timeoutMs?: number } = {}): Promise<FetchResponse> {
    const headers = this.headers(auth)
    const init: Parameters<FetchLike>[1] = { method, headers }
    // The signal rides along for fetch (and for a wrapper that passes `init` on); the type leaves it
    // out so that the declarations need no DOM or Node types.
    if (options.timeoutMs !== undefined) Object.assign(init, { signal: AbortSignal.timeout(options.timeoutMs) })
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json'
      init.body = JSON.stringify(options.body)
    }
    return this.fetch(this.url(path, options.query), init)
  }

  /**
   * A REST call with the app's credentials, asked for again once if they are refused (401).
   * Resolves with the JSON answer (undefined for 204); throws `ChatApiError` for a refusal.
   */
  async call<T>(method: string, path: string, options: { query?: QueryValues; body?: unknown } = {}): Promise<T> {
    let response = await this.request(method, path, await this.authorize(), options)
    // Nothing was done with a 401, so asking again is safe even for a POST.
    if (response.status === 401) response = await this.request(method, path, await this.authorize({ refresh: true, refused: await problemOf(response) }), options)
    if (!response.ok) throw await problemOf(response)
    const text = await response.text()
    return (text ? JSON.parse(text) : undefined) as T
  }
}

/** The refusal in an answer: its problem+json, or one made up from the status when it has none. */
export async function problemOf(response: FetchResponse): Promise<ChatApiError> {
  const text = await response.text().catch(() => '')
  let body: Partial<Problem> = {}
  try {
    const parsed: unknown = JSON.parse(text)
    if (parsed && typeof parsed === 'object') body = parsed as Partial<Problem>
  } catch {}
  const { status } = response
  const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN)
  return new ChatApiError(
    {
      type: body.type ?? 'about:blank',
      title: body.title ?? `HTTP ${status}`,
      status,
      detail: body.detail ?? (text.slice(0, 200) || `HTTP ${status}`),
      code: body.code ?? `http_${status}`,
      ...(body.errors ? { errors: body.errors } : {}),
    },
    Number.isFinite(retryAfter) ? retryAfter : undefined,
  )
}
