import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startCluster, type TestCluster } from './support/cluster.ts'
import type { ServerProcess } from './support/process.ts'
import { endpoint, handshake, identityHeaders, UNLIMITED, type TestUser } from './support/server.ts'
import { until } from './support/wait.ts'
import { TestSocket } from './support/socket.ts'

// Private and direct rooms across three instances (separate processes) on one fresh Postgres
// database and a Redis of their own: what one instance decides, the sockets on the others obey.
const SERVICE_SECRET = 'service-secret-of-the-app-backend'
let cluster: TestCluster
let instances: ServerProcess[]

beforeAll(async () => {
  cluster = await startCluster('members', { SERVICE_SECRET, ...UNLIMITED })
  instances = cluster.instances
}, 60_000)
afterAll(async () => cluster?.stop())

const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
const on = (i: number) => endpoint(instances[i]!.base)
const connect = (i: number, roomId: number, who: TestUser) => TestSocket.live(on(i), roomId, who)
type Room = { id: number; kind: string }
async function privateRoom(i: number, owner: TestUser, members: TestUser[]): Promise<number> {
  const res = await on(i).post('/chat/v1/create-room/', { name: 'team', kind: 'private', members: members.map((m) => m.user_id) }, identityHeaders(owner))
  expect(res.status).toBe(201)
  return ((await res.json()) as Room).id
}
const wsPath = (roomId: number, who: TestUser) => `/ws/chat/${roomId}/chat/?${new URLSearchParams({ ...who } as Record<string, string>)}`

describe('members and blocks across three instances', () => {
  it('should create exactly one direct room when requests race on every instance from both sides', async () => {
    const [buyer, seller] = [user('race-buyer'), user('race-seller')]
    const answers = await Promise.all(
      Array.from({ length: 30 }, async (_, i) => {
        const [from, to] = i % 2 ? [buyer, seller] : [seller, buyer]
        const res = await on(i % 3).post('/chat/v1/direct-room/', { user_id: to.user_id, post_id: 7 }, identityHeaders(from))
        return { status: res.status, id: ((await res.json()) as Room).id }
      }),
    )
    expect(answers.filter((a) => a.status === 201)).toHaveLength(1)
    expect(answers.filter((a) => a.status === 200)).toHaveLength(29)
    expect(new Set(answers.map((a) => a.id)).size).toBe(1)
  }, 30_000)

  it("should close a removed member's sockets on every instance with 4403, after the room hears it", async () => {
    const [owner, member, other] = [user('x-owner'), user('x-member'), user('x-other')]
    const roomId = await privateRoom(0, owner, [member, other])
    const watcher = await connect(2, roomId, other)
    const tabs = [await connect(1, roomId, member), await connect(2, roomId, member)]
    const res = await fetch(`${instances[0]!.base}/chat/v1/room/${roomId}/members/${member.user_id}/`, { method: 'DELETE', headers: identityHeaders(owner) })
    expect(res.status).toBe(204)
    expect(await watcher.next('chat.member.removed')).toEqual({ type: 'chat.member.removed', user_id: member.user_id })
    for (const tab of tabs) {
      expect(await tab.next('chat.member.removed')).toMatchObject({ user_id: member.user_id })
      expect(await tab.closed).toEqual({ code: 4403, reason: 'removed' })
    }
    for (let i = 0; i < 3; i++) expect((await handshake(on(i), wsPath(roomId, member))).status).toBe(403)
    // The others stay, and still hear the room.
    const owners = await connect(1, roomId, owner)
    owners.sendMessage('still here')
    expect(await watcher.next('chat.message')).toMatchObject({ message: 'still here' })
    await Promise.all([watcher.close(), owners.close()])
  }, 30_000)

  it('should tell the room on every instance of a member added on one, who may then join anywhere', async () => {
    const [owner, newcomer] = [user('a-owner'), user('a-newcomer')]
    const roomId = await privateRoom(0, owner, [])
    const watchers = [await connect(1, roomId, owner), await connect(2, roomId, owner)]
    expect((await handshake(on(2), wsPath(roomId, newcomer))).status).toBe(403)
    const res = await on(0).post(`/chat/v1/room/${roomId}/members/`, { user_id: newcomer.user_id }, { 'x-service-secret': SERVICE_SECRET })
    expect(res.status).toBe(201)
    for (const w of watchers) expect(await w.next('chat.member.added')).toEqual({ type: 'chat.member.added', user_id: newcomer.user_id })
    const socket = await connect(2, roomId, newcomer)
    socket.sendMessage('hello all')
    for (const w of watchers) expect(await w.next('chat.message')).toMatchObject({ message: 'hello all', user_id: newcomer.user_id })
    await Promise.all([...watchers, socket].map((s) => s.close()))
  }, 30_000)

  it('should refuse sends in a direct room on every instance as soon as one blocks the other, and take them again after unblocking', async () => {
    const [a, b] = [user('blk-a'), user('blk-b')]
    const created = await on(0).post('/chat/v1/direct-room/', { user_id: b.user_id }, identityHeaders(a))
    const roomId = ((await created.json()) as Room).id
    const [sa, sb] = [await connect(1, roomId, a), await connect(2, roomId, b)]
    expect((await fetch(`${instances[0]!.base}/chat/v1/blocks/${b.user_id}/`, { method: 'PUT', headers: identityHeaders(a) })).status).toBe(204)
    // Refused where each send commits, whether or not the block's event has reached the socket's
    // instance yet: the first send after the 204, from either side, on every instance.
    for (const socket of [sa, sb]) {
      socket.sendMessage('차단 직후')
      expect(await socket.next((f) => f.type === 'chat.error' || f.type === 'chat.message')).toMatchObject({ type: 'chat.error', code: 'blocked' })
    }
    const overRest = await on(2).post('/chat/v1/message/', { room: roomId, message: '차단 직후' }, identityHeaders(b))
    expect([overRest.status, ((await overRest.json()) as { code: string }).code]).toEqual([403, 'blocked'])
    expect((await fetch(`${instances[0]!.base}/chat/v1/blocks/${b.user_id}/`, { method: 'DELETE', headers: identityHeaders(a) })).status).toBe(204)
    let delivered = false
    for (let attempt = 0; attempt < 50 && !delivered; attempt++) {
      sb.sendMessage(`again ${attempt}`)
      const answer = await sb.next((f) => f.type === 'chat.error' || (f.type === 'chat.message' && String(f.message).startsWith('again')))
      delivered = answer.type === 'chat.message'
      if (!delivered) await Bun.sleep(20)
    }
    expect(delivered).toBe(true)
    expect(await sa.next((f) => f.type === 'chat.message' && String(f.message).startsWith('again'))).toMatchObject({ user_id: b.user_id })
    await Promise.all([sa.close(), sb.close()])
  }, 30_000)
})

describe('read state across three instances', () => {
  it("should tell the room's sockets on every instance when a marker moves on one, and count unread from any", async () => {
    const [reader, writer] = [user('r-reader'), user('r-writer')]
    const roomId = ((await (await on(0).post('/chat/v1/create-room/', { name: 'reads' })).json()) as Room).id
    const ids: number[] = []
    for (const text of ['one', 'two', 'three']) ids.push(((await (await on(ids.length % 3).post('/chat/v1/message/', { room: roomId, message: text }, identityHeaders(writer))).json()) as Room).id)
    const watchers = [await connect(1, roomId, writer), await connect(2, roomId, writer)]
    const socket = await connect(0, roomId, reader)
    socket.send({ type: 'chat.read', last_read_id: ids[1] })
    for (const w of watchers) expect(await w.next('chat.read')).toEqual({ type: 'chat.read', user_id: reader.user_id, last_read_id: ids[1] })
    const badge = await (await fetch(`${instances[2]!.base}/chat/v1/unread/`, { headers: identityHeaders(reader) })).json()
    expect(badge).toEqual({ total: 1, rooms: 1 })
    await Promise.all([...watchers, socket].map((s) => s.close()))
  }, 30_000)
})

describe('user streams across three instances', () => {
  const stream = async (i: number, who: TestUser) => {
    const socket = await TestSocket.inbox(on(i), who)
    await socket.next('inbox.ready')
    return socket
  }
  const about = (type: string, roomId: number) => (f: { type: string; room?: unknown }) => f.type === type && (f.room === roomId || (f.room as { id?: number } | undefined)?.id === roomId)

  it("should count a message sent on one instance on the user's stream on another, and clear it on a read on a third", async () => {
    const [me, writer] = [user('inbox-me'), user('inbox-writer')]
    const roomId = await privateRoom(0, writer, [me])
    const [onB, onC] = [await stream(1, me), await stream(2, me)]
    for (const text of ['one', 'two', 'three']) expect((await on(2).post('/chat/v1/message/', { room: roomId, message: text }, identityHeaders(writer))).status).toBe(201)
    for (const socket of [onB, onC]) expect((await socket.collect('inbox.message', 3)).map((f) => f.unread_count)).toEqual([1, 2, 3])
    const res = await on(0).post(`/chat/v1/room/${roomId}/read/`, { last_read_id: Number.MAX_SAFE_INTEGER }, identityHeaders(me))
    expect(((await res.json()) as { unread_count: number }).unread_count).toBe(0)
    for (const socket of [onB, onC]) expect(await socket.next(about('inbox.read', roomId))).toMatchObject({ unread_count: 0 })
    const badge = (await (await on(1).http('/chat/v1/unread/', { headers: identityHeaders(me) })).json()) as { total: number }
    expect(badge.total).toBe(0)
    await Promise.all([onB.close(), onC.close()])
  }, 30_000)

  it('should announce a room gained on one instance and lost on another to a stream on the third', async () => {
    const [me, owner] = [user('inbox-gain'), user('inbox-owner')]
    const roomId = await privateRoom(0, owner, [])
    const socket = await stream(1, me)
    expect((await on(0).post(`/chat/v1/room/${roomId}/members/`, { user_id: me.user_id }, identityHeaders(owner))).status).toBe(201)
    expect((await socket.next(about('inbox.room', roomId))).room).toMatchObject({ id: roomId, kind: 'private' })
    await on(2).post('/chat/v1/message/', { room: roomId, message: 'welcome' }, identityHeaders(owner))
    expect(await socket.next(about('inbox.message', roomId))).toMatchObject({ unread_count: 1 })
    const removed = await fetch(`${instances[2]!.base}/chat/v1/room/${roomId}/members/${me.user_id}/`, { method: 'DELETE', headers: identityHeaders(owner) })
    expect(removed.status).toBe(204)
    expect(await socket.next(about('inbox.removed', roomId))).toEqual({ type: 'inbox.removed', room: roomId })
    await socket.close()
  }, 30_000)

  it('should close streams with 1013 when Redis restarts empty (their events may be lost), and take them back after', async () => {
    const me = user('inbox-redis')
    const socket = await stream(1, me)
    await cluster.redis.stop()
    await cluster.redis.start()
    expect((await socket.closed).code).toBe(1013)
    // Once the instance has its subscription back, a new stream goes live and follows again.
    let again: TestSocket | undefined
    for (let i = 0; i < 100 && !again; i++) again = await stream(1, me).catch(async () => (await Bun.sleep(100), undefined))
    // The room is made on another instance: its events reach the stream once that one has Redis back too.
    await until(async () => (await Promise.all(cluster.instances.map(async (i) => (await fetch(`${i.base}/readyz`)).status))).every((s) => s === 200), { what: 'every instance ready', timeoutMs: 20_000 })
    const roomId = await privateRoom(0, user('inbox-redis-owner'), [me])
    expect((await again!.next(about('inbox.room', roomId))).room).toMatchObject({ id: roomId })
    await again!.close()
  }, 60_000)
})
