import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { createDatabase } from './support/cluster.ts'
import { identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// Read markers and unread counts, through the real server on each store: the "Read state" part of
// the product layer.
const stores = [
  { name: 'SQLite', database: async () => ({ env: {}, drop: async () => {} }) },
  {
    name: 'Postgres',
    database: async () => {
      const db = await createDatabase()
      return { env: { DATABASE_URL: db.url }, drop: db.drop }
    },
  },
]

type Json = Record<string, unknown> & { id: number }
type Marker = { room: number; last_read_id: number; unread_count: number }
const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })

for (const store of stores) {
  describe(`read state on ${store.name}`, () => {
    let server: TestServer
    let drop: () => Promise<void>
    const tag = store.name.toLowerCase()
    const [reader, writer, stranger] = [user(`${tag}-reader`), user(`${tag}-writer`), user(`${tag}-stranger`)]

    beforeAll(async () => {
      const db = await store.database()
      drop = db.drop
      server = await startTestServer(db.env)
    })
    afterAll(async () => {
      await server?.destroy()
      await drop?.()
    })

    const json = async <T = Json>(res: Response) => (await res.json()) as T
    const openRoom = async () => (await json(await server.post('/chat/v1/create-room/', { name: 'reading' }))).id
    const say = async (roomId: number, who: TestUser, message: string) => (await json(await server.post('/chat/v1/message/', { room: roomId, message }, identityHeaders(who)))).id
    const read = (roomId: number, who: TestUser, lastReadId: unknown) => server.post(`/chat/v1/room/${roomId}/read/`, { last_read_id: lastReadId }, identityHeaders(who))
    const badge = async (who: TestUser) => json<{ total: number; rooms: number }>(await server.http('/chat/v1/unread/', { headers: identityHeaders(who) }))

    it("should move a marker forward only, clamp it to the room's newest message, and count what is after it", async () => {
      const roomId = await openRoom()
      const ids: [number, number, number] = [await say(roomId, writer, 'one'), await say(roomId, writer, 'two'), await say(roomId, writer, 'three')]
      const first = await read(roomId, reader, ids[0])
      expect(first.status).toBe(200)
      expect(await json<Marker>(first)).toEqual({ room: roomId, last_read_id: ids[0], unread_count: 2 })
      // Backwards changes nothing.
      expect(await json<Marker>(await read(roomId, reader, 0))).toEqual({ room: roomId, last_read_id: ids[0], unread_count: 2 })
      // Past the newest: clamped to it.
      expect(await json<Marker>(await read(roomId, reader, ids[2] + 1000))).toEqual({ room: roomId, last_read_id: ids[2], unread_count: 0 })
      expect(await json<Marker>(await read(roomId, reader, String(ids[1])))).toMatchObject({ last_read_id: ids[2] })
    })

    it("should move the sender's marker to what they send, so their own messages are never unread", async () => {
      const roomId = await openRoom()
      const mine = await say(roomId, reader, 'mine')
      expect(await json<Marker>(await read(roomId, reader, 0))).toEqual({ room: roomId, last_read_id: mine, unread_count: 0 })
      await say(roomId, writer, 'theirs 1')
      await say(roomId, writer, 'theirs 2')
      expect(await json<Marker>(await read(roomId, reader, 0))).toMatchObject({ unread_count: 2 })
      // Answering reads everything before the answer.
      const answer = await say(roomId, reader, 'answer')
      expect(await json<Marker>(await read(roomId, reader, 0))).toEqual({ room: roomId, last_read_id: answer, unread_count: 0 })
    })

    it("should add up the badge over the user's rooms: members' and participants' rooms", async () => {
      const me = user(`${tag}-badge`)
      const [a, b, quiet] = [await openRoom(), await openRoom(), await openRoom()]
      expect(await badge(me)).toEqual({ total: 0, rooms: 0 })
      await read(a, me, 0)
      await say(b, me, 'hello b')
      await say(a, writer, 'a1')
      await say(a, writer, 'a2')
      await say(b, writer, 'b1')
      // A room the user never sent to nor read is not theirs.
      await say(quiet, writer, 'elsewhere')
      const team = await json(await server.post('/chat/v1/create-room/', { name: 'team', kind: 'private', members: [me.user_id] }, identityHeaders(writer)))
      await say(team.id, writer, 't1')
      expect(await badge(me)).toEqual({ total: 4, rooms: 3 })
      await read(a, me, Number.MAX_SAFE_INTEGER)
      expect(await badge(me)).toEqual({ total: 2, rooms: 2 })
      expect((await server.http('/chat/v1/unread/')).status).toBe(401)
    })

    it('should tell every socket of the room when a marker moves, over REST or the socket, and not when it stays', async () => {
      const roomId = await openRoom()
      const last = await say(roomId, writer, 'read me')
      const watcher = await TestSocket.connect(server, roomId, writer)
      const socket = await TestSocket.connect(server, roomId, reader)
      socket.send({ type: 'chat.read', last_read_id: last })
      expect(await watcher.next('chat.read')).toEqual({ type: 'chat.read', user_id: reader.user_id, last_read_id: last })
      expect(await socket.next('chat.read')).toEqual({ type: 'chat.read', user_id: reader.user_id, last_read_id: last })
      // Not moved: no event. Then a REST move is heard too.
      socket.send({ type: 'chat.read', last_read_id: last })
      await socket.barrier()
      const next = await say(roomId, writer, 'and me')
      await read(roomId, reader, next)
      expect(await watcher.next('chat.read')).toEqual({ type: 'chat.read', user_id: reader.user_id, last_read_id: next })
      expect(watcher.all('chat.read')).toHaveLength(2)
      // A frame with a bad marker is refused, and the socket stays.
      const fieldError = (f: { type: string; code?: unknown }) => f.type === 'chat.error' && f.code !== 'unknown_type'
      socket.send({ type: 'chat.read', last_read_id: -1 })
      expect(await socket.next(fieldError)).toMatchObject({ code: 'invalid_field' })
      socket.send({ type: 'chat.read', last_read_id: '12' })
      expect(await socket.next(fieldError)).toMatchObject({ code: 'invalid_field' })
      await Promise.all([watcher.close(), socket.close()])
    })

    it('should refuse markers in rooms the caller may not use, without identity, and bad values', async () => {
      const team = await json(await server.post('/chat/v1/create-room/', { name: 'closed', kind: 'private' }, identityHeaders(writer)))
      const refused = await read(team.id, stranger, 0)
      expect(refused.status).toBe(403)
      expect(await json(refused)).toMatchObject({ code: 'not_a_member' })
      const roomId = await openRoom()
      expect((await server.post(`/chat/v1/room/${roomId}/read/`, { last_read_id: 0 })).status).toBe(401)
      for (const bad of [-1, 1.5, 'x', null, Number.MAX_SAFE_INTEGER + 2]) expect((await read(roomId, reader, bad)).status).toBe(422)
      expect((await read(999_999, reader, 0)).status).toBe(404)
    })

    it("should show each member's marker in room detail and the members list", async () => {
      const team = await json(await server.post('/chat/v1/create-room/', { name: 'markers', kind: 'private', members: [reader.user_id] }, identityHeaders(writer)))
      const id = await say(team.id, writer, 'seen?')
      await read(team.id, reader, id)
      const detail = await json<{ members: { user_id: string; last_read_id: number }[] }>(await server.http(`/chat/v1/room/${team.id}/`, { headers: identityHeaders(writer) }))
      expect(Object.fromEntries(detail.members.map((m) => [m.user_id, m.last_read_id]))).toEqual({ [writer.user_id]: id, [reader.user_id]: id })
    })
  })
}
