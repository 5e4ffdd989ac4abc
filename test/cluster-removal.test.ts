import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startCluster, type TestCluster } from './support/cluster.ts'
import type { ServerProcess } from './support/process.ts'
import { RawWebSocket } from './support/raw-socket.ts'
import { storedRows, type StoredRows } from './support/rows.ts'
import { endpoint, identityHeaders, UNLIMITED, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// A removal answered on one instance wins over every write of the removed member on the others:
// REST sends and read markers racing it, and sockets elsewhere that keep writing (the evict is
// still on its way to their instance, or they never drain their queue). Three instances, one
// fresh Postgres database, a Redis of their own.

const SERVICE_SECRET = 'service-secret-of-the-app-backend'
let cluster: TestCluster
let instances: ServerProcess[]
let rows: StoredRows

beforeAll(async () => {
  cluster = await startCluster('removal', {
    SERVICE_SECRET,
    ...UNLIMITED,
    // Big messages and a patient slow-consumer limit: a socket that stops reading keeps a queue.
    MAX_MESSAGE_LENGTH: '100000',
    MAX_BODY_BYTES: String(1024 * 1024),
    SLOW_CONSUMER_BYTES: String(512 * 1024 * 1024),
  })
  instances = cluster.instances
  rows = storedRows({ DATABASE_URL: cluster.db.url }, '')
}, 60_000)
afterAll(async () => {
  await rows?.close()
  await cluster?.stop()
})

const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
const on = (i: number) => endpoint(instances[i]!.base)
type Json = Record<string, unknown> & { id: number }
const json = async <T = Json>(res: Response) => (await res.json()) as T
async function privateRoom(owner: TestUser, members: TestUser[]): Promise<number> {
  const res = await on(0).post('/chat/v1/create-room/', { name: '우리끼리', kind: 'private', members: members.map((m) => m.user_id) }, identityHeaders(owner))
  expect(res.status).toBe(201)
  return (await json(res)).id
}
const remove = (i: number, roomId: number, by: TestUser, who: TestUser) => fetch(`${instances[i]!.base}/chat/v1/room/${roomId}/members/${who.user_id}/`, { method: 'DELETE', headers: identityHeaders(by) })
/** Every message id stored in the room, read as the app's backend. */
const storedIds = async (roomId: number, from?: TestUser) => {
  const page = await json<{ id: number; user_id: string }[]>(await fetch(`${instances[0]!.base}/chat/v1/room/${roomId}/messages/?limit=100`, { headers: { 'x-service-secret': SERVICE_SECRET } }))
  return page.filter((m) => from === undefined || m.user_id === from.user_id).map((m) => m.id)
}
const inboxRooms = async (i: number, who: TestUser) => (await json<{ rooms: { id: number }[] }>(await fetch(`${instances[i]!.base}/chat/v1/inbox/?limit=100`, { headers: identityHeaders(who) }))).rooms.map((r) => r.id)

describe('a removal across three instances', () => {
  it('should leave no row and store nothing after the 204 when it races 32 read and send loops on the other instances, 20 times', async () => {
    const owner = user('race-owner')
    for (let round = 0; round < 20; round++) {
      const member = user(`race-member-${round}`)
      const roomId = await privateRoom(owner, [member])
      expect((await on(0).post('/chat/v1/message/', { room: roomId, message: '첫 메시지' }, identityHeaders(owner))).status).toBe(201)
      // Sockets of the member on the two other instances write too, as fast as the server takes it.
      const sockets = [await TestSocket.connect(on(1), roomId, member), await TestSocket.connect(on(2), roomId, member)]
      let removed = false
      const restLoop = async (i: number) => {
        for (let last = false; !last; ) {
          last = removed
          const server = on(1 + (i % 2))
          const res =
            i % 4 < 2
              ? await server.post(`/chat/v1/room/${roomId}/read/`, { last_read_id: 1e12 }, identityHeaders(member))
              : await server.post('/chat/v1/message/', { room: roomId, message: `loop ${i}` }, identityHeaders(member))
          await res.body?.cancel()
          if (res.status === 403) return
          expect([200, 201]).toContain(res.status)
        }
      }
      const socketLoop = async (socket: TestSocket, i: number) => {
        for (let n = 0; !removed && socket.ws.readyState === WebSocket.OPEN; n++) {
          socket.send(n % 2 === 0 ? { type: 'chat.message', message: `socket ${i}.${n}` } : { type: 'chat.read', last_read_id: 1e12 })
          await Bun.sleep(1)
        }
      }
      const loops = [...Array.from({ length: 30 }, (_, i) => restLoop(i)), ...sockets.map((s, i) => socketLoop(s, i))]
      await Bun.sleep(round % 7)
      expect((await remove(0, roomId, owner, member)).status).toBe(204)
      removed = true
      const storedAtRemoval = await storedIds(roomId)
      await Promise.all(loops)
      // The sockets close with 4403 on their instances, whatever they sent meanwhile.
      for (const socket of sockets) expect((await socket.closed).code).toBe(4403)
      expect(await storedIds(roomId)).toEqual(storedAtRemoval)
      expect((await rows.membersOf(member.user_id)).filter((r) => r.roomId === roomId)).toEqual([])
      for (let i = 0; i < 3; i++) expect(await inboxRooms(i, member)).not.toContain(roomId)
    }
  }, 180_000)

  it("should store none of a never-draining socket's frames on another instance after the removal", async () => {
    const [owner, member] = [user('drain-owner'), user('drain-member')]
    const roomId = await privateRoom(owner, [member])
    const raw = await RawWebSocket.open(instances[2]!.port, `/ws/chat/${roomId}/chat/?${new URLSearchParams({ ...member } as Record<string, string>)}`)
    raw.pause()
    // Enough for the kernel's buffers and then instance 2's queue for this socket: its close frame waits.
    const big = '가'.repeat(30_000)
    for (let i = 0; i < 12; i++) {
      const statuses = await Promise.all(
        Array.from({ length: 25 }, () =>
          on(i % 3)
            .post('/chat/v1/message/', { room: roomId, message: big }, identityHeaders(owner))
            .then((r) => (r.body?.cancel(), r.status)),
        ),
      )
      expect(statuses.every((s) => s === 201)).toBe(true)
    }
    expect((await remove(0, roomId, owner, member)).status).toBe(204)
    // At once, before the removal can have reached instance 2, and on through its close grace.
    for (let i = 0; i < 20; i++) {
      raw.send(JSON.stringify({ type: 'chat.message', message: `after removal ${i}`, client_msg_id: `late-${i}` }))
      raw.send(JSON.stringify({ type: 'chat.read', last_read_id: 1e12 }))
      raw.send(JSON.stringify({ type: 'chat.typing' }))
      await Bun.sleep(i < 5 ? 0 : 25)
    }
    expect(raw.socket.destroyed).toBe(false)
    expect(await storedIds(roomId, member)).toEqual([])
    expect(await rows.membersOf(member.user_id)).toEqual([])
    for (let i = 0; i < 3; i++) expect(await inboxRooms(i, member)).toEqual([])
    raw.resume()
    await raw.ended
    raw.destroy()
  }, 60_000)
})
