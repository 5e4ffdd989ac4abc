import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES, startStoreServer } from './support/cluster.ts'
import { handshake, identityHeaders, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket, type Frame } from './support/socket.ts'

// The user stream `WS /ws/chat/inbox/`, through the real server on each store: live unread counts
// for a user's rooms, the rooms they gain and lose, and their own markers moving on other devices.

type Json = Record<string, unknown> & { id: number }
const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
/** Open rooms with more participants than this are not followed live (small, to test it). */
const CROWD = 3

for (const store of STORES) {
  describe(`user stream on ${store.name}`, () => {
    let server: TestServer
    const tag = store.name.toLowerCase()
    const [me, writer, other] = [user(`${tag}-me`), user(`${tag}-writer`), user(`${tag}-other`)]

    beforeAll(async () => {
      server = await startStoreServer(store, { INBOX_ROOM_PARTICIPANTS: String(CROWD) })
    })
    afterAll(async () => {
      await server?.destroy()
    })

    const json = async <T = Json>(res: Response) => (await res.json()) as T
    const privateRoom = async (owner: TestUser, members: TestUser[]) =>
      (await json(await server.post('/chat/v1/create-room/', { name: 'team', kind: 'private', members: members.map((m) => m.user_id) }, identityHeaders(owner)))).id
    const openRoom = async () => (await json(await server.post('/chat/v1/create-room/', { name: 'open' }))).id
    const say = async (roomId: number, who: TestUser, message: string) => {
      const res = await server.post('/chat/v1/message/', { room: roomId, message }, identityHeaders(who))
      expect(res.status).toBe(201)
      return (await json(res)).id
    }
    const read = async (roomId: number, who: TestUser, lastReadId: number) => json<{ unread_count: number }>(await server.post(`/chat/v1/room/${roomId}/read/`, { last_read_id: lastReadId }, identityHeaders(who)))
    const badge = async (who: TestUser) => json<{ total: number; rooms: number }>(await server.http('/chat/v1/unread/', { headers: identityHeaders(who) }))
    const stream = async (who: TestUser) => {
      const socket = await TestSocket.inbox(server, who)
      const ready = await socket.next('inbox.ready')
      return { socket, ready: ready.unread as { total: number; rooms: number } }
    }
    const inRoom = (type: string, roomId: number) => (f: Frame) => f.type === type && (f.room === roomId || (f.room as { id?: number })?.id === roomId)

    it('should count new messages live, reset on its own message, and follow its marker moving elsewhere', async () => {
      const roomId = await privateRoom(writer, [me])
      await say(roomId, writer, 'before')
      const { socket, ready } = await stream(me)
      expect(ready).toEqual(await badge(me))
      expect(ready.total).toBeGreaterThanOrEqual(1)
      const first = await say(roomId, writer, 'one')
      expect(await socket.next(inRoom('inbox.message', roomId))).toMatchObject({ room: roomId, unread_count: 2, message: { id: first, message: 'one', user_id: writer.user_id } })
      await say(roomId, writer, 'two')
      expect(await socket.next(inRoom('inbox.message', roomId))).toMatchObject({ unread_count: 3 })
      // Read up to `one` on another device (REST): one left.
      expect((await read(roomId, me, first)).unread_count).toBe(1)
      expect(await socket.next(inRoom('inbox.read', roomId))).toEqual({ type: 'inbox.read', room: roomId, last_read_id: first, unread_count: 1 })
      // A room socket's chat.read moves it too.
      const tab = await TestSocket.connect(server, roomId, me)
      tab.send({ type: 'chat.read', last_read_id: Number.MAX_SAFE_INTEGER })
      expect(await socket.next(inRoom('inbox.read', roomId))).toMatchObject({ unread_count: 0 })
      // Its own message, from the other tab: counted as read.
      tab.sendMessage('mine')
      expect(await socket.next(inRoom('inbox.message', roomId))).toMatchObject({ unread_count: 0, message: { user_id: me.user_id, message: 'mine' } })
      await say(roomId, writer, 'three')
      expect(await socket.next(inRoom('inbox.message', roomId))).toMatchObject({ unread_count: 1 })
      await tab.close()
      await socket.close()
    })

    it('should keep the count exact while messages and reads race, and agree with the store', async () => {
      const roomId = await privateRoom(writer, [me, other])
      const { socket } = await stream(me)
      const sends: Promise<number>[] = []
      const reads: Promise<unknown>[] = []
      for (let i = 0; i < 40; i++) {
        sends.push(say(roomId, i % 2 ? writer : other, `m${i}`))
        if (i % 7 === 3) reads.push(sends[i]!.then((id) => read(roomId, me, id)))
      }
      const ids = await Promise.all(sends)
      await Promise.all(reads)
      await socket.collect('inbox.message', 40)
      // The last frame about the room carries the count the store has now.
      const [state] = (await json<{ rooms: { id: number; unread_count: number }[] }>(await server.http('/chat/v1/inbox/?limit=100', { headers: identityHeaders(me) }))).rooms.filter((r) => r.id === roomId)
      await Bun.sleep(100)
      const last = socket.frames.filter((f) => (f.type === 'inbox.message' || f.type === 'inbox.read') && f.room === roomId).at(-1)
      expect(last?.unread_count).toBe(state!.unread_count)
      expect(new Set(socket.all('inbox.message').map((f) => (f.message as { id: number }).id))).toEqual(new Set(ids))
      await socket.close()
    })

    it('should announce rooms gained and lost, and follow only while the user is in them', async () => {
      const { socket } = await stream(me)
      const roomId = await privateRoom(writer, [])
      expect((await server.post(`/chat/v1/room/${roomId}/members/`, { user_id: me.user_id }, identityHeaders(writer))).status).toBe(201)
      const gained = await socket.next(inRoom('inbox.room', roomId))
      expect(gained.room).toMatchObject({ id: roomId, kind: 'private', unread_count: 0, last_message: null })
      await say(roomId, writer, 'welcome')
      expect(await socket.next(inRoom('inbox.message', roomId))).toMatchObject({ unread_count: 1 })
      // A direct room made with the user is gained too.
      const direct = await json<{ id: number }>(await server.post('/chat/v1/direct-room/', { user_id: me.user_id }, identityHeaders(other)))
      expect((await socket.next(inRoom('inbox.room', direct.id))).room).toMatchObject({ kind: 'direct', members: [expect.anything(), expect.anything()] })
      // Removed: told, and nothing more from the room.
      expect((await server.http(`/chat/v1/room/${roomId}/members/${me.user_id}/`, { method: 'DELETE', headers: identityHeaders(writer) })).status).toBe(204)
      expect(await socket.next(inRoom('inbox.removed', roomId))).toEqual({ type: 'inbox.removed', room: roomId })
      await say(roomId, writer, 'after you left')
      await say(direct.id, other, 'still here')
      await socket.next(inRoom('inbox.message', direct.id))
      expect(socket.frames.filter(inRoom('inbox.message', roomId)).map((f) => (f.message as { message: string }).message)).toEqual(['welcome'])
      await socket.close()
    })

    it('should take in an open room once the user sends there or reads it', async () => {
      const { socket } = await stream(me)
      const [sentTo, readIn] = [await openRoom(), await openRoom()]
      const tab = await TestSocket.connect(server, sentTo, me)
      tab.sendMessage('first words')
      expect((await socket.next(inRoom('inbox.room', sentTo))).room).toMatchObject({ id: sentTo, kind: 'open', unread_count: 0 })
      await say(sentTo, writer, 'reply')
      expect(await socket.next(inRoom('inbox.message', sentTo))).toMatchObject({ unread_count: 1 })
      await say(readIn, writer, 'news')
      // A first marker at 0 reads nothing: the room comes in with its one message unread.
      await read(readIn, me, 0)
      expect((await socket.next(inRoom('inbox.room', readIn))).room).toMatchObject({ id: readIn, unread_count: 1, last_read_id: 0 })
      await say(readIn, writer, 'more news')
      expect(await socket.next(inRoom('inbox.message', readIn))).toMatchObject({ unread_count: 2 })
      await tab.close()
      await socket.close()
    })

    it('should not follow an open room with more participants than the limit, but still show its markers', async () => {
      const roomId = await openRoom()
      for (const who of [writer, other, user(`${tag}-p3`), me]) await say(roomId, who, `hi from ${who.user_id}`)
      const { socket } = await stream(me)
      const last = await say(roomId, writer, 'to a crowd')
      expect((await read(roomId, me, last)).unread_count).toBe(0)
      expect(await socket.next(inRoom('inbox.read', roomId))).toMatchObject({ last_read_id: last, unread_count: 0 })
      // A private room's message after it arrives; the crowded room's did not.
      const team = await privateRoom(writer, [me])
      await socket.next(inRoom('inbox.room', team))
      await say(team, writer, 'team')
      await socket.next(inRoom('inbox.message', team))
      expect(socket.frames.filter(inRoom('inbox.message', roomId))).toEqual([])
      await socket.close()
    })

    it('should send to every stream of the user, and keep following while one is open', async () => {
      const roomId = await privateRoom(writer, [me])
      const [a, b] = [await stream(me), await stream(me)]
      await say(roomId, writer, 'both')
      await a.socket.next(inRoom('inbox.message', roomId))
      await b.socket.next(inRoom('inbox.message', roomId))
      await a.socket.close()
      await say(roomId, writer, 'one left')
      expect(await b.socket.next(inRoom('inbox.message', roomId))).toMatchObject({ message: { message: 'one left' } })
      await b.socket.close()
    })

    it('should refuse a stream without identity before the upgrade, and answer frames with chat.error', async () => {
      const res = await handshake(server, '/ws/chat/inbox/')
      expect(res.status).toBe(400)
      expect(res.headers.get('upgrade')).toBeNull()
      expect((await handshake(server, `/ws/chat/inbox/?${new URLSearchParams({ ...me } as Record<string, string>)}`, { origin: 'https://evil.example' })).status).toBe(101)
      const { socket } = await stream(me)
      socket.send({ type: 'chat.message', message: 'here?' })
      expect(await socket.next('chat.error')).toMatchObject({ code: 'unknown_type' })
      await socket.close()
    })
  })
}
