import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { verifySignature } from '../src/webhooks/signing.ts'
import { STORES, startStoreServer } from './support/cluster.ts'
import { identityHeaders, type TestServer, type TestUser } from './support/server.ts'
import { eventually, startReceiver, type Receiver, type Received } from './support/webhooks.ts'

// Webhooks in batches (WEBHOOK_BATCH > 1) on each store, to a real receiver process: each POST is a
// JSON array of events under one signature, every event arrives, in order per room; a batch the
// receiver fails is sent again with the same ids, and one it refuses for good is dead-lettered
// whole while the rooms go on.

const SECRET = 'webhook-secret-of-the-app-backend'
const SERVICE_SECRET = 'service-secret-of-the-app-backend'
type Envelope = { id: string; type: string; data: { room?: number | { id: number }; message?: { id: number; room: number; message: string } } }
const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
const seller = user('seller')

/** Every event of every POST, in the order received, with the POST it came in. */
const eventsOf = (posts: Received[]) => posts.flatMap((post, i) => (JSON.parse(post.body) as Envelope[]).map((event) => ({ event, post: i })))
const roomOf = (e: Envelope) => e.data.message?.room ?? (typeof e.data.room === 'object' ? e.data.room.id : e.data.room)

for (const store of STORES) {
  describe(`webhook batches on ${store.name}`, () => {
    let server: TestServer
    let receiver: Receiver

    beforeAll(async () => {
      receiver = await startReceiver()
      server = await startStoreServer(store, { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_BATCH: '20', WEBHOOK_RETRY_MIN_MS: '100', SERVICE_SECRET })
    })
    afterAll(async () => {
      await server?.destroy()
      await receiver?.stop()
    })

    const room = async (name: string) => ((await (await server.post('/chat/v1/create-room/', { name })).json()) as { id: number }).id
    const say = async (roomId: number, text: string) => ((await (await server.post('/chat/v1/message/', { room: roomId, message: text }, identityHeaders(seller))).json()) as { id: number }).id
    /** The events of these rooms received so far, once `count` of them are in. */
    const receivedFor = (rooms: number[], count: number) =>
      eventually(async () => {
        const all = eventsOf(await receiver.received()).filter(({ event }) => rooms.includes(roomOf(event) as number))
        expect(all.length).toBeGreaterThanOrEqual(count)
        return all
      })

    it('should POST arrays of events under one signature, every event once and in order per room', async () => {
      // A receiver that takes a moment to answer: events gather behind each POST, as under load.
      await receiver.script([], { delayMs: 150 })
      const rooms = [await room('배치 1'), await room('배치 2'), await room('배치 3')]
      const sent = new Map<number, number[]>(rooms.map((id) => [id, []]))
      await Promise.all(
        rooms.map(async (id) => {
          for (let i = 0; i < 30; i++) sent.get(id)!.push(await say(id, `메시지 ${i}`))
        }),
      )
      const got = await receivedFor(rooms, 3 + 90)
      await receiver.script([])
      const posts = await receiver.received()
      for (const post of posts) {
        const events = JSON.parse(post.body) as Envelope[]
        expect(Array.isArray(events)).toBe(true)
        expect(events.length).toBeLessThanOrEqual(20)
        expect(post.count).toBe(String(events.length))
        expect(post.id).toBeNull()
        expect(verifySignature(post.signature, post.body, SECRET)).toBe(true)
      }
      const counts = Map.groupBy(got, ({ event }) => event.id)
      expect([...counts].filter(([, list]) => list.length > 1).map(([id, list]) => `${id} in posts ${list.map((l) => l.post).join(',')} ${list[0]!.event.type}`)).toEqual([])
      for (const id of rooms) {
        const mine = got.filter(({ event }) => roomOf(event) === id).map(({ event }) => event)
        expect(mine.map((e) => e.type)).toEqual(['room.created', ...sent.get(id)!.map(() => 'message.created')])
        expect(mine.slice(1).map((e) => e.data.message!.id)).toEqual(sent.get(id)!)
      }
      // Batched: fewer POSTs than events.
      expect(new Set(got.map(({ post }) => post)).size).toBeLessThan(got.length / 2)
    })

    it('should send a failed batch again with the same ids, and lose or repeat nothing else', async () => {
      const roomId = await room('재시도')
      await eventually(async () => expect(eventsOf(await receiver.received()).some(({ event }) => event.type === 'room.created' && roomOf(event) === roomId)).toBe(true))
      const before = (await receiver.received()).length
      await receiver.script([{ status: 503 }])
      const ids: number[] = []
      for (let i = 0; i < 10; i++) ids.push(await say(roomId, `다시 ${i}`))
      const got = await eventually(async () => {
        const posts = (await receiver.received()).slice(before)
        const events = eventsOf(posts)
          .map(({ event }) => event)
          .filter((e) => roomOf(e) === roomId)
        // Every message arrived after the refused POST (which may have held them all).
        const refused = posts[0] ? (JSON.parse(posts[0].body) as Envelope[]).length : 0
        expect(new Set(events.slice(refused).map((e) => e.data.message!.id))).toEqual(new Set(ids))
        return { posts, events }
      })
      // The first POST (refused) and its repeat carry the same ids; every message arrived, in order after its repeat.
      const first = JSON.parse(got.posts[0]!.body) as Envelope[]
      const again = got.events.slice(first.length, first.length * 2)
      expect(again.map((e) => e.id)).toEqual(first.map((e) => e.id))
      const delivered = got.events.slice(first.length)
      expect(delivered.map((e) => e.data.message!.id)).toEqual(ids)
    })

    it('should dead-letter a batch the receiver refuses for good, and go on with what follows', async () => {
      const roomId = await room('거절')
      await eventually(async () => expect(eventsOf(await receiver.received()).some(({ event }) => event.type === 'room.created' && roomOf(event) === roomId)).toBe(true))
      const before = (await receiver.received()).length
      await receiver.script([{ status: 400 }])
      const refused = await say(roomId, '거절될 메시지')
      await eventually(async () => expect((await receiver.received()).length).toBeGreaterThan(before))
      const after = await say(roomId, '다음 메시지')
      await eventually(async () => expect(eventsOf((await receiver.received()).slice(before + 1)).some(({ event }) => event.data.message?.id === after)).toBe(true))
      const dead = (await (await server.http('/chat/v1/admin/webhooks/dead/', { headers: { 'x-service-secret': SERVICE_SECRET } })).json()) as { type: string; message?: { id: number }; data?: unknown }[]
      expect(JSON.stringify(dead)).toContain(`"id":${refused}`)
    })
  })

  describe(`webhook passes on ${store.name}`, () => {
    const GAP_MS = 1000
    let server: TestServer
    let receiver: Receiver

    beforeAll(async () => {
      receiver = await startReceiver()
      server = await startStoreServer(store, { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_BATCH: '20', WEBHOOK_PASS_GAP_MS: String(GAP_MS), SERVICE_SECRET })
    })
    afterAll(async () => {
      await server?.destroy()
      await receiver?.stop()
    })

    it("should send an idle room's event at once, and a busy room's next events together a gap later", async () => {
      const roomId = ((await (await server.post('/chat/v1/create-room/', { name: '간격' })).json()) as { id: number }).id
      const postsOf = async () => (await receiver.received()).filter((post) => eventsOf([post]).some(({ event }) => roomOf(event) === roomId))
      // The lane was idle: room.created goes out at once, in a POST of its own.
      const [created] = await eventually(async () => {
        const posts = await postsOf()
        expect(posts.length).toBe(1)
        return posts
      })
      expect(eventsOf([created!]).map(({ event }) => event.type)).toEqual(['room.created'])
      // Messages sent one after another, each answered once committed: without the gap, each would start a pass of its own.
      const ids: number[] = []
      for (let i = 0; i < 8; i++) ids.push(((await (await server.post('/chat/v1/message/', { room: roomId, message: `메시지 ${i}` }, identityHeaders(seller))).json()) as { id: number }).id)
      const posts = await eventually(async () => {
        const posts = await postsOf()
        expect(eventsOf(posts).length).toBe(9)
        return posts
      })
      const later = posts.slice(1)
      expect(eventsOf(later).map(({ event }) => event.data.message?.id)).toEqual(ids)
      // Together: in one POST, or two if the sends outlasted the gap on a slow machine.
      expect(later.length).toBeLessThanOrEqual(2)
      // Not before the gap (less the time room.created took to arrive after its pass started).
      expect(later[0]!.at - created!.at).toBeGreaterThanOrEqual(GAP_MS - 300)
    })
  })
}
