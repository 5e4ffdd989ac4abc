import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { alice, bob, carol, createRoom, handshake, identityHeaders, startTestServer, type TestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// The defaults: 10 messages a second, bursts of 20, a socket closed after 30 refusals in 10 s.
const DEFAULT_LIMITS = { RATE_LIMIT_PER_SECOND: '10', RATE_LIMIT_BURST: '20', FLOOD_CLOSE_AFTER: '30' }
let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ ...DEFAULT_LIMITS, MAX_SOCKETS_PER_USER: '3', MAX_SOCKETS_PER_ROOM: '5' })
})
afterAll(() => server.destroy())

const history = async (roomId: number) => (await (await server.http(`/chat/v1/room/${roomId}/messages/?limit=200`)).json()) as { message: string; user_id: string }[]

describe('message rate limits', () => {
  it('should store a burst up to the bucket and refuse the rest with rate_limited', async () => {
    const roomId = await createRoom(server, 'burst')
    const a = await TestSocket.connect(server, roomId, alice)
    for (let i = 0; i < 25; i++) a.sendMessage(`m${i}`)
    // Every send is answered: by its echo once stored, or by a refusal.
    for (let i = 0; i < 100 && a.all('chat.message').length + a.all('chat.error').length < 25; i++) await Bun.sleep(20)
    const stored = a.all('chat.message').length
    const refused = a.all('chat.error').filter((f) => f.code === 'rate_limited')
    // 20 from the bucket, perhaps one more that refilled while the burst was read.
    expect(stored).toBeGreaterThanOrEqual(20)
    expect(stored).toBeLessThanOrEqual(21)
    expect(stored + refused.length).toBe(25)
    expect(refused[0]?.message).toContain('10 messages a second')
    expect((await history(roomId)).length).toBe(stored)
    await a.close()
  })

  it("should share one bucket between a user's sockets", async () => {
    const roomId = await createRoom(server, 'per user')
    const tab1 = await TestSocket.connect(server, roomId, bob)
    const tab2 = await TestSocket.connect(server, roomId, bob)
    for (let i = 0; i < 15; i++) {
      tab1.sendMessage(`one ${i}`)
      tab2.sendMessage(`two ${i}`)
    }
    // Both tabs are in the room, so each sees every stored message; each refusal goes to its sender.
    const answered = () => tab1.all('chat.message').length + tab1.all('chat.error').length + tab2.all('chat.error').length
    for (let i = 0; i < 100 && answered() < 30; i++) await Bun.sleep(20)
    expect(answered()).toBe(30)
    const stored = (await history(roomId)).length
    expect(tab1.all('chat.message')).toHaveLength(stored)
    expect(stored).toBeGreaterThanOrEqual(20)
    expect(stored).toBeLessThanOrEqual(21)
    await Promise.all([tab1.close(), tab2.close()])
  })

  it('should close a socket that keeps flooding with 1008', async () => {
    const roomId = await createRoom(server, 'flood')
    const flooder = await TestSocket.connect(server, roomId, carol)
    for (let i = 0; i < 100; i++) flooder.sendMessage(`flood ${i}`)
    expect((await flooder.closed).code).toBe(1008)
    expect((await history(roomId)).length).toBeLessThanOrEqual(21)
  })

  it("should count an inbox stream's frames against the rate and close one that keeps sending with 1008", async () => {
    const user = { user_id: 'stream-flooder', nickname: 'S', email: 's@example.com' }
    const stream = await TestSocket.inbox(server, user)
    await stream.next('inbox.ready')
    for (let i = 0; i < 100; i++) stream.send({ type: 'chat.message', message: `flood ${i}` })
    expect((await stream.closed).code).toBe(1008)
  })

  it('should relay at most one typing notice per 2 s of a socket', async () => {
    const roomId = await createRoom(server, 'typing')
    const typist = await TestSocket.connect(server, roomId, alice)
    const reader = await TestSocket.connect(server, roomId, bob)
    for (let i = 0; i < 5; i++) typist.send({ type: 'chat.typing' })
    await typist.barrier()
    await reader.barrier()
    expect(reader.all('chat.typing')).toHaveLength(1)
    await Promise.all([typist.close(), reader.close()])
  })

  it('should answer REST sends over the limit with 429 and Retry-After', async () => {
    const roomId = await createRoom(server, 'rest')
    const user = { user_id: 'rest-user', nickname: 'R', email: 'r@example.com' }
    const answers = await Promise.all(Array.from({ length: 25 }, (_, i) => server.post('/chat/v1/message/', { message: `r${i}`, room: roomId }, identityHeaders(user))))
    const limited = answers.filter((r) => r.status === 429)
    expect(answers.filter((r) => r.status === 201).length).toBeGreaterThanOrEqual(20)
    expect(limited.length).toBeGreaterThanOrEqual(4)
    expect(Number(limited[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect(await limited[0]!.json()).toMatchObject({ status: 429, code: 'rate_limited' })
  })
})

describe('connection limits', () => {
  it('should refuse a user more sockets than MAX_SOCKETS_PER_USER with 429', async () => {
    const roomId = await createRoom(server, 'user sockets')
    const user = { user_id: 'many-tabs', nickname: 'T', email: 't@example.com' }
    const tabs = await Promise.all([1, 2, 3].map(() => TestSocket.connect(server, roomId, user)))
    const refused = await handshake(server, `/ws/chat/${roomId}/chat/?${new URLSearchParams(user)}`)
    expect(refused.status).toBe(429)
    expect(await refused.json()).toMatchObject({ code: 'too_many_sockets' })
    await tabs[0]!.close()
    const again = await TestSocket.connect(server, roomId, user)
    await Promise.all([again.close(), tabs[1]!.close(), tabs[2]!.close()])
  })

  it('should refuse a room more sockets than MAX_SOCKETS_PER_ROOM with 429', async () => {
    const roomId = await createRoom(server, 'full room')
    const sockets = await Promise.all([1, 2, 3, 4, 5].map((i) => TestSocket.connect(server, roomId, { user_id: `p${i}`, nickname: `P${i}`, email: `p${i}@example.com` })))
    const refused = await handshake(server, `/ws/chat/${roomId}/chat/?user_id=p6&nickname=P6&email=p6@example.com`)
    expect(refused.status).toBe(429)
    expect(await refused.json()).toMatchObject({ code: 'room_full' })
    await Promise.all(sockets.map((s) => s.close()))
  })
})
