import { withFrameDefaults } from '../src/realtime/codec.ts'
import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { alice, bob, createRoom, identityHeaders, startTestServer, type TestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(() => server.destroy())

type Json = Record<string, unknown>
const json = async (res: Response) => (await res.json()) as Json
const send = (body: Json, headers: Record<string, string> = identityHeaders(alice)) => server.post('/chat/v1/message/', body, headers)

describe('POST /chat/v1/message/', () => {
  it('should store the message as the gateway identity and answer 201', async () => {
    const roomId = await createRoom(server, 'rest send')
    const res = await send({ message: '안녕하세요!', room: roomId })
    expect(res.status).toBe(201)
    const message = await json(res)
    expect(message).toEqual({
      id: expect.any(Number),
      room: roomId,
      user_id: alice.user_id,
      sender: alice.email,
      nickname: alice.nickname,
      profile_picture_url: alice.profile_url!,
      message: '안녕하세요!',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      client_msg_id: null,
      kind: 'text',
      edited_at: null,
      deleted: false,
      reply_to: null,
      reactions: [],
      attachments: [],
      data: null,
      version: 1,
    })
  })

  it('should decode a percent-encoded Korean nickname from the headers', async () => {
    const roomId = await createRoom(server, 'korean')
    const message = await json(await send({ message: '밥 먹었어?', room: roomId }, identityHeaders(bob)))
    expect(message).toMatchObject({ nickname: '밥', profile_picture_url: null, message: '밥 먹었어?' })
  })

  it('should answer 401 without identity headers, even with a bad body', async () => {
    const res = await server.post('/chat/v1/message/', { message: '' })
    expect(res.status).toBe(401)
    expect(await json(res)).toMatchObject({ code: 'identity_required', status: 401 })
  })

  it('should answer 400 naming each invalid identity header', async () => {
    const roomId = await createRoom(server, 'bad identity')
    const res = await send({ message: 'x', room: roomId }, { 'x-user-id': 'u', 'x-nickname': '   ', 'x-email': 'not-an-email', 'x-profile-url': 'javascript:alert(1)' })
    expect(res.status).toBe(400)
    const problem = await json(res)
    expect(problem.code).toBe('invalid_identity')
    expect((problem.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(['email', 'nickname', 'profile_url'])
  })

  it('should refuse an invalid body with 422 listing each field', async () => {
    const res = await send({ message: 'x'.repeat(server.config.MAX_MESSAGE_LENGTH + 1), room: 'abc', client_msg_id: '' })
    expect(res.status).toBe(422)
    const problem = await json(res)
    expect((problem.errors as { path: string }[]).map((e) => e.path).sort()).toEqual(['client_msg_id', 'message', 'room'])
  })

  it('should refuse a blank message and count characters, not UTF-16 units', async () => {
    const roomId = await createRoom(server, 'lengths')
    expect((await send({ message: ' \n ', room: roomId })).status).toBe(422)
    const emoji = '😀'.repeat(server.config.MAX_MESSAGE_LENGTH)
    expect((await send({ message: emoji, room: roomId })).status).toBe(201)
  })

  it('should answer 404 for an unknown room', async () => {
    const res = await send({ message: 'hello', room: 987654 })
    expect(res.status).toBe(404)
    expect(await json(res)).toMatchObject({ code: 'room_not_found' })
  })

  it('should broadcast a REST message to every socket of the room', async () => {
    const roomId = await createRoom(server, 'rest broadcast')
    const a = await TestSocket.connect(server, roomId, alice)
    const b = await TestSocket.connect(server, roomId, bob)
    const stored = await json(await send({ message: 'from REST', room: roomId }, identityHeaders(bob)))
    for (const socket of [a, b]) {
      const { type, ...message } = await socket.next('chat.message')
      // The frame leaves out the fields at their defaults; with them it is the stored message.
      expect(type).toBe('chat.message')
      expect(withFrameDefaults(message as never)).toEqual(stored as never)
    }
    await Promise.all([a.close(), b.close()])
  })

  it('should store a repeated client_msg_id once and answer 200 with the first message', async () => {
    const roomId = await createRoom(server, 'idempotent rest')
    const first = await send({ message: 'once', room: roomId, client_msg_id: 'abc-1' })
    expect(first.status).toBe(201)
    const again = await send({ message: 'once (retry)', room: roomId, client_msg_id: 'abc-1' })
    expect(again.status).toBe(200)
    expect(await json(again)).toEqual(await json(first))
    // The same client id from another user is that user's own message.
    expect((await send({ message: 'other user', room: roomId, client_msg_id: 'abc-1' }, identityHeaders(bob))).status).toBe(201)
    const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/`)).json()) as Json[]
    expect(history.map((m) => m.message)).toEqual(['once', 'other user'])
  })
})

describe('GET /chat/v1/room/{room_id}/messages/', () => {
  let roomId: number
  const total = 237
  beforeAll(async () => {
    roomId = await createRoom(server, 'history')
    // Concurrent sends: they are group-committed, and ids still follow one order.
    await Promise.all(Array.from({ length: total }, (_, i) => send({ message: `#${i}`, room: roomId })))
  })

  const page = async (query: string) => {
    const res = await server.http(`/chat/v1/room/${roomId}/messages/?${query}`)
    expect(res.status).toBe(200)
    return ((await res.json()) as Json[]).map((m) => m.id as number)
  }

  it('should return the newest 50 ascending by default', async () => {
    const ids = await page('')
    expect(ids).toHaveLength(50)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
    const newest = await page('limit=1')
    expect(ids.at(-1)).toBe(newest[0]!)
  })

  it('should page backwards with before and forwards with after, with no gap and no repeat', async () => {
    const backwards: number[] = []
    let before = Number.MAX_SAFE_INTEGER
    for (;;) {
      const ids = await page(`limit=40&before=${before}`)
      if (ids.length === 0) break
      backwards.unshift(...ids)
      before = ids[0]!
    }
    expect(backwards).toHaveLength(total)
    expect(new Set(backwards).size).toBe(total)
    expect(backwards).toEqual([...backwards].sort((a, b) => a - b))

    const forwards: number[] = []
    let after = 0
    for (;;) {
      const ids = await page(`limit=33&after=${after}`)
      if (ids.length === 0) break
      forwards.push(...ids)
      after = ids.at(-1)!
    }
    expect(forwards).toEqual(backwards)
  })

  it('should refuse a bad query with 400 and an unknown room with 404', async () => {
    for (const q of ['limit=0', 'limit=500', 'before=x', 'before=5&after=1']) {
      const res = await server.http(`/chat/v1/room/${roomId}/messages/?${q}`)
      expect(res.status).toBe(400)
      expect(await json(res)).toMatchObject({ code: 'invalid_query' })
    }
    expect((await server.http('/chat/v1/room/424242/messages/')).status).toBe(404)
  })
})
