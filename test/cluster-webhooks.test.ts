import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import type { SQL } from 'bun'
import { LANES } from '../src/store/outbox.ts'
import { createDatabase, startInstance, startRedis, type TestRedis } from './support/cluster.ts'
import type { ServerProcess } from './support/process.ts'
import { endpoint, identityHeaders, UNLIMITED, type TestUser } from './support/server.ts'
import { until } from './support/wait.ts'
import { eventually, startReceiver, type Receiver, type Received } from './support/webhooks.ts'

// Webhooks from three instances (separate processes) on one fresh Postgres database and a Redis of
// their own: each event is sent by one of them, and one killed mid-delivery (one event or a batch
// in flight) loses nothing and repeats only what it had in flight.
const SECRET = 'webhook-secret-of-the-app-backend'
let db: Awaited<ReturnType<typeof createDatabase>>
let redis: TestRedis
let receiver: Receiver
let instances: ServerProcess[]
let env: Record<string, string>

/**
 * A receiver, a fresh database and Redis, and three instances on them with `extra` in their env;
 * `started` runs after each instance is up, before the next starts.
 */
async function startThree(extra: Record<string, string> = {}, started: (i: number) => Promise<void> = async () => {}) {
  db = await createDatabase()
  redis = await startRedis()
  receiver = await startReceiver()
  env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: `hooks${Date.now()}:`, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_TIMEOUT: '1', WEBHOOK_RETRY_MIN_MS: '100', ...UNLIMITED, ...extra }
  instances = []
  for (let i = 0; i < 3; i++) {
    instances.push(await startInstance(env))
    await started(i)
  }
}
/** Kills the instances, stops the receiver and Redis, and drops the database. */
async function stopAll() {
  for (const instance of instances ?? []) instance.proc.kill('SIGKILL')
  await Promise.all((instances ?? []).map((i) => i.exited))
  await receiver?.stop()
  await redis?.stop()
  await db?.drop()
}

const writer: TestUser = { user_id: 'hook-writer', nickname: 'Writer', email: 'writer@example.com' }
const on = (i: number) => endpoint(instances[i]!.base)
type Envelope = { id: string; type: string; data: { message?: { id: number; room: number } } }
const parse = (r: Received) => JSON.parse(r.body) as Envelope
const messagesOf = (received: Received[], rooms: number[]) => received.filter((r) => rooms.includes(parse(r).data.message?.room ?? -1))
async function room(i: number, name: string): Promise<number> {
  return ((await (await on(i).post('/chat/v1/create-room/', { name })).json()) as { id: number }).id
}
async function say(i: number, roomId: number, text: string): Promise<number> {
  const res = await on(i).post('/chat/v1/message/', { room: roomId, message: text }, identityHeaders(writer))
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: number }).id
}

/** The events of batch POSTs (JSON arrays), in the order received, each with when its POST came. */
const eventsOf = (posts: Received[]) => posts.flatMap((post) => (JSON.parse(post.body) as Envelope[]).map((event) => ({ event, at: post.at })))
/** The lanes' owners now, with how many lanes each holds. */
const owners = async (sql: SQL) => (await sql`select owner, count(*)::int as lanes from webhook_lanes where owner is not null and until > ${Date.now()} group by owner`) as { owner: string; lanes: number }[]

/** The receiver's requests for `roomId` once every message of `sent` came (repeats included). */
const everySent = (roomId: number, sent: number[]) =>
  eventually(async () => {
    const mine = messagesOf(await receiver.received(), [roomId])
    expect(new Set(mine.map((r) => parse(r).data.message!.id))).toEqual(new Set(sent))
    return mine
  }, 40_000)

describe('webhooks across three instances', () => {
  beforeAll(() => startThree(), 60_000)
  afterAll(stopAll)

  it('should spread the lanes over the instances alive, each holding about its share and every lane held', async () => {
    const sql = new Bun.SQL(db.url)
    try {
      await eventually(async () => {
        const rows = await owners(sql)
        expect(rows.length).toBe(3)
        expect(rows.reduce((n, r) => n + r.lanes, 0)).toBe(64)
        // Each at most its share (64 / 3, rounded up: 22), so none holds fewer than 64 - 2 x 22.
        for (const r of rows) expect([r.lanes >= 20, r.lanes <= 22]).toEqual([true, true])
      }, 30_000)
    } finally {
      await sql.close()
    }
  }, 40_000)

  it('should send each event once in normal operation, whichever instance stored it, in order per room', async () => {
    const rooms = [await room(0, 'a'), await room(1, 'b'), await room(2, 'c')]
    const sent: number[] = []
    for (let i = 0; i < 60; i++) sent.push(await say(i % 3, rooms[Math.floor(i / 3) % 3]!, `m${i}`))
    const got = await eventually(async () => {
      const mine = messagesOf(await receiver.received(), rooms)
      expect(mine.length).toBeGreaterThanOrEqual(60)
      return mine
    }, 20_000)
    await Bun.sleep(500)
    const after = messagesOf(await receiver.received(), rooms)
    // Once each: no id twice, every message there.
    expect(after.length).toBe(60)
    expect(new Set(after.map((r) => r.id)).size).toBe(60)
    expect(new Set(got.map((r) => parse(r).data.message!.id))).toEqual(new Set(sent))
    for (const roomId of rooms) {
      const ids = after
        .map(parse)
        .filter((e) => e.data.message!.room === roomId)
        .map((e) => e.data.message!.id)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
    }
  }, 60_000)

  it('should deliver everything when an instance is killed mid-delivery, repeating only what was not acknowledged, with the same id', async () => {
    const roomId = await room(0, 'killed')
    // A slow receiver: each delivery takes 300 ms, so some are in flight when the instance dies.
    await receiver.script([], { delayMs: 300 })
    const sent: number[] = []
    for (let i = 0; i < 12; i++) sent.push(await say(0, roomId, `k${i}`))
    await Bun.sleep(800)
    const killedAt = Date.now()
    instances[0]!.proc.kill('SIGKILL')
    await instances[0]!.exited
    instances[0] = await startInstance(env)
    const got = await everySent(roomId, sent)
    await receiver.script([])
    // Repeats carry the id of the first try, and only a request made before the kill is repeated.
    const firstAt = new Map<string, number>()
    for (const r of got) if (!firstAt.has(r.id!)) firstAt.set(r.id!, r.at)
    const repeated = [...firstAt.keys()].filter((id) => got.filter((r) => r.id === id).length > 1)
    for (const id of repeated) expect(firstAt.get(id)!).toBeLessThan(killedAt)
    expect(repeated.length).toBeLessThanOrEqual(1)
    const ids = got.map(parse).map((e) => e.data.message!.id)
    const firstSeen = ids.filter((id, i) => ids.indexOf(id) === i)
    expect(firstSeen).toEqual([...firstSeen].sort((a, b) => a - b))
  }, 90_000)

  it('should deliver everything after every instance was killed mid-delivery and started again', async () => {
    const roomId = await room(1, 'all killed')
    await receiver.script([], { delayMs: 200 })
    const sent: number[] = []
    for (let i = 0; i < 10; i++) sent.push(await say(i % 3, roomId, `a${i}`))
    await Bun.sleep(500)
    for (const instance of instances) instance.proc.kill('SIGKILL')
    await Promise.all(instances.map((i) => i.exited))
    for (let i = 0; i < 3; i++) instances[i] = await startInstance(env)
    // The new processes take the dead ones' lanes once their leases run out.
    const got = await everySent(roomId, sent)
    await receiver.script([])
    const byId = new Map<string, number>()
    for (const r of got) byId.set(r.id!, (byId.get(r.id!) ?? 0) + 1)
    expect([...byId.values()].filter((n) => n > 1).length).toBeLessThanOrEqual(1)
  }, 90_000)
})

describe('webhook batches across three instances', () => {
  const share = Math.ceil(LANES / 3)
  /** Each instance's dispatcher as the lanes name it (their owner), by instance: the owner that came with it. */
  const dispatchers: string[] = []
  let sql: SQL
  beforeAll(async () => {
    await startThree({ WEBHOOK_BATCH: '20', WEBHOOK_TIMEOUT: '4' }, async () => {
      sql ??= new Bun.SQL(db.url)
      const added = await until(async () => (await owners(sql)).find((o) => !dispatchers.includes(o.owner))?.owner ?? false, { timeoutMs: 20_000, what: 'the new instance to lease lanes' })
      dispatchers.push(added)
    })
  }, 90_000)
  afterAll(async () => {
    await sql?.close()
    await stopAll()
  })

  it('should deliver everything when the instance sending a batch is killed with it unanswered, repeating that batch alone, whole, with the same ids, from the instance that took its lane', async () => {
    await until(
      async () => {
        const rows = await owners(sql)
        return rows.length === 3 && rows.reduce((n, r) => n + r.lanes, 0) === LANES && rows.every((r) => r.lanes <= share)
      },
      { timeoutMs: 30_000, what: 'the lanes spread over the three instances' },
    )
    const roomId = await room(0, 'killed mid-batch')
    const lane = roomId % LANES
    await until(async () => eventsOf(await receiver.received()).some(({ event }) => event.type === 'room.created'), { what: 'the room.created event' })
    const from = (await receiver.received()).length
    // The next POST is answered after two seconds: the messages stored once it is under way gather
    // into the one after it, held unanswered (sent only once the first POST came, so that they
    // cannot all go in the first however late its pass begins).
    await receiver.script([{ delayMs: 2000 }, { delayMs: 30_000 }], { delayMs: 20 })
    const sent: number[] = [await say(0, roomId, 'b0')]
    await until(async () => (await receiver.received(from)).length > 0, { timeoutMs: 15_000, what: 'the first batch' })
    for (let i = 1; i < 15; i++) sent.push(await say(i % 3, roomId, `b${i}`))
    const held = await until(async () => (await receiver.received(from))[1] ?? false, { timeoutMs: 15_000, what: 'the held batch' })
    const laneOwner = async () => ((await sql`select owner from webhook_lanes where lane = ${lane}`) as { owner: string | null }[])[0]!.owner ?? ''
    const killed = dispatchers.indexOf(await laneOwner())
    expect(killed).not.toBe(-1)
    instances[killed]!.proc.kill('SIGKILL')
    const killedAt = Date.now()
    await instances[killed]!.exited
    // Killed with the batch in flight: before its WEBHOOK_TIMEOUT (4 s) could fail it.
    expect(killedAt - held.at).toBeLessThan(4000)
    const heldIds = (JSON.parse(held.body) as Envelope[]).map((e) => e.id)
    expect(heldIds.length).toBeGreaterThan(1)
    const alive = [0, 1, 2].filter((i) => i !== killed)
    for (let i = 0; i < 5; i++) sent.push(await say(alive[i % 2]!, roomId, `c${i}`))

    await until(
      async () => {
        const ids = new Set(eventsOf(await receiver.received(from)).map(({ event }) => event.data.message?.id))
        return sent.every((id) => ids.has(id))
      },
      { timeoutMs: 40_000, what: 'every message' },
    )
    // A moment more for any repeat beyond.
    await Bun.sleep(500)
    await receiver.script([])
    const posts = await receiver.received(from)
    const got = eventsOf(posts)
    // Each message once as the receiver acknowledged it (all but the held POST), in order.
    const heldCount = heldIds.length
    const firstPost = (JSON.parse(posts[0]!.body) as Envelope[]).length
    const acknowledged = [...got.slice(0, firstPost), ...got.slice(firstPost + heldCount)]
    expect(acknowledged.map(({ event }) => event.data.message!.id)).toEqual(sent)
    // Repeated: the held batch's events alone, each once more, after the kill, in the same order with the same ids.
    const times = Map.groupBy(got, ({ event }) => event.id)
    const repeated = [...times].filter(([, list]) => list.length > 1)
    expect(repeated.map(([id]) => id)).toEqual(heldIds)
    expect(repeated.map(([, list]) => list.length)).toEqual(heldIds.map(() => 2))
    for (const [, list] of repeated) expect(list[1]!.at).toBeGreaterThan(killedAt)
    // Its lane is held by an instance alive.
    const survivors = alive.map((i) => dispatchers[i])
    await until(async () => survivors.includes(await laneOwner()), {
      timeoutMs: 20_000,
      what: 'an instance alive to hold the lane',
    })
  }, 120_000)
})

describe('webhooks of messages stored where their lane is not held', () => {
  // Polls a minute apart: within the test's time, a message reaches the receiver only if the
  // instance that stored it holds its lane or nudged the instance that does.
  beforeAll(() => startThree({ WEBHOOK_POLL_MS: '60000' }), 60_000)
  afterAll(stopAll)

  it('should send them at once, and the events of rooms, the instance holding the lane nudged over Redis', async () => {
    const sql = new Bun.SQL(db.url)
    try {
      await until(
        async () => {
          const rows = await owners(sql)
          return rows.length === 3 && rows.reduce((n, r) => n + r.lanes, 0) === LANES && rows.every((r) => r.lanes <= Math.ceil(LANES / 3))
        },
        { timeoutMs: 30_000, what: 'the lanes spread over the three instances' },
      )
    } finally {
      await sql.close()
    }
    // Six rooms, a message in each from each instance: two in three are stored where their lane is not held.
    const rooms: number[] = []
    for (let i = 0; i < 6; i++) rooms.push(await room(i % 3, `방 ${i}`))
    // Their room.created events first, written where each room was created.
    await until(
      async () => {
        const created = new Set((await receiver.received()).map(parse).map((e) => (e.type === 'room.created' ? (e.data as { room?: { id: number } }).room?.id : undefined)))
        return rooms.every((id) => created.has(id))
      },
      { timeoutMs: 15_000, what: 'every room.created, long before the next poll' },
    )
    const sent: number[] = []
    for (const roomId of rooms) for (let i = 0; i < 3; i++) sent.push(await say(i, roomId, `${i}번 인스턴스에서 보낸 메시지`))
    await until(
      async () => {
        const ids = new Set(messagesOf(await receiver.received(), rooms).map((r) => parse(r).data.message!.id))
        return sent.every((id) => ids.has(id))
      },
      { timeoutMs: 15_000, what: 'every message, long before the next poll' },
    )
    // Operators see it: lanes nudged by the instances that stored, and looked at by those holding them.
    const nudges = async (direction: string) => {
      let total = 0
      for (const instance of instances) {
        const line = (await (await fetch(`${instance.base}/metrics`)).text()).split('\n').find((l) => l.startsWith(`chat_webhook_nudges_total{direction="${direction}"} `))
        total += line ? Number(line.split(' ')[1]) : 0
      }
      return total
    }
    expect(await nudges('sent')).toBeGreaterThan(0)
    expect(await nudges('received')).toBeGreaterThan(0)
  }, 90_000)
})
