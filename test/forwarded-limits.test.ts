import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../src/config.ts'
import { createLogger } from '../src/logger.ts'
import { startServer } from '../src/server.ts'
import { endpoint, handshake, identityHeaders, UNLIMITED, type ServerEndpoint, type TestUser } from './support/server.ts'

// Low limits so a handful of requests reaches them: 8 handshakes a minute and 8 rooms an hour, per
// user and per address, each in bursts of 2.
const LOW = { HANDSHAKES_PER_MINUTE: '8', HANDSHAKES_PER_MINUTE_PER_ADDRESS: '8', ROOMS_PER_HOUR: '8', ROOMS_PER_HOUR_PER_ADDRESS: '8' }
const SERVICE_SECRET = 'service-shared-secret-0123456789'
const GATEWAY_SECRET = 'gateway-shared-secret-0123456789'

/** A real server on a free port whose warnings are kept for the test to read. */
interface WatchedServer extends ServerEndpoint {
  warnings(): { msg: string; peer?: string }[]
  destroy(): Promise<void>
}

async function startWatched(env: Record<string, string>): Promise<WatchedServer> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-test-'))
  const lines: string[] = []
  const config = loadConfig({ PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: join(dir, 'chat.db'), ...UNLIMITED, ...LOW, SERVICE_SECRET, ...env })
  const running = await startServer(
    config,
    createLogger('warn', (line) => lines.push(line)),
  )
  return {
    ...endpoint(`http://127.0.0.1:${running.port}`),
    warnings: () => lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 'warn'),
    async destroy() {
      await running.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const user = (name: string): TestUser => ({ user_id: name, nickname: name, email: `${name}@example.com` })
const userPath = (roomId: number, who: TestUser) => `/ws/chat/${roomId}/chat/?${new URLSearchParams(who as unknown as Record<string, string>)}`
const forwardingPeerWarnings = (server: WatchedServer) => server.warnings().filter((w) => w.msg.includes('forwarding for others') && w.msg.includes('TRUSTED_PROXIES'))

/** A room to connect to, made by the app's backend (service calls are not limited). */
async function serviceRoom(server: ServerEndpoint, extra: Record<string, string> = {}): Promise<number> {
  const res = await server.post('/chat/v1/create-room/', { name: 'storm' }, { 'x-service-secret': SERVICE_SECRET, ...extra })
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: number }).id
}

/** The status of each handshake, in order (the upgraded sockets are let go). */
async function handshakes(server: ServerEndpoint, roomId: number, users: TestUser[], headers: (i: number) => Record<string, string>): Promise<number[]> {
  const statuses: number[] = []
  for (const [i, who] of users.entries()) {
    const res = await handshake(server, userPath(roomId, who), headers(i))
    statuses.push(res.status)
    await res.body?.cancel()
  }
  return statuses
}

/** The status of each room creation, one per user, in order. */
async function roomCreations(server: ServerEndpoint, users: TestUser[], headers: (i: number) => Record<string, string>): Promise<number[]> {
  const statuses: number[] = []
  for (const [i, who] of users.entries()) {
    const res = await server.post('/chat/v1/create-room/', { name: `room of ${who.user_id}` }, { ...identityHeaders(who), ...headers(i) })
    statuses.push(res.status)
    await res.body?.cancel()
  }
  return statuses
}

const crowd = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => user(`${prefix}-${i}`))
const times = <T>(n: number, value: T) => Array.from({ length: n }, () => value)

describe('a peer forwarding for others, not in TRUSTED_PROXIES', () => {
  let server: WatchedServer
  let roomId: number
  beforeAll(async () => {
    server = await startWatched({})
    roomId = await serviceRoom(server)
  })
  afterAll(() => server.destroy())

  it('should let a reconnect storm of distinct users through X-Forwarded-For, unlimited by its address', async () => {
    const statuses = await handshakes(server, roomId, crowd('storm', 20), (i) => ({ 'x-forwarded-for': `198.51.100.${i + 1}` }))
    expect(statuses).toEqual(times(20, 101))
  })

  it('should treat Forwarded like X-Forwarded-For', async () => {
    const statuses = await handshakes(server, roomId, crowd('rfc7239', 6), () => ({ forwarded: 'for=192.0.2.60;proto=https' }))
    expect(statuses).toEqual(times(6, 101))
  })

  it('should not count room creations by its address either', async () => {
    expect(await roomCreations(server, crowd('creator', 6), () => ({ 'x-forwarded-for': '203.0.113.7' }))).toEqual(times(6, 201))
  })

  it('should still apply the per-user limits', async () => {
    const repeat = user('repeat')
    const statuses = await handshakes(server, roomId, [repeat, repeat, repeat, repeat], () => ({ 'x-forwarded-for': '203.0.113.7' }))
    expect(statuses).toEqual([101, 101, 429, 429])
    const rooms = await roomCreations(server, [repeat, repeat, repeat], () => ({ 'x-forwarded-for': '203.0.113.7' }))
    expect(rooms).toEqual([201, 201, 429])
  })

  it('should warn once that per-address limits are not applied to it, naming TRUSTED_PROXIES', async () => {
    await handshakes(server, roomId, crowd('late', 3), () => ({ 'x-forwarded-for': '203.0.113.8' }))
    const warnings = forwardingPeerWarnings(server)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.msg).toContain('per-address limits are not applied')
    expect(warnings[0]!.peer).toBe('127.0.0.1')
  })
})

describe('a direct client (no forwarding headers)', () => {
  let server: WatchedServer
  let roomId: number
  beforeAll(async () => {
    server = await startWatched({})
    roomId = await serviceRoom(server)
  })
  afterAll(() => server.destroy())

  it('should have its handshakes counted by its address, whichever users it names', async () => {
    expect(await handshakes(server, roomId, crowd('direct', 4), () => ({}))).toEqual([101, 101, 429, 429])
  })

  it('should have its room creations counted by its address', async () => {
    expect(await roomCreations(server, crowd('maker', 4), () => ({}))).toEqual([201, 201, 429, 429])
  })

  it('should cause no warning about forwarding peers', () => {
    expect(forwardingPeerWarnings(server)).toHaveLength(0)
  })
})

describe('a forwarding peer in TRUSTED_PROXIES', () => {
  let server: WatchedServer
  let roomId: number
  beforeAll(async () => {
    server = await startWatched({ TRUSTED_PROXIES: '127.0.0.1/32,::1' })
    roomId = await serviceRoom(server, { 'x-forwarded-for': '192.0.2.1' })
  })
  afterAll(() => server.destroy())

  it('should count handshakes by the forwarded client address: one address limited, another apart', async () => {
    const nat = await handshakes(server, roomId, crowd('nat', 4), () => ({ 'x-forwarded-for': '203.0.113.7' }))
    expect(nat).toEqual([101, 101, 429, 429])
    const elsewhere = await handshakes(server, roomId, crowd('home', 4), (i) => ({ 'x-forwarded-for': `198.51.100.${i + 1}` }))
    expect(elsewhere).toEqual(times(4, 101))
  })

  it('should count room creations by the forwarded client address', async () => {
    expect(await roomCreations(server, crowd('office', 3), () => ({ 'x-forwarded-for': '203.0.113.9' }))).toEqual([201, 201, 429])
    expect(await roomCreations(server, crowd('cafe', 1), () => ({ 'x-forwarded-for': '198.51.100.50' }))).toEqual([201])
  })

  it('should cause no warning about forwarding peers', () => {
    expect(forwardingPeerWarnings(server)).toHaveLength(0)
  })
})

describe('a forwarding gateway with GATEWAY_SECRET and no TRUSTED_PROXIES', () => {
  let server: WatchedServer
  let roomId: number
  beforeAll(async () => {
    server = await startWatched({ GATEWAY_SECRET })
    roomId = await serviceRoom(server, { 'x-gateway-secret': GATEWAY_SECRET })
  })
  afterAll(() => server.destroy())

  it('should not count its users by address, and warn once only for requests bearing the secret', async () => {
    const outsider = await handshake(server, userPath(roomId, user('outsider')), { 'x-forwarded-for': '203.0.113.7' })
    expect(outsider.status).toBe(401)
    expect(forwardingPeerWarnings(server)).toHaveLength(0)
    const statuses = await handshakes(server, roomId, crowd('gw', 8), () => ({ 'x-gateway-secret': GATEWAY_SECRET, 'x-forwarded-for': '203.0.113.7' }))
    expect(statuses).toEqual(times(8, 101))
    expect(forwardingPeerWarnings(server)).toHaveLength(1)
  })
})
