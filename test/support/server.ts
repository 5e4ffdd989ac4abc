import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Clock } from '../../src/clock.ts'
import { loadConfig, type Config } from '../../src/config.ts'
import { createLogger } from '../../src/logger.ts'
import { startServer, type RunningServer } from '../../src/server.ts'

/** Where a running server answers, with small request helpers. */
export interface ServerEndpoint {
  base: string
  wsBase: string
  /** fetch() against the server, path relative to its root. */
  http(path: string, init?: RequestInit): Promise<Response>
  /** JSON POST helper. */
  post(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>
}

/** The endpoint of a server at `base` (http://host:port). */
export function endpoint(base: string): ServerEndpoint {
  return {
    base,
    wsBase: base.replace(/^http/, 'ws'),
    http: (path, init) => fetch(base + path, init),
    post: (path, body, headers = {}) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) }),
  }
}

/** A real server on a free port over a fresh SQLite file. */
export interface TestServer extends ServerEndpoint {
  config: Config
  dir: string
  /** Stops the server, keeping the data file (see `restart`). */
  stop(): Promise<void>
  /** Stops and starts again on the same data file and the same port. */
  restart(): Promise<TestServer>
  /** Stops and removes the data. */
  destroy(): Promise<void>
}

/**
 * Most tests send in bursts far above the default rate limits (300 messages at once, dozens of
 * rooms and sockets a second from one address); they run with the limits out of the way. Tests of
 * the limits pass the defaults back in.
 */
export const UNLIMITED = {
  RATE_LIMIT_PER_SECOND: '1000000',
  RATE_LIMIT_BURST: '1000000',
  HANDSHAKES_PER_MINUTE: '1000000',
  HANDSHAKES_PER_MINUTE_PER_ADDRESS: '1000000',
  ROOMS_PER_HOUR: '1000000',
  ROOMS_PER_HOUR_PER_ADDRESS: '1000000',
  MEMBER_CHANGES_PER_MINUTE: '1000000',
}

export async function startTestServer(env: Record<string, string> = {}, dir = mkdtempSync(join(tmpdir(), 'chat-test-')), clock?: Clock): Promise<TestServer> {
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: join(dir, 'chat.db'), LOG_LEVEL: 'silent', ...UNLIMITED, ...env })
  const running: RunningServer = await startServer(config, createLogger(config.LOG_LEVEL), clock)
  const base = `http://127.0.0.1:${running.port}`
  let stopped = false
  const stop = async () => {
    if (stopped) return
    stopped = true
    await running.stop()
  }
  const server: TestServer = {
    ...endpoint(base),
    config,
    dir,
    stop,
    async restart() {
      await stop()
      return startTestServer({ ...env, PORT: String(running.port) }, dir, clock)
    },
    async destroy() {
      await stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
  return server
}

/** A user as the gateway would describe them. */
export interface TestUser {
  user_id: string
  nickname: string
  email: string
  profile_url?: string
}

export const alice: TestUser = { user_id: 'u-alice', nickname: 'Alice', email: 'alice@example.com', profile_url: '/media/alice.png' }
export const bob: TestUser = { user_id: 'u-bob', nickname: '밥', email: 'bob@example.com' }
export const carol: TestUser = { user_id: 'u-carol', nickname: 'Carol', email: 'carol@example.com', profile_url: 'https://cdn.example.com/c.jpg' }

/** The identity headers a gateway sends, non-ASCII percent-encoded. */
export function identityHeaders(user: TestUser): Record<string, string> {
  const headers: Record<string, string> = {
    'x-user-id': encodeURIComponent(user.user_id),
    'x-nickname': encodeURIComponent(user.nickname),
    'x-email': encodeURIComponent(user.email),
  }
  if (user.profile_url) headers['x-profile-url'] = encodeURIComponent(user.profile_url)
  return headers
}

/** Creates a room and returns its id. */
export async function createRoom(server: ServerEndpoint, name = 'room', postId?: number): Promise<number> {
  const res = await server.post('/chat/v1/create-room/', postId === undefined ? { name } : { name, post_id: postId })
  if (res.status !== 201 && res.status !== 200) throw new Error(`create-room answered ${res.status}: ${await res.text()}`)
  return ((await res.json()) as { id: number }).id
}

/** Sends a raw WebSocket handshake and returns the refusal (or 101). */
export function handshake(server: ServerEndpoint, path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(server.base + path, {
    headers: {
      connection: 'Upgrade',
      upgrade: 'websocket',
      'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'sec-websocket-version': '13',
      ...headers,
    },
  })
}

/** Every stored message id of a room above `after`, in order, paged through the REST API. */
export async function storedIds(server: Pick<ServerEndpoint, 'base'>, roomId: number, after = 0): Promise<number[]> {
  const ids: number[] = []
  for (;;) {
    const page = (await (await fetch(`${server.base}/chat/v1/room/${roomId}/messages/?after=${after}&limit=200`)).json()) as { id: number }[]
    if (page.length === 0) return ids
    ids.push(...page.map((m) => m.id))
    after = page.at(-1)!.id
  }
}
