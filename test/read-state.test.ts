import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES, startStoreServer } from './support/cluster.ts'
import { identityHeaders, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// Read markers and unread counts, through the real server on each store: the "Read state" part of
// the product layer.

type Json = Record<string, unknown> & { id: number }
type Marker = { room: number; last_read_id: number; unread_count: number }
const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })

for (const store of STORES) {
  describe(`read state on ${store.name}`, () => {
    let server: TestServer
    const tag = store.name.toLowerCase()
    const [reader, writer, stranger] = [user(`${tag}-reader`), user(`${tag}-writer`), user(`${tag}-stranger`)]

    beforeAll(async () => {
      server = await startStoreServer(store)
    })
    afterAll(async () => {
      await server?.destroy()
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

for (const store of STORES) {
  describe(`the inbox on ${store.name}`, () => {
    let server: TestServer
    const tag = `inbox-${store.name.toLowerCase()}`
    const [me, other, third] = [user(`${tag}-me`), user(`${tag}-other`), user(`${tag}-third`)]

    beforeAll(async () => {
      server = await startStoreServer(store)
    })
    afterAll(async () => {
      await server?.destroy()
    })

    type InboxRoom = { id: number; kind: string; unread_count: number; last_read_id: number; last_message: { id: number; message: string } | null; members: { user_id: string; nickname: string | null }[] }
    type Inbox = { rooms: InboxRoom[]; next_cursor: string | null }
    const json = async <T>(res: Response) => (await res.json()) as T
    const inbox = async (who: TestUser, query = '') => json<Inbox>(await server.http(`/chat/v1/inbox/${query}`, { headers: identityHeaders(who) }))
    const say = async (roomId: number, who: TestUser, message: string) => (await json<{ id: number }>(await server.post('/chat/v1/message/', { room: roomId, message }, identityHeaders(who)))).id

    it("should list the rooms that are the user's, latest activity first, with last message, unread count, marker and direct members", async () => {
      const open = (await json<{ id: number }>(await server.post('/chat/v1/create-room/', { name: 'open' }))).id
      const notMine = (await json<{ id: number }>(await server.post('/chat/v1/create-room/', { name: 'not mine' }))).id
      const direct = (await json<{ id: number }>(await server.post('/chat/v1/direct-room/', { user_id: other.user_id, post_id: 1 }, identityHeaders(me)))).id
      const team = (await json<{ id: number }>(await server.post('/chat/v1/create-room/', { name: 'team', kind: 'private', members: [me.user_id] }, identityHeaders(third)))).id
      await say(open, me, 'I was here')
      await say(notMine, other, 'not for me')
      await Bun.sleep(5)
      await say(direct, other, 'hi there')
      await Bun.sleep(5)
      const last = await say(team, third, 'team news')
      const page = await inbox(me)
      expect(page.rooms.map((r) => r.id)).toEqual([team, direct, open])
      expect(page.next_cursor).toBeNull()
      expect(page.rooms[0]).toMatchObject({ kind: 'private', unread_count: 1, last_read_id: 0, last_message: { id: last, message: 'team news' }, members: [] })
      expect(page.rooms[1]).toMatchObject({ kind: 'direct', unread_count: 1, member_count: 2 })
      expect(page.rooms[1]!.members.map((m) => m.user_id).sort()).toEqual([me.user_id, other.user_id].sort())
      expect(page.rooms[2]).toMatchObject({ kind: 'open', unread_count: 0, member_count: null })
      expect((await server.http('/chat/v1/inbox/')).status).toBe(401)
      expect((await server.http('/chat/v1/inbox/?cursor=bm9wZQ', { headers: identityHeaders(me) })).status).toBe(400)
      expect((await server.http('/chat/v1/inbox/?limit=0', { headers: identityHeaders(me) })).status).toBe(400)
    })

    it('should page without gap or repeat while messages keep arriving', async () => {
      const pager = user(`${tag}-pager`)
      const rooms: number[] = []
      for (let i = 0; i < 12; i++) {
        const id = (await json<{ id: number }>(await server.post('/chat/v1/create-room/', { name: `r${i}` }))).id
        await say(id, pager, `r${i}`)
        rooms.push(id)
      }
      const seen: number[] = []
      let cursor: string | null = null
      let turn = 0
      do {
        const page: Inbox = await inbox(pager, `?limit=5${cursor ? `&cursor=${cursor}` : ''}`)
        seen.push(...page.rooms.map((r) => r.id))
        cursor = page.next_cursor
        // Between pages, rooms on later pages and rooms already seen get new messages.
        await say(rooms[turn % rooms.length]!, other, 'bump')
        await say(rooms[(turn + 7) % rooms.length]!, other, 'bump')
        turn++
      } while (cursor)
      expect(new Set(seen).size).toBe(seen.length)
      expect(seen.sort((a, b) => a - b)).toEqual(rooms)
      // A fresh first page shows the newest activity first (the last two bumps may share a millisecond).
      const newest = (await inbox(pager, '?limit=1')).rooms[0]!.id
      expect([rooms[(turn - 1) % rooms.length], rooms[(turn - 1 + 7) % rooms.length]]).toContain(newest)
    })
  })
}
