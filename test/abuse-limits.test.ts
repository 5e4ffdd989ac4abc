import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { alice, bob, carol, createRoom, handshake, identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// The defaults: 60 handshakes a minute per user in bursts of 15 (600 and 150 per address), 60 new
// rooms an hour per user in bursts of 15 (600 and 150 per address).
const DEFAULTS = { HANDSHAKES_PER_MINUTE: '60', HANDSHAKES_PER_MINUTE_PER_ADDRESS: '600', ROOMS_PER_HOUR: '60', ROOMS_PER_HOUR_PER_ADDRESS: '600' }
const SECRET = 'gateway-shared-secret-0123456789'

const userPath = (roomId: number, user: TestUser) => `/ws/chat/${roomId}/chat/?${new URLSearchParams(user as unknown as Record<string, string>)}`

describe('handshake limits', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ ...DEFAULTS, HANDSHAKES_PER_MINUTE_PER_ADDRESS: '1000000' })
  })
  afterAll(() => server.destroy())

  it('should refuse a user reconnecting past the burst with 429 and Retry-After, others unaffected', async () => {
    const roomId = await createRoom(server, 'reconnects')
    let refused: Response | undefined
    for (let i = 0; i < 30 && !refused; i++) {
      const res = await handshake(server, userPath(roomId, alice))
      if (res.status === 429) refused = res
      else await res.body?.cancel()
    }
    expect(refused).toBeDefined()
    expect(await refused!.json()).toMatchObject({ code: 'too_many_handshakes' })
    expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    // Another user is not held back by alice's reconnects.
    const other = await TestSocket.connect(server, roomId, bob)
    await other.close()
  })
})

describe('handshake limits per client address', () => {
  let server: TestServer
  beforeAll(async () => {
    // Behind a trusted proxy the client address comes from X-Forwarded-For.
    server = await startTestServer({ ...DEFAULTS, HANDSHAKES_PER_MINUTE: '1000000', HANDSHAKES_PER_MINUTE_PER_ADDRESS: '8', TRUSTED_PROXIES: '127.0.0.1/32,::1', GATEWAY_SECRET: SECRET })
  })
  afterAll(() => server.destroy())

  it('should count every user from one client address together, and addresses apart', async () => {
    const roomId = ((await (await server.post('/chat/v1/create-room/', { name: 'nat' }, { 'x-gateway-secret': SECRET })).json()) as { id: number }).id
    const from = (address: string, user: TestUser) => handshake(server, userPath(roomId, user), { 'x-gateway-secret': SECRET, 'x-forwarded-for': `${address}, 127.0.0.1` })
    const statuses: number[] = []
    for (let i = 0; i < 4; i++) {
      const res = await from('203.0.113.7', { user_id: `nat-${i}`, nickname: `N${i}`, email: `n${i}@example.com` })
      statuses.push(res.status)
      await res.body?.cancel()
    }
    // Bursts of a quarter of 8: two pass, then 429.
    expect(statuses.slice(0, 2)).toEqual([101, 101])
    expect(statuses.slice(2)).toEqual([429, 429])
    const elsewhere = await from('198.51.100.9', carol)
    expect(elsewhere.status).toBe(101)
    await elsewhere.body?.cancel()
  })
})

describe('room creation limits', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ ...DEFAULTS, ROOMS_PER_HOUR_PER_ADDRESS: '1000000' })
  })
  afterAll(() => server.destroy())

  it('should refuse a user more new rooms than the burst with 429, yet still answer rooms that exist', async () => {
    const statuses: number[] = []
    for (let i = 0; i < 20; i++) {
      const res = await server.post('/chat/v1/create-room/', { name: `spam ${i}`, post_id: 10_000 + i }, identityHeaders(alice))
      statuses.push(res.status)
      if (res.status === 429) {
        expect(await res.json()).toMatchObject({ code: 'too_many_rooms' })
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
      }
    }
    expect(statuses.slice(0, 15).every((s) => s === 201)).toBe(true)
    expect(statuses.slice(15).every((s) => s === 429)).toBe(true)
    // Opening a post whose room exists is not creating one.
    expect((await server.post('/chat/v1/create-room/', { name: 'spam 0', post_id: 10_000 }, identityHeaders(alice))).status).toBe(200)
    expect((await server.post('/chat/v1/create-room/', { name: 'mine', post_id: 20_000 }, identityHeaders(bob))).status).toBe(201)
  })
})

describe('presence under fast reconnects', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ PRESENCE_GRACE_MS: '3000' })
  })
  afterAll(() => server.destroy())

  it('should announce one join and no leave for a user reconnecting again and again', async () => {
    const roomId = await createRoom(server, 'flapping')
    const watcher = await TestSocket.connect(server, roomId, carol)
    for (let i = 0; i < 20; i++) {
      const s = await TestSocket.connect(server, roomId, { ...alice, nickname: `Alice ${i}` })
      await s.close()
    }
    const last = await TestSocket.connect(server, roomId, alice)
    await watcher.barrier()
    expect(watcher.all('chat.user.join').filter((f) => f.user_id === alice.user_id)).toHaveLength(1)
    expect(watcher.all('chat.user.leave')).toHaveLength(0)
    await last.close()
    // The leave comes once the grace has passed.
    expect(await watcher.next('chat.user.leave', 6000)).toMatchObject({ user_id: alice.user_id })
    await watcher.close()
  })
})

describe('IDENTITY_SOURCES=headers', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer({ IDENTITY_SOURCES: 'headers' })
  })
  afterAll(() => server.destroy())

  it('should refuse identity in the query and take it from the headers', async () => {
    const roomId = await createRoom(server, 'headers only')
    const refused = await handshake(server, userPath(roomId, alice))
    expect(refused.status).toBe(401)
    expect(await refused.json()).toMatchObject({ code: 'identity_required' })
    const headers = identityHeaders(bob)
    const socket = await TestSocket.open(`${server.wsBase}/ws/chat/${roomId}/chat/?user_id=mallory&nickname=M&email=m@evil.example`, { headers })
    socket.sendMessage('from the headers')
    expect(await socket.next('chat.message')).toMatchObject({ user_id: bob.user_id })
    await socket.close()
  })

  it('should refuse a setting without headers', async () => {
    const { loadConfig } = await import('../src/config.ts')
    expect(() => loadConfig({ IDENTITY_SOURCES: 'query' })).toThrow(/IDENTITY_SOURCES/)
    expect(() => loadConfig({ IDENTITY_SOURCES: 'headers,cookies' })).toThrow(/IDENTITY_SOURCES/)
  })
})

describe('the chat subprotocol', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server.destroy())

  it('should choose `chat` when the client offers it, as browsers require', async () => {
    const roomId = await createRoom(server, 'subprotocol')
    const ws = new WebSocket(`${server.wsBase}${userPath(roomId, alice)}`, ['x-other', 'chat'])
    await new Promise((resolve, reject) => {
      ws.onopen = resolve
      ws.onerror = reject
    })
    expect(ws.protocol).toBe('chat')
    ws.close()
  })
})
