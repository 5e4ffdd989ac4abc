import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { alice, createRoom, identityHeaders, startTestServer, type TestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(() => server.destroy())

type Json = Record<string, unknown>
const json = async (res: Response) => (await res.json()) as Json

describe('POST /chat/v1/create-room/', () => {
  it('should create a room with 201 and the seed fields plus detail', async () => {
    const res = await server.post('/chat/v1/create-room/', { name: '테스트 채팅방', post_id: 1 })
    expect(res.status).toBe(201)
    const room = await json(res)
    expect(room).toMatchObject({ name: '테스트 채팅방', post_id: 1, online_count: 0, online_users: [], chat_messages: [] })
    expect(room.chat_url).toBe(`127.0.0.1:${new URL(server.base).port}/ws/chat/${room.id}/chat/`)
    expect(new Date(String(room.created_at)).toISOString()).toBe(String(room.created_at))
  })

  it('should answer 200 with the existing room for the same post_id', async () => {
    const first = await json(await server.post('/chat/v1/create-room/', { name: 'post 2', post_id: 2 }))
    const again = await server.post('/chat/v1/create-room/', { name: 'another name', post_id: 2 })
    expect(again.status).toBe(200)
    expect(await json(again)).toMatchObject({ id: first.id, name: 'post 2', post_id: 2 })
  })

  it('should create exactly one room when many requests race for one post_id', async () => {
    const answers = await Promise.all(Array.from({ length: 20 }, () => server.post('/chat/v1/create-room/', { name: 'race', post_id: 3 })))
    expect(answers.filter((r) => r.status === 201)).toHaveLength(1)
    const ids = new Set(await Promise.all(answers.map(async (r) => (await json(r)).id)))
    expect(ids.size).toBe(1)
  })

  it('should create rooms without post_id, each a new one', async () => {
    const a = await createRoom(server, 'no post')
    const b = await createRoom(server, 'no post')
    expect(a).not.toBe(b)
  })

  it('should accept a numeric string post_id and ignore unknown fields', async () => {
    const res = await server.post('/chat/v1/create-room/', { name: 'strings', post_id: '4', colour: 'red' })
    expect(res.status).toBe(201)
    const room = await json(res)
    expect(room.post_id).toBe(4)
    expect(room).not.toHaveProperty('colour')
  })

  it('should list every invalid field as problem+json', async () => {
    const res = await server.post('/chat/v1/create-room/', { name: '', post_id: -1 })
    expect(res.status).toBe(422)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    const problem = await json(res)
    expect(problem).toMatchObject({ status: 422, code: 'validation_failed', title: expect.any(String), type: expect.any(String), detail: expect.any(String) })
    const paths = (problem.errors as { path: string }[]).map((e) => e.path).sort()
    expect(paths).toEqual(['name', 'post_id'])
  })

  it('should refuse a name over 100 characters and a body that is not JSON', async () => {
    expect((await server.post('/chat/v1/create-room/', { name: 'x'.repeat(101) })).status).toBe(422)
    const res = await server.http('/chat/v1/create-room/', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":' })
    expect(res.status).toBe(400)
    expect(await json(res)).toMatchObject({ code: 'invalid_body' })
  })
})

describe('GET /chat/v1/rooms/', () => {
  it('should list room summaries newest first', async () => {
    const res = await server.http('/chat/v1/rooms/')
    expect(res.status).toBe(200)
    const rooms = (await res.json()) as Json[]
    expect(rooms.length).toBeGreaterThan(3)
    const ids = rooms.map((r) => r.id as number)
    expect(ids).toEqual([...ids].sort((a, b) => b - a))
    expect(Object.keys(rooms[0]!).sort()).toEqual(['chat_url', 'created_at', 'data', 'id', 'kind', 'member_count', 'name', 'online_count', 'peer', 'post_id', 'slow_mode_seconds', 'status'])
  })

  it('should page with limit and after, with no gap and no repeat', async () => {
    const all = (await (await server.http('/chat/v1/rooms/?limit=200&after=0')).json()) as Json[]
    const seen: number[] = []
    let after = 0
    for (;;) {
      const page = (await (await server.http(`/chat/v1/rooms/?limit=2&after=${after}`)).json()) as Json[]
      if (page.length === 0) break
      expect(page.length).toBeLessThanOrEqual(2)
      for (const r of page) seen.push(r.id as number)
      after = page.at(-1)!.id as number
    }
    expect(seen).toEqual(all.map((r) => r.id as number))
  })

  it('should refuse a bad query with 400', async () => {
    for (const q of ['limit=0', 'limit=201', 'limit=abc', 'after=-1']) {
      const res = await server.http(`/chat/v1/rooms/?${q}`)
      expect(res.status).toBe(400)
      expect(await json(res)).toMatchObject({ code: 'invalid_query' })
    }
  })

  it('should count users online in each room', async () => {
    const roomId = await createRoom(server, 'online')
    const socket = await TestSocket.connect(server, roomId, alice)
    const rooms = (await (await server.http(`/chat/v1/rooms/?after=${roomId - 1}&limit=1`)).json()) as Json[]
    expect(rooms[0]).toMatchObject({ id: roomId, online_count: 1 })
    await socket.close()
  })
})

describe('GET /chat/v1/room/{room_id}/', () => {
  it('should return the detail with online users and the newest 50 messages ascending', async () => {
    const roomId = await createRoom(server, 'detail')
    for (let i = 0; i < 55; i++) {
      const res = await server.post('/chat/v1/message/', { message: `m${i}`, room: roomId }, identityHeaders(alice))
      expect(res.status).toBe(201)
    }
    const socket = await TestSocket.connect(server, roomId, alice)
    const detail = await json(await server.http(`/chat/v1/room/${roomId}/`))
    expect(detail).toMatchObject({ id: roomId, name: 'detail', online_count: 1 })
    expect(detail.online_users).toEqual([{ user_id: alice.user_id, nickname: alice.nickname, profile_picture_url: alice.profile_url }])
    const messages = detail.chat_messages as Json[]
    expect(messages).toHaveLength(50)
    expect(messages.map((m) => m.message)).toEqual(Array.from({ length: 50 }, (_, i) => `m${i + 5}`))
    await socket.close()
  })

  it('should answer 404 problem+json for an unknown or malformed room id', async () => {
    for (const path of ['/chat/v1/room/999999/', '/chat/v1/room/abc/', '/chat/v1/room/0/']) {
      const res = await server.http(path)
      expect(res.status).toBe(404)
      expect(res.headers.get('content-type')).toContain('application/problem+json')
      expect(await json(res)).toMatchObject({ status: 404, code: 'room_not_found' })
    }
  })

  it('should answer unknown routes with a 404 problem', async () => {
    const res = await server.http('/chat/v1/nothing-here/')
    expect(res.status).toBe(404)
    expect(await json(res)).toMatchObject({ code: 'not_found' })
  })
})
