import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES } from './support/cluster.ts'
import { identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'
import { eventually, startReceiver, type Receiver, type Received } from './support/webhooks.ts'

// Events of rooms, members and reports are looked at as the transaction that wrote them commits,
// as messages are: with the poll a minute apart, they reach the receiver only that way.

const SECRET = 'webhook-secret-of-the-app-backend'
type Envelope = { type: string; data: { room?: number | { id: number }; message?: { room: number }; report?: { room: number } } }
const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
const roomOf = (e: Envelope) => (typeof e.data.room === 'number' ? e.data.room : (e.data.room?.id ?? e.data.message?.room ?? e.data.report?.room))

for (const store of STORES) {
  describe(`webhook events looked at as they commit, on ${store.name}`, () => {
    let server: TestServer
    let receiver: Receiver
    let drop: () => Promise<void>
    const tag = store.name.toLowerCase()
    const [owner, member, newcomer] = [user(`${tag}-판매자`), user(`${tag}-구매자`), user(`${tag}-친구`)]

    beforeAll(async () => {
      const db = await store.database()
      drop = db.drop
      receiver = await startReceiver()
      server = await startTestServer({ ...db.env, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_POLL_MS: '60000' })
    })
    afterAll(async () => {
      await server?.destroy()
      await receiver?.stop()
      await drop?.()
    })

    /** The types of the room's events received so far, once `expected` are all there. */
    const received = (roomId: number, expected: string[]) =>
      eventually(async () => {
        const types = (await receiver.received())
          .map((r: Received) => JSON.parse(r.body) as Envelope)
          .filter((e) => roomOf(e) === roomId)
          .map((e) => e.type)
        expect(types).toEqual(expected)
      })

    it('should send the events of a room, its members and a report at once, long before the next poll', async () => {
      const res = await server.post('/chat/v1/create-room/', { name: '자전거 거래', kind: 'private', members: [member.user_id] }, identityHeaders(owner))
      const roomId = ((await res.json()) as { id: number }).id
      await received(roomId, ['room.created'])
      expect((await server.post(`/chat/v1/room/${roomId}/members/`, { user_id: newcomer.user_id }, identityHeaders(owner))).status).toBe(201)
      await received(roomId, ['room.created', 'member.added'])
      expect((await server.http(`/chat/v1/room/${roomId}/members/${newcomer.user_id}/`, { method: 'DELETE', headers: identityHeaders(owner) })).status).toBe(204)
      await received(roomId, ['room.created', 'member.added', 'member.removed'])
      const sent = await server.post('/chat/v1/message/', { room: roomId, message: '네고 가능할까요?' }, identityHeaders(owner))
      const messageId = ((await sent.json()) as { id: number }).id
      await received(roomId, ['room.created', 'member.added', 'member.removed', 'message.created'])
      expect((await server.post('/chat/v1/report/', { reason: 'spam', message_id: messageId }, identityHeaders(member))).status).toBe(201)
      await received(roomId, ['room.created', 'member.added', 'member.removed', 'message.created', 'report.created'])
    }, 60_000)
  })
}
