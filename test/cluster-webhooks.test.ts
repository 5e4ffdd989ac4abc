import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { createDatabase, startInstance, startRedis, type TestRedis } from './support/cluster.ts'
import type { ServerProcess } from './support/process.ts'
import { endpoint, identityHeaders, UNLIMITED, type TestUser } from './support/server.ts'
import { eventually, startReceiver, type Receiver, type Received } from './support/webhooks.ts'

// Webhooks from three instances (separate processes) on one fresh Postgres database and a Redis of
// their own: each event is sent by one of them, and one killed mid-delivery loses nothing.
const SECRET = 'webhook-secret-of-the-app-backend'
let db: Awaited<ReturnType<typeof createDatabase>>
let redis: TestRedis
let receiver: Receiver
let instances: ServerProcess[]
let env: Record<string, string>

beforeAll(async () => {
  db = await createDatabase()
  redis = await startRedis()
  receiver = await startReceiver()
  env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: `hooks${Date.now()}:`, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_TIMEOUT: '1', WEBHOOK_RETRY_MIN_MS: '100', ...UNLIMITED }
  instances = []
  for (let i = 0; i < 3; i++) instances.push(await startInstance(env))
}, 60_000)
afterAll(async () => {
  for (const instance of instances ?? []) instance.proc.kill('SIGKILL')
  await Promise.all((instances ?? []).map((i) => i.exited))
  await receiver?.stop()
  await redis?.stop()
  await db?.drop()
})

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

/** The receiver's requests for `roomId` once every message of `sent` came (repeats included). */
const everySent = (roomId: number, sent: number[]) =>
  eventually(async () => {
    const mine = messagesOf(await receiver.received(), [roomId])
    expect(new Set(mine.map((r) => parse(r).data.message!.id))).toEqual(new Set(sent))
    return mine
  }, 40_000)

describe('webhooks across three instances', () => {
  it('should spread the lanes over the instances alive, each holding about its share and every lane held', async () => {
    const sql = new Bun.SQL(db.url)
    try {
      await eventually(async () => {
        const rows = (await sql`select owner, count(*)::int as lanes from webhook_lanes where owner is not null and until > ${Date.now()} group by owner`) as { owner: string; lanes: number }[]
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
