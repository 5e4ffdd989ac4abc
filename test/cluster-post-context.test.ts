import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startCluster, type TestCluster } from './support/cluster.ts'
import type { ServerProcess } from './support/process.ts'
import { endpoint, identityHeaders, UNLIMITED, type TestUser } from './support/server.ts'
import { TestSocket, type Frame } from './support/socket.ts'
import { until } from './support/wait.ts'

// Rooms that know their post, on three instances (their own processes) over one fresh Postgres
// database and a Redis of their own: a post event over 200 rooms reaches every room's socket once
// and in the room's order wherever it is; sends racing an archive made elsewhere are stored before
// the room's system message or refused; a PATCH made on one instance and messages sent on another
// keep the room's order on a third; hiding, leaving and archiving on different instances (and hides
// racing messages sent elsewhere) leave each user's rooms and badge the same on every instance and
// every stream.

const SERVICE_SECRET = 'the-app-backend-secret-0123456789'
const service = { 'x-service-secret': SERVICE_SECRET }
const post = { title: '아이폰 15 프로 256GB', price: 950000, status: '판매중' }

let cluster: TestCluster
let instances: ServerProcess[]

beforeAll(async () => {
  cluster = await startCluster('postctx', { SERVICE_SECRET, ...UNLIMITED })
  instances = cluster.instances
}, 60_000)
afterAll(async () => cluster?.stop())

type Room = { id: number; kind: string; status: string; data: Record<string, unknown> | null; version: number }
type Message = { id: number; kind?: string; user_id: string | null; message: string; version: number; data?: unknown }
type Badge = { total: number; rooms: number }

const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
const on = (i: number) => endpoint(instances[i % 3]!.base)
const seller = user('seller')

async function json<T>(res: Promise<Response> | Response, status: number): Promise<T> {
  const answer = await res
  const text = await answer.text()
  if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status}: ${text}`)
  return (text === '' ? null : JSON.parse(text)) as T
}
/** A room about `postId` made by the app's backend on instance `i`: direct (`owner` and `buyer`), private, or the post's open room. */
const createRoom = (i: number, kind: 'open' | 'private' | 'direct', postId: number, buyer: TestUser, owner = seller) =>
  json<Room>(
    on(i).post('/chat/v1/create-room/', kind === 'open' ? { name: '동네 직거래', post_id: postId, data: post } : { name: '거래', kind, members: [owner.user_id, buyer.user_id], post_id: postId, data: post }, service),
    201,
  )
const send = (i: number, who: TestUser, room: number, message: string) => on(i).post('/chat/v1/message/', { room, message }, identityHeaders(who))
const patch = (i: number, room: number, body: unknown) => json<Room>(on(i).http(`/chat/v1/room/${room}/`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...service }, body: JSON.stringify(body) }), 200)
const postEvent = (i: number, postId: number, body: Record<string, unknown>) => json<{ rooms: number[] }>(on(i).post(`/chat/v1/posts/${postId}/messages/`, body, service), 200)
const detail = (i: number, room: number) => json<Room>(on(i).http(`/chat/v1/room/${room}/`, { headers: service }), 200)
const unread = (i: number, who: TestUser) => json<Badge>(on(i).http('/chat/v1/unread/', { headers: identityHeaders(who) }), 200)
const inboxIds = async (i: number, who: TestUser) => (await json<{ rooms: Room[] }>(on(i).http('/chat/v1/inbox/?limit=100', { headers: identityHeaders(who) }), 200)).rooms.map((r) => r.id)
const hide = (i: number, who: TestUser, room: number, leave = false) => json(on(i).http(`/chat/v1/inbox/${room}/${leave ? '?leave=true' : ''}`, { method: 'DELETE', headers: identityHeaders(who) }), 204)

/** Every message of the room, oldest first, paged over REST as the app's backend reads it. */
async function history(i: number, room: number): Promise<Message[]> {
  const all: Message[] = []
  for (let after = 0; ; ) {
    const page = await json<Message[]>(on(i).http(`/chat/v1/room/${room}/messages/?after=${after}&limit=100`, { headers: service }), 200)
    if (page.length === 0) return all
    all.push(...page)
    after = page.at(-1)!.id
  }
}

/** `work` over `items`, at most `width` at once, the results in the items' order. */
async function pool<T, R>(items: readonly T[], width: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const index = next++
      results[index] = await work(items[index]!, index)
    }
  }
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker))
  return results
}

/** A room socket on instance `i` that hears every change after `version` (checked by chat.recovered). */
async function follow(i: number, room: number, who: TestUser, version: number): Promise<TestSocket> {
  const socket = await TestSocket.connect(on(i), room, who, { since_version: String(version) })
  expect((await socket.next('chat.recovered', 10_000)).version).toBe(version)
  return socket
}
/** The versioned frames a socket heard live (after its chat.recovered). */
const live = (socket: TestSocket): Frame[] => socket.frames.slice(socket.frames.findIndex((f) => f.type === 'chat.recovered') + 1).filter((f) => typeof f.version === 'number')
const byNumber = (a: number, b: number) => a - b
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, k) => from + k)
const refusalOf = async (res: Response) => ({ status: res.status, code: ((await res.json()) as { code?: string }).code })

describe('a post event over 200 rooms across three instances', () => {
  it("should give each room's socket, wherever it is, the archive then the system message, once each and in the room's order", async () => {
    const postId = 5000
    // One open room (a post has one), 49 private and 150 direct rooms, made on the three instances.
    const kinds = Array.from({ length: 200 }, (_, k) => (k === 0 ? 'open' : k <= 49 ? 'private' : 'direct') as 'open' | 'private' | 'direct')
    const buyers = kinds.map((_, k) => user(`buyer-${k}`))
    const rooms = await pool(kinds, 12, (kind, k) => createRoom(k, kind, postId, buyers[k]!))
    expect(new Set(rooms.map((r) => r.id)).size).toBe(200)
    const sockets = await pool(rooms, 12, (room, k) => follow(k + 1, room.id, buyers[k]!, room.version))

    const answered = await postEvent(0, postId, { message: '거래가 완료되었어요', data: { event: 'sold' }, status: 'archived' })
    expect(answered.rooms).toEqual(rooms.map((r) => r.id).sort(byNumber))
    // A second event, after the first, closes what each socket may hear of the first.
    await postEvent(2, postId, { message: '거래 후기를 남겨 주세요', silent: true })
    await until(() => sockets.every((s) => live(s).length >= 3), { what: 'every socket heard both events', timeoutMs: 30_000 })

    const heard = sockets.map((s) => live(s).map((f) => ({ type: f.type, version: f.version, status: (f.room as Room | undefined)?.status, message: f.message })))
    const expected = rooms.map((room) => [
      { type: 'chat.room.updated', version: room.version + 1, status: 'archived', message: undefined },
      { type: 'chat.message', version: room.version + 2, status: undefined, message: '거래가 완료되었어요' },
      { type: 'chat.message', version: room.version + 3, status: undefined, message: '거래 후기를 남겨 주세요' },
    ])
    expect(heard).toEqual(expected)
    // What the sockets heard is the rooms' history as stored, read on any instance.
    const stored = await pool(rooms, 12, async (room, k) => ({ version: (await detail(k + 2, room.id)).version, messages: await history(k + 2, room.id) }))
    for (const [k, { version, messages }] of stored.entries()) {
      const said = live(sockets[k]!).filter((f) => f.type === 'chat.message')
      expect(messages.map((m) => ({ id: m.id, version: m.version, kind: m.kind }))).toEqual(said.map((f) => ({ id: f.id as number, version: f.version as number, kind: 'system' })))
      expect(version).toBe(rooms[k]!.version + 3)
    }
    expect(live(sockets[0]!)[0]!.room).toMatchObject({ id: rooms[0]!.id, status: 'archived', data: post })
    await Promise.all(sockets.map((s) => s.close()))
  }, 60_000)
})

describe('sends racing an archive made on another instance', () => {
  it("should store every send before the room's system message or refuse it with room_archived, over REST and sockets on the two other instances", async () => {
    const postId = 6000
    const kinds = Array.from({ length: 18 }, (_, k) => (k === 0 ? 'open' : k <= 5 ? 'private' : 'direct') as 'open' | 'private' | 'direct')
    const buyers = kinds.map((_, k) => user(`racer-${k}`))
    const rooms = await pool(kinds, 6, (kind, k) => createRoom(k, kind, postId, buyers[k]!))
    // Each room: its seller writes from instance B, its buyer from C, each over REST and a socket.
    const sockets = await pool(rooms, 6, async (room, k) => [await follow(1, room.id, seller, room.version), await follow(2, room.id, buyers[k]!, room.version)] as const)
    let answered = false
    const lateStores: string[] = []

    const restWriter = async (i: number, who: TestUser, room: number) => {
      const stored: number[] = []
      for (let n = 0; n < 1000; n++) {
        const late = answered
        const res = await send(i, who, room, `${who.user_id} REST ${n}`)
        if (res.status === 201) {
          stored.push(((await res.json()) as Message).id)
          if (late) lateStores.push(`REST ${room}/${who.user_id}/${n}`)
          continue
        }
        expect(await refusalOf(res)).toEqual({ status: 409, code: 'room_archived' })
        return stored
      }
      throw new Error(`room ${room} never refused ${who.user_id}'s REST sends`)
    }
    const socketWriter = async (socket: TestSocket, who: TestUser, room: number) => {
      const stored: number[] = []
      for (let n = 0; n < 1000; n++) {
        const late = answered
        const id = `${who.user_id}-${room}-${n}`
        socket.sendMessage(`${who.user_id} socket ${n}`, id)
        const answer = await socket.next((f) => f.type === 'chat.error' || (f.type === 'chat.message' && f.client_msg_id === id), 10_000)
        if (answer.type === 'chat.message') {
          stored.push(answer.id as number)
          if (late) lateStores.push(`socket ${room}/${who.user_id}/${n}`)
          continue
        }
        expect(answer.code).toBe('room_archived')
        return stored
      }
      throw new Error(`room ${room} never refused ${who.user_id}'s socket sends`)
    }
    const writers = rooms.map((room, k) => Promise.all([restWriter(1, seller, room.id), restWriter(2, buyers[k]!, room.id), socketWriter(sockets[k]![0], seller, room.id), socketWriter(sockets[k]![1], buyers[k]!, room.id)]))
    await Bun.sleep(300)
    const event = await postEvent(0, postId, { message: '판매 완료', data: { event: 'sold' }, status: 'archived' })
    answered = true
    expect(event.rooms).toEqual(rooms.map((r) => r.id).sort(byNumber))
    const acknowledged = (await Promise.all(writers)).map((perRoom) => perRoom.flat().sort(byNumber))
    expect(lateStores).toEqual([])

    let racedSends = 0
    for (const [k, room] of rooms.entries()) {
      const messages = await history(k, room.id)
      const system = messages.filter((m) => m.kind === 'system')
      expect(system.map((m) => m.message)).toEqual(['판매 완료'])
      // The system message is the room's last: every stored send has a lower id, and every send stored was answered as stored.
      expect(messages.at(-1)).toEqual(system[0]!)
      expect(messages.slice(0, -1).map((m) => m.id)).toEqual(acknowledged[k]!)
      racedSends += acknowledged[k]!.length
      // Both sockets heard the room in order, with no gap: the sends, the archive, then the system message.
      const last = system[0]!.version
      for (const socket of sockets[k]!) {
        // A socket's own refused send is answered at once; the system message may reach it a moment later.
        await until(() => live(socket).some((f) => f.version === last), { what: `the system message on a socket of room ${room.id}`, timeoutMs: 10_000 })
        const heard = live(socket)
        expect(heard.map((f) => f.version)).toEqual(range(room.version + 1, last))
        expect(heard.filter((f) => f.type === 'chat.room.updated').map((f) => [f.version, (f.room as Room).status])).toEqual([[last - 1, 'archived']])
        expect(heard.filter((f) => f.type === 'chat.message').map((f) => f.id)).toEqual(messages.map((m) => m.id))
      }
    }
    // The race was a race: sends were stored in the rooms before the archive.
    expect(racedSends).toBeGreaterThan(rooms.length)
    await Promise.all(sockets.flat().map((s) => s.close()))
  }, 60_000)
})

describe("a room's change and its messages across three instances", () => {
  it("should give a socket on C the messages sent on A and the changes made on B in the room's version order, and a reconnect the change once", async () => {
    const buyer = user('order-buyer')
    const room = await createRoom(0, 'direct', 7000, buyer)
    const socket = await follow(2, room.id, buyer, room.version)
    const prices = range(1, 10).map((k) => post.price - k * 10_000)
    const sent: number[] = []
    await Promise.all([
      (async () => {
        for (let k = 0; k < 20; k++) sent.push((await json<Message>(send(0, seller, room.id, `가격 문의 답변 ${k}`), 201)).id)
      })(),
      (async () => {
        for (const price of prices) await patch(1, room.id, { data: { ...post, price } })
      })(),
    ])
    const end = (await detail(1, room.id)).version
    expect(end).toBe(room.version + 30)
    await until(() => live(socket).at(-1)?.version === end, { what: `the socket at version ${end}` })
    const heard = live(socket)
    expect(heard.map((f) => f.version)).toEqual(range(room.version + 1, end))
    expect(heard.filter((f) => f.type === 'chat.message').map((f) => f.id)).toEqual(sent)
    expect(heard.filter((f) => f.type === 'chat.room.updated').map((f) => (f.room as Room).data?.price)).toEqual(prices)
    // The changes really interleaved with the messages (else the order was never in question).
    const types = heard.map((f) => f.type)
    expect(types.indexOf('chat.room.updated')).toBeLessThan(types.lastIndexOf('chat.message'))
    expect(types.lastIndexOf('chat.room.updated')).toBeGreaterThan(types.indexOf('chat.message'))
    const lastChange = heard.findLast((f) => f.type === 'chat.room.updated')!

    // Back from before the first change, on each instance: the room as it is now, once, and every message.
    for (let i = 0; i < 3; i++) {
      const back = await TestSocket.connect(on(i), room.id, buyer, { since_version: String(room.version) })
      expect((await back.next('chat.recovered')).version).toBe(end)
      const changes = back.frames.filter((f) => f.type === 'chat.room.updated')
      expect(changes.map((f) => [f.version, (f.room as Room).data?.price])).toEqual([[lastChange.version, prices.at(-1)]])
      expect(back.frames.filter((f) => f.type === 'chat.message').map((f) => f.id)).toEqual(sent)
      await back.close()
    }
    await socket.close()
  }, 60_000)
})

describe('hiding, leaving and archiving across three instances', () => {
  const [shop, b1, b2] = [user('hide-seller'), user('hide-b1'), user('hide-b2')]
  const about = (type: string, room: number) => (f: Frame) => f.type === type && (f.room === room || (f.room as Room | undefined)?.id === room)
  /** The stream's frame of `type` about `room`, whenever it came (a stream's frames about different rooms come in no set order). */
  const heard = (stream: TestSocket, type: string, room: number) => until(() => stream.frames.findLast(about(type, room)) ?? false, { what: `${type} about room ${room}` })
  /** The badge is `expected` over GET /unread/ on every instance and in a newly opened stream's inbox.ready on every instance. */
  async function badgeEverywhere(who: TestUser, expected: Badge) {
    for (let i = 0; i < 3; i++) expect({ on: i, badge: await unread(i, who) }).toEqual({ on: i, badge: expected })
    for (let i = 0; i < 3; i++) {
      const stream = await TestSocket.inbox(on(i), who)
      expect({ on: i, badge: (await stream.next('inbox.ready')).unread }).toEqual({ on: i, badge: expected })
      await stream.close()
    }
  }

  it("should keep every user's badge the same on every instance and stream, and bring a hidden room back on a message sent elsewhere", async () => {
    const [p, q] = [8000, 8001]
    const r1 = (await createRoom(0, 'direct', p, b1, shop)).id
    const r2 = (await createRoom(1, 'direct', p, b2, shop)).id
    const r3 = (await createRoom(2, 'direct', q, b1, shop)).id
    const r4 = (await createRoom(0, 'direct', q, b2, shop)).id
    for (const [i, who, room, text] of [
      [1, shop, r1, '네 있어요'],
      [2, shop, r1, '직거래 가능해요'],
      [0, b2, r2, '상태 어때요?'],
      [0, shop, r3, '케이스도 드려요'],
      [1, b2, r4, '네고 되나요?'],
    ] as const)
      await json(send(i, who, room, text), 201)
    // Streams open on one instance each: the seller's on B, b1's on C, b2's on A.
    const streams = { shop: await TestSocket.inbox(on(1), shop), b1: await TestSocket.inbox(on(2), b1), b2: await TestSocket.inbox(on(0), b2) }
    for (const s of Object.values(streams)) await s.next('inbox.ready')
    await badgeEverywhere(b1, { total: 3, rooms: 2 })
    await badgeEverywhere(b2, { total: 0, rooms: 0 })
    await badgeEverywhere(shop, { total: 2, rooms: 2 })

    // Post q is sold (on C): r3 and r4 are archived, and each gets a system message that counts.
    expect((await postEvent(2, q, { message: '판매 완료', status: 'archived' })).rooms).toEqual([r3, r4])
    expect((await heard(streams.b1, 'inbox.room.updated', r3)).room).toMatchObject({ id: r3, status: 'archived' })
    expect(await heard(streams.b1, 'inbox.message', r3)).toMatchObject({ unread_count: 2 })
    expect(await heard(streams.b2, 'inbox.message', r4)).toMatchObject({ unread_count: 1 })
    for (const [room, count] of [
      [r3, 1],
      [r4, 2],
    ] as const)
      expect(await heard(streams.shop, 'inbox.message', room)).toMatchObject({ unread_count: count })

    // At once, each on another instance: b1 hides r1 (on A), b2 leaves r2 (on B), the seller hides r4 (on C).
    await Promise.all([hide(0, b1, r1), hide(1, b2, r2, true), hide(2, shop, r4)])
    await heard(streams.b1, 'inbox.removed', r1)
    await heard(streams.b2, 'inbox.removed', r2)
    await heard(streams.shop, 'inbox.removed', r4)
    // b2's leaving is a message the seller reads as unread.
    expect(await heard(streams.shop, 'inbox.message', r2)).toMatchObject({ unread_count: 2 })
    await badgeEverywhere(b1, { total: 2, rooms: 1 })
    await badgeEverywhere(b2, { total: 1, rooms: 1 })
    await badgeEverywhere(shop, { total: 3, rooms: 2 })
    for (let i = 0; i < 3; i++) {
      expect(await inboxIds(i, b1)).toEqual([r3])
      expect(await inboxIds(i, b2)).toEqual([r4])
      expect((await inboxIds(i, shop)).sort(byNumber)).toEqual([r1, r2, r3].sort(byNumber))
    }

    // The seller writes in r1 on B: r1 is back for b1 (hidden on A), heard on the stream on C.
    await json(send(1, shop, r1, '아직 관심 있으세요?'), 201)
    expect(await heard(streams.b1, 'inbox.message', r1)).toMatchObject({ unread_count: 3 })
    await badgeEverywhere(b1, { total: 5, rooms: 2 })
    for (let i = 0; i < 3; i++) expect((await inboxIds(i, b1)).sort(byNumber)).toEqual([r1, r3].sort(byNumber))
    // Each open stream was told of its own removals only.
    const removed = (s: TestSocket) => s.all('inbox.removed').map((f) => f.room)
    expect([removed(streams.b1), removed(streams.b2), removed(streams.shop)]).toEqual([[r1], [r2], [r4]])
    await Promise.all(Object.values(streams).map((s) => s.close()))
  }, 60_000)

  it('should agree on every instance and stream when hides race messages sent on another instance', async () => {
    const [seller2, buyer] = [user('race-hide-seller'), user('race-hide-buyer')]
    const rooms = await pool(range(1, 40), 8, async (k) => {
      const room = (await createRoom(k, 'direct', 9000 + k, buyer, seller2)).id
      await json(send(k + 1, seller2, room, '안녕하세요'), 201)
      return room
    })
    const stream = await TestSocket.inbox(on(2), buyer)
    expect((await stream.next('inbox.ready')).unread).toEqual({ total: 40, rooms: 40 })
    // The rooms a client following the stream shows, and the server's: the same rooms, the same badge.
    const shownOnStream = () => {
      const shown = new Set(rooms)
      for (const f of stream.frames) {
        if (f.type === 'inbox.message') shown.add(f.room as number)
        if (f.type === 'inbox.removed') shown.delete(f.room as number)
      }
      return [...shown].sort(byNumber)
    }
    const agreeing = async () => {
      const listed = (await inboxIds(0, buyer)).sort(byNumber)
      expect(shownOnStream()).toEqual(listed)
      const badge = await unread(1, buyer)
      expect(badge.rooms).toBe(listed.length)
      const again = await TestSocket.inbox(on(2), buyer)
      expect((await again.next('inbox.ready')).unread).toEqual(badge)
      await again.close()
      return true
    }
    // The buyer hides each room on A while the seller writes in it on B (the message is newer than
    // the hide, or not), four times over: whichever came first, the stream on C ends where the server is.
    for (let round = 0; round < 4; round++) {
      await Promise.all(
        rooms.flatMap((room, k) => [
          hide(0, buyer, room),
          (async () => {
            await Bun.sleep((k + round) % 6)
            await json(send(1, seller2, room, '아직 계세요?'), 201)
          })(),
        ]),
      )
      await until(agreeing, { what: `the stream on C agreeing with the server after round ${round}`, timeoutMs: 3000, intervalMs: 100 })
    }
    await stream.close()
  }, 60_000)
})
