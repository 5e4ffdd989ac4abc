import { afterEach, describe, expect, it } from 'bun:test'
import { LANES, laneOf } from '../src/store/outbox.ts'
import type { NewMessage, Store } from '../src/store/store.ts'
import { OLD_DATABASES, type OldDatabase } from './support/old-database.ts'

// The messages table is the log of `message.created` events: each room keeps the newest message
// whose event is done. These tests read that bookkeeping straight from each store.

const message = (roomId: number, body: string): NewMessage => ({ roomId, userId: 'u1', email: 'u1@example.com', nickname: 'U1', profileUrl: null, body, clientMsgId: null, createdAt: Date.now() })

/** A database as the server left it before the webhook cursors. */
const beforeCursors = (statement: string) => statement.includes('webhook_message_id')

/** Every lane's rooms behind, as `room: after`. */
async function behind(store: Store): Promise<Record<number, number>> {
  const all: Record<number, number> = {}
  for (let lane = 0; lane < LANES; lane++) for (const r of await store.outbox.roomsBehind(lane, 100)) all[r.roomId] = r.after
  return all
}

for (const [name, old] of OLD_DATABASES) {
  describe(`webhook cursors on ${name}`, () => {
    let database: OldDatabase | undefined
    let store: Store | undefined
    afterEach(async () => {
      await store?.close()
      await database?.drop()
      store = database = undefined
    })

    it('should start every room at its newest message on upgrade, and still send the events that were pending', async () => {
      database = await old(beforeCursors)
      // What the previous release left: two rooms with messages, and a message.created row not sent yet.
      await database.exec("INSERT INTO rooms (name, created_at) VALUES ('one', 1), ('two', 1)")
      await database.exec("INSERT INTO messages (room_id, seq, user_id, email, nickname, body, created_at) VALUES (1, 1, 'u1', 'e', 'U', 'a', 1), (2, 1, 'u1', 'e', 'U', 'b', 1), (1, 2, 'u1', 'e', 'U', 'c', 1)")
      await database.exec('UPDATE rooms SET last_seq = (SELECT count(*) FROM messages WHERE room_id = rooms.id), last_message_id = (SELECT max(id) FROM messages WHERE room_id = rooms.id), last_message_at = 1')
      await database.exec(`INSERT INTO webhook_events (key, lane, type, data, created_at, next_attempt_at) VALUES ('room:1', ${Bun.hash.crc32('room:1') % LANES}, 'message.created', '{"messageId":3}', 1, 1)`)
      store = await database.open()
      store.outbox.enabled = true
      await store.outbox.follow(true)
      // Nothing stored before the upgrade is sent again from the messages table…
      expect(await behind(store)).toEqual({})
      // …but the pending row is, from the lane its room now goes through.
      expect((await store.outbox.pendingIn(laneOf('room:1'), 10)).map((e) => [e.key, e.type, e.position])).toEqual([['room:1', 'message.created', 0]])
      const fresh = (await store.appendMessage(message(2, 'after the upgrade'))).message
      expect(await behind(store)).toEqual({ 2: 2 })
      expect((await store.outbox.roomsBehind(2 % LANES, 10)).map((r) => r.roomId)).toEqual([2])
      await store.outbox.delivered({ events: [], rooms: new Map([[2, fresh.id]]) }, Date.now())
      expect(await behind(store)).toEqual({})
    })

    it('should follow messages only while webhooks are on, and move each cursor only forward', async () => {
      database = await old(beforeCursors)
      store = await database.open()
      store.outbox.enabled = true
      await store.outbox.follow(true)
      const { room } = await store.createRoom({ name: 'followed', postId: null })
      const first = (await store.appendMessage(message(room.id, 'one'))).message
      const second = (await store.appendMessage(message(room.id, 'two'))).message
      expect(await behind(store)).toEqual({ [room.id]: 0 })
      await store.outbox.delivered({ events: [], rooms: new Map([[room.id, second.id]]) }, Date.now())
      await store.outbox.delivered({ events: [], rooms: new Map([[room.id, first.id]]) }, Date.now())
      expect(await behind(store)).toEqual({})
      // Webhooks off for a while: what is stored meanwhile is not sent once they are on again.
      store.outbox.enabled = false
      await store.outbox.follow(false)
      const whileOff = (await store.appendMessage(message(room.id, 'while off'))).message
      expect(await behind(store)).toEqual({ [room.id]: second.id })
      store.outbox.enabled = true
      await store.outbox.follow(true)
      expect(await behind(store)).toEqual({})
      await store.appendMessage(message(room.id, 'on again'))
      expect(await behind(store)).toEqual({ [room.id]: whileOff.id })
    })

    it("should turn a failed message into an outbox event ahead of the room's later events", async () => {
      database = await old(beforeCursors)
      store = await database.open()
      store.outbox.enabled = true
      await store.outbox.follow(true)
      const { room } = await store.createRoom({ name: 'failing', postId: null })
      const lane = laneOf(`room:${room.id}`)
      const failing = (await store.appendMessage(message(room.id, 'refused at first'))).message
      const later = (await store.appendMessage(message(room.id, 'waits behind it'))).message
      await store.membership.addMember(room.id, 'newcomer', 100, null)
      const [created] = await store.outbox.pendingIn(lane, 10)
      await store.outbox.delivered({ events: [created!.id], rooms: new Map() }, Date.now())
      const retryAt = Date.now() + 60_000
      await store.outbox.messageFailed(failing, JSON.stringify({ messageId: failing.id, eventId: `m${failing.id}` }), 'HTTP 500', retryAt, Date.now())
      // The cursor is past it; it waits as an event, placed before the later message and the member event.
      expect(await behind(store)).toEqual({ [room.id]: failing.id })
      const pending = await store.outbox.pendingIn(lane, 10)
      expect(pending.map((e) => [e.type, e.position, e.attempts])).toEqual([
        ['message.created', failing.id - 1, 1],
        ['member.added', later.id, 0],
      ])
      expect(pending[0]).toMatchObject({ status: 'pending', nextAttemptAt: retryAt, createdAt: failing.createdAt, lastError: 'HTTP 500' })
      // Dead at once (a permanent 4xx): kept as a dead letter, and the room goes on.
      await store.outbox.messageFailed(later, JSON.stringify({ messageId: later.id }), 'HTTP 410', null, Date.now())
      expect((await store.outbox.dead(10, 0)).map((e) => [e.type, e.position, e.lastError])).toEqual([['message.created', later.id - 1, 'HTTP 410']])
      expect(await behind(store)).toEqual({})
      const stats = await store.outbox.stats(Date.now())
      expect(stats).toMatchObject({ pending: 2, dead: 1 })
    })

    it('should name the lanes a pass would find something in, and only those', async () => {
      database = await old(beforeCursors)
      store = await database.open()
      const all = Array.from({ length: LANES }, (_, lane) => lane)
      expect(await store.outbox.lanesWithWork(all)).toEqual([])
      store.outbox.enabled = true
      await store.outbox.follow(true)
      // Each room's room.created is an outbox event in the room's lane; a message puts the room behind.
      const rooms = [(await store.createRoom({ name: '하나', postId: null })).room, (await store.createRoom({ name: '둘', postId: null })).room]
      const [one, two] = rooms.map((room) => room.id % LANES) as [number, number]
      expect(await store.outbox.lanesWithWork(all)).toEqual([...new Set([one, two])].sort((x, y) => x - y))
      for (const lane of [one, two]) {
        const events = await store.outbox.pendingIn(lane, 10)
        await store.outbox.delivered({ events: events.map((e) => e.id), rooms: new Map() }, Date.now())
      }
      expect(await store.outbox.lanesWithWork(all)).toEqual([])
      const sent = (await store.appendMessage(message(rooms[1]!.id, '안녕하세요'))).message
      expect(await store.outbox.lanesWithWork(all)).toEqual([two])
      // Only the lanes asked about (those this instance holds).
      expect(await store.outbox.lanesWithWork(all.filter((lane) => lane !== two))).toEqual([])
      await store.outbox.delivered({ events: [], rooms: new Map([[rooms[1]!.id, sent.id]]) }, Date.now())
      expect(await store.outbox.lanesWithWork(all)).toEqual([])
      // An event waiting for its retry still counts: its pass decides when it is due.
      await store.outbox.messageFailed(sent, JSON.stringify({ messageId: sent.id }), 'HTTP 503', Date.now() + 60_000, Date.now())
      expect(await store.outbox.lanesWithWork(all)).toEqual([two])
    })

    it('should count pending messages and their age for the metrics', async () => {
      database = await old(beforeCursors)
      store = await database.open()
      store.outbox.enabled = true
      await store.outbox.follow(true)
      const { room } = await store.createRoom({ name: 'counted', postId: null })
      const oldest = (await store.appendMessage({ ...message(room.id, 'oldest'), createdAt: Date.now() - 5000 })).message
      for (const body of ['b', 'c']) await store.appendMessage(message(room.id, body))
      const [created] = await store.outbox.pendingIn(laneOf(`room:${room.id}`), 10)
      await store.outbox.delivered({ events: [created!.id], rooms: new Map() }, Date.now())
      const stats = await store.outbox.stats(Date.now())
      expect(stats.pending).toBe(3)
      expect(stats.oldestPendingMs).toBeGreaterThanOrEqual(5000)
      await store.outbox.delivered({ events: [], rooms: new Map([[room.id, oldest.id]]) }, Date.now())
      expect((await store.outbox.stats(Date.now())).pending).toBe(2)
    })
  })
}
