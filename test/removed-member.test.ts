import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES } from './support/cluster.ts'
import { RawWebSocket } from './support/raw-socket.ts'
import { storedRows, type StoredRows } from './support/rows.ts'
import { identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// A member removed from a private room loses it at once, on every path: no write of theirs lands
// after the removal is answered, however it races, and nothing that lists or counts their rooms
// (inbox, badge, user stream) shows the room again. On each store, through the real server.

const SERVICE_SECRET = 'service-secret-of-the-app-backend'
const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
type Json = Record<string, unknown> & { id: number }

for (const store of STORES) {
  describe(`a removed member on ${store.name}`, () => {
    let server: TestServer
    let rows: StoredRows
    let drop: () => Promise<void>
    const tag = store.name.toLowerCase()

    beforeAll(async () => {
      const db = await store.database()
      drop = db.drop
      // Big messages and a patient slow-consumer limit: a socket that stops reading keeps a queue.
      server = await startTestServer({ ...db.env, SERVICE_SECRET, MAX_MESSAGE_LENGTH: '100000', MAX_PAYLOAD_BYTES: String(1024 * 1024), MAX_BODY_BYTES: String(1024 * 1024), SLOW_CONSUMER_BYTES: String(512 * 1024 * 1024) })
      rows = storedRows(db.env, server.dir)
    })
    afterAll(async () => {
      await rows?.close()
      await server?.destroy()
      await drop?.()
    })

    const json = async <T = Json>(res: Response) => (await res.json()) as T
    const privateRoom = async (owner: TestUser, members: TestUser[]) => {
      const res = await server.post('/chat/v1/create-room/', { name: '우리끼리', kind: 'private', members: members.map((m) => m.user_id) }, identityHeaders(owner))
      expect(res.status).toBe(201)
      return (await json(res)).id
    }
    const say = (roomId: number, who: TestUser, message: string) => server.post('/chat/v1/message/', { room: roomId, message }, identityHeaders(who))
    const remove = (roomId: number, by: TestUser, who: TestUser) => server.http(`/chat/v1/room/${roomId}/members/${who.user_id}/`, { method: 'DELETE', headers: identityHeaders(by) })
    /** Ids of every message stored in the room (read as the app's backend, which reads any room). */
    const storedIds = async (roomId: number, from?: TestUser) => {
      const page = await json<{ id: number; user_id: string }[]>(await server.http(`/chat/v1/room/${roomId}/messages/?limit=100`, { headers: { 'x-service-secret': SERVICE_SECRET } }))
      return page.filter((m) => from === undefined || m.user_id === from.user_id).map((m) => m.id)
    }
    const inboxRooms = async (who: TestUser) => (await json<{ rooms: { id: number }[] }>(await server.http('/chat/v1/inbox/?limit=100', { headers: identityHeaders(who) }))).rooms.map((r) => r.id)
    const badge = async (who: TestUser) => json<{ total: number; rooms: number }>(await server.http('/chat/v1/unread/', { headers: identityHeaders(who) }))

    it('should leave no row and store nothing after the 204 when a removal races 32 read and send loops, 20 times', async () => {
      const owner = user(`${tag}-race-owner`)
      for (let round = 0; round < 20; round++) {
        const member = user(`${tag}-race-member-${round}`)
        const roomId = await privateRoom(owner, [member])
        expect((await say(roomId, owner, '안녕하세요, 오늘 거래 가능할까요?')).status).toBe(201)
        let removed = false
        const loop = async (i: number) => {
          // Each loop keeps writing until the removal is answered, then once more.
          for (let last = false; !last; ) {
            last = removed
            const res = i % 2 === 0 ? await server.post(`/chat/v1/room/${roomId}/read/`, { last_read_id: 1e12 }, identityHeaders(member)) : await say(roomId, member, `loop ${i}`)
            await res.body?.cancel()
            if (res.status === 403) return
            expect([200, 201]).toContain(res.status)
          }
        }
        const loops = Array.from({ length: 32 }, (_, i) => loop(i))
        await Bun.sleep(round % 5)
        expect((await remove(roomId, owner, member)).status).toBe(204)
        removed = true
        // What was stored by the moment the removal was answered is all that may ever be stored.
        const storedAtRemoval = await storedIds(roomId)
        await Promise.all(loops)
        expect(await storedIds(roomId)).toEqual(storedAtRemoval)
        expect((await rows.membersOf(member.user_id)).filter((r) => r.roomId === roomId)).toEqual([])
        expect(await inboxRooms(member)).not.toContain(roomId)
      }
    }, 120_000)

    it("should store none of a never-draining socket's frames after its removal, and close it", async () => {
      const [owner, member] = [user(`${tag}-drain-owner`), user(`${tag}-drain-member`)]
      const roomId = await privateRoom(owner, [member])
      const port = Number(new URL(server.base).port)
      const raw = await RawWebSocket.open(port, `/ws/chat/${roomId}/chat/?${new URLSearchParams({ ...member } as Record<string, string>)}`)
      raw.pause()
      // Enough for the kernel's buffers and then the server's queue for this socket: its close frame waits.
      const big = '가'.repeat(30_000)
      for (let i = 0; i < 12; i++) {
        const statuses = await Promise.all(Array.from({ length: 25 }, () => say(roomId, owner, big).then((r) => (r.body?.cancel(), r.status))))
        expect(statuses.every((s) => s === 201)).toBe(true)
      }
      expect((await remove(roomId, owner, member)).status).toBe(204)
      for (let i = 0; i < 10; i++) {
        raw.send(JSON.stringify({ type: 'chat.message', message: `after removal ${i}`, client_msg_id: `late-${i}` }))
        raw.send(JSON.stringify({ type: 'chat.read', last_read_id: 1e12 }))
        raw.send(JSON.stringify({ type: 'chat.typing' }))
      }
      // Still inside the close grace: the server has not cut the connection, and its frames arrived.
      await Bun.sleep(500)
      expect(raw.socket.destroyed).toBe(false)
      expect(await storedIds(roomId, member)).toEqual([])
      expect(await rows.membersOf(member.user_id)).toEqual([])
      expect(await inboxRooms(member)).toEqual([])
      raw.resume()
      await raw.ended
      raw.destroy()
    }, 60_000)

    it('should keep a private room a user is not a member of out of their inbox, badge and stream, whatever row an older server left', async () => {
      const [owner, member, ghost] = [user(`${tag}-ghost-owner`), user(`${tag}-ghost-member`), user(`${tag}-ghost`)]
      const roomId = await privateRoom(owner, [member])
      expect((await say(roomId, owner, '비밀 이야기')).status).toBe(201)
      // What a removal raced by a read marker left behind before this was fixed: a participant row.
      await rows.execute(`insert into members (room_id, user_id, role, last_read_id, joined_at) values (${roomId}, '${ghost.user_id}', 'participant', 0, ${Date.now()})`)
      expect(await inboxRooms(ghost)).not.toContain(roomId)
      expect(await badge(ghost)).toEqual({ total: 0, rooms: 0 })
      const stream = await TestSocket.inbox(server, ghost)
      expect((await stream.next('inbox.ready')).unread).toEqual({ total: 0, rooms: 0 })
      expect((await say(roomId, owner, '이건 보이면 안 돼요')).status).toBe(201)
      // The room's member hears it on theirs; the ghost's stream, opened first, hears nothing of it.
      const memberStream = await TestSocket.inbox(server, member)
      await memberStream.next('inbox.ready')
      expect((await say(roomId, owner, '두 번째')).status).toBe(201)
      await memberStream.next((f) => f.type === 'inbox.message' && (f.message as { message: string }).message === '두 번째')
      await Bun.sleep(100)
      expect(stream.all('inbox.message')).toEqual([])
      // Its read marker is refused (it is not a member), and creates nothing.
      expect((await server.post(`/chat/v1/room/${roomId}/read/`, { last_read_id: 1e12 }, identityHeaders(ghost))).status).toBe(403)
      await Promise.all([stream.close(), memberStream.close()])
    })

    it('should give a service call that sends as a non-member no place in the private room', async () => {
      const [owner, bot] = [user(`${tag}-svc-owner`), user(`${tag}-svc-bot`)]
      const roomId = await privateRoom(owner, [])
      const res = await server.post('/chat/v1/message/', { room: roomId, message: '주문이 접수되었어요' }, { ...identityHeaders(bot), 'x-service-secret': SERVICE_SECRET })
      expect(res.status).toBe(201)
      expect(await rows.membersOf(bot.user_id)).toEqual([])
      expect(await inboxRooms(bot)).toEqual([])
      expect(await badge(bot)).toEqual({ total: 0, rooms: 0 })
    })
  })
}
