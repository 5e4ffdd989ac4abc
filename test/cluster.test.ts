import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { relayRedis, type RedisRelay } from './support/redis-test-servers.ts'
import { createDatabase, startInstance, startRedis, type TestRedis } from './support/cluster.ts'
import type { ServerProcess } from './support/process.ts'
import { endpoint, storedIds, UNLIMITED, type TestUser } from './support/server.ts'
import { until } from './support/wait.ts'
import { TestSocket, type Frame } from './support/socket.ts'

// Three instances as separate processes on one fresh Postgres database and a Redis of their own,
// each through a relay of its own (so a test can cut or slow one instance's network to Redis).
const PRESENCE_TTL = 2
/** After (re)connecting, an instance sweeps presence no sooner than this (redis-presence.ts). */
const SWEEP_HOLD_OFF_MS = Math.max(PRESENCE_TTL * 1000, 5000)
let db: Awaited<ReturnType<typeof createDatabase>>
let redis: TestRedis
let relays: RedisRelay[]
let instances: ServerProcess[]
/** Instances started by a test (to be killed), stopped after all. */
const extra: ServerProcess[] = []
let env: Record<string, string>

beforeAll(async () => {
  db = await createDatabase()
  redis = await startRedis()
  relays = [0, 1, 2].map(() => relayRedis(Number(new URL(redis.url).port)))
  env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: `test${Date.now()}:`, PRESENCE_TTL: String(PRESENCE_TTL), ...UNLIMITED }
  instances = []
  // One at a time: they migrate the same database (an advisory lock would serialise them anyway).
  for (const relay of relays) instances.push(await startInstance({ ...env, REDIS_URL: relay.url }))
}, 60_000)
afterAll(async () => {
  const all = [...(instances ?? []), ...extra]
  for (const instance of all) instance.proc.kill('SIGKILL')
  await Promise.all(all.map((i) => i.exited))
  for (const relay of relays ?? []) relay.close()
  await redis?.stop()
  await db?.drop()
})

const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
const on = (instance: ServerProcess) => endpoint(instance.base)
const connect = (instance: ServerProcess, roomId: number, who: TestUser, extra?: Record<string, string>) => TestSocket.connect(on(instance), roomId, who, extra)
/** A socket that hears everything sent to the room from now on (see TestSocket.live). */
const connectLive = (instance: ServerProcess, roomId: number, who: TestUser) => TestSocket.live(on(instance), roomId, who)
async function createRoom(instance: ServerProcess, name: string): Promise<number> {
  const res = await fetch(`${instance.base}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) })
  return ((await res.json()) as { id: number }).id
}
const ids = (frames: Frame[]) => frames.map((f) => f.id as number)
type Detail = { online_users: { user_id: string; nickname: string }[] }
const detail = async (instance: ServerProcess, roomId: number) => (await (await fetch(`${instance.base}/chat/v1/room/${roomId}/`)).json()) as Detail
const allReady = () => until(async () => (await Promise.all(instances.map(async (i) => (await fetch(`${i.base}/readyz`)).status))).every((s) => s === 200), { what: 'every instance ready', timeoutMs: 20_000 })

describe('three instances on Postgres and Redis', () => {
  it('should give every client every message once, in one ascending order, whichever instance it is on', async () => {
    const roomId = await createRoom(instances[0]!, 'cluster room')
    const clients = await Promise.all(Array.from({ length: 6 }, (_, i) => connectLive(instances[i % 3]!, roomId, user(`c${i}`))))
    for (let round = 0; round < 30; round++) for (const [i, c] of clients.entries()) c.sendMessage(`${i}:${round}`)
    const seen = await Promise.all(clients.map((c) => c.collect('chat.message', 180, 20_000)))
    const reference = ids(seen[0]!)
    expect(new Set(reference).size).toBe(180)
    expect(reference).toEqual([...reference].sort((a, b) => a - b))
    for (const frames of seen) expect(ids(frames)).toEqual(reference)
    await Promise.all(clients.map((c) => c.barrier()))
    for (const c of clients) expect(c.all('chat.message')).toHaveLength(180)
    const history = (await (await fetch(`${instances[2]!.base}/chat/v1/room/${roomId}/messages/?after=0&limit=200`)).json()) as { id: number }[]
    expect(history.map((m) => m.id)).toEqual(reference)
    await Promise.all(clients.map((c) => c.close()))
  }, 60_000)

  it('should announce a user once however many tabs on however many instances, and leave with the last', async () => {
    const roomId = await createRoom(instances[0]!, 'tabs across instances')
    const watcher = await connectLive(instances[2]!, roomId, user('watcher'))
    const tab1 = await connect(instances[0]!, roomId, user('alice'))
    await watcher.next('chat.user.join')
    const tab2 = await connect(instances[1]!, roomId, user('alice'))
    const detail = (await (await fetch(`${instances[1]!.base}/chat/v1/room/${roomId}/`)).json()) as { online_count: number; online_users: { user_id: string; nickname: string }[] }
    expect(detail.online_count).toBe(2)
    expect(detail.online_users).toContainEqual({ user_id: 'alice', nickname: 'alice님', profile_picture_url: null } as never)

    await tab1.close()
    tab2.sendMessage('still here')
    await watcher.next((f) => f.type === 'chat.message' && f.message === 'still here')
    await Bun.sleep(300)
    await watcher.barrier()
    expect(watcher.all('chat.user.join')).toHaveLength(1)
    expect(watcher.all('chat.user.leave')).toHaveLength(0)

    await tab2.close()
    expect(await watcher.next('chat.user.leave')).toEqual({ type: 'chat.user.leave', username: 'alice님', user_id: 'alice' })
    await watcher.close()
  }, 30_000)

  it('should replay with since= and go live with no gap and no duplicate while other instances keep sending', async () => {
    const roomId = await createRoom(instances[0]!, 'since across instances')
    const senders = [await connectLive(instances[0]!, roomId, user('s0')), await connectLive(instances[1]!, roomId, user('s1'))]
    for (let i = 0; i < 50; i++) for (const s of senders) s.sendMessage(`warm ${i}`)
    await senders[0]!.collect('chat.message', 100)
    const since = senders[0]!.all('chat.message')[40]!.id as number
    let sending = true
    const pumps = senders.map(async (s, n) => {
      for (let i = 0; sending; i++) {
        s.sendMessage(`live ${n}:${i}`)
        await Bun.sleep(2)
      }
    })
    // Instance 2 has no socket in this room yet: the replay races the start of its event stream.
    const late = await Promise.all([1, 2, 3].map((k) => connect(instances[2]!, roomId, user(`late${k}`), { since: String(since) })))
    await Bun.sleep(400)
    sending = false
    await Promise.all(pumps)
    await Promise.all(senders.map((s) => s.barrier()))
    // Everything stored after since=, up to the last message (which may still be on its way to
    // the senders themselves when the pumps stop).
    const stored = await storedIds(instances[2]!, roomId, since)
    const lastId = stored.at(-1)!
    for (const client of late) {
      await client.next((f) => f.type === 'chat.message' && f.id === lastId, 10_000)
      expect(ids(client.all('chat.message'))).toEqual(stored)
    }
    await Promise.all([...senders, ...late].map((c) => c.close()))
  }, 30_000)

  it('should not let a late leave undo a join decided after it', async () => {
    const roomId = await createRoom(instances[0]!, 'join after leave')
    const watcher = await connectLive(instances[0]!, roomId, user('watcher'))
    const tab1 = await connect(instances[1]!, roomId, user('alice'))
    await watcher.next('chat.user.join', 15_000)
    // Instance 1's traffic to Redis is slow: Redis decides alice's leave, then her join through
    // instance 2, but instance 1 publishes the leave only after instance 2 published the join.
    relays[1]!.delay(800)
    try {
      await tab1.close()
      await until(async () => !(await detail(instances[0]!, roomId)).online_users.some((u) => u.user_id === 'alice'), { what: 'alice left', timeoutMs: 10_000 })
      const tab2 = await connect(instances[2]!, roomId, user('alice'))
      await Bun.sleep(2500)
      await watcher.barrier()
      const seen = watcher.frames.filter((f) => f.type.startsWith('chat.user.') && f.user_id === 'alice').map((f) => f.type)
      // The leave and the join that followed it may both arrive, in their order, or neither
      // (the leave came too late, so the join says nothing new); alice ends present either way.
      expect(seen.at(-1)).toBe('chat.user.join')
      expect((await detail(instances[0]!, roomId)).online_users.map((u) => u.user_id)).toContain('alice')
      await tab2.close()
    } finally {
      relays[1]!.delay(0)
    }
    await watcher.close()
  }, 30_000)

  it("should announce the leaves of a killed instance's users within the presence TTL", async () => {
    const roomId = await createRoom(instances[0]!, 'kill -9')
    const victim = await startInstance(env)
    extra.push(victim)
    const watcher = await connectLive(instances[0]!, roomId, user('survivor'))
    const doomed = await connect(victim, roomId, user('doomed'))
    await watcher.next('chat.user.join')
    victim.proc.kill('SIGKILL')
    await victim.exited
    void doomed.closed
    const killedAt = Date.now()
    expect(await watcher.next('chat.user.leave', (PRESENCE_TTL + 2) * 1000)).toEqual({ type: 'chat.user.leave', username: 'doomed님', user_id: 'doomed' })
    const waited = (Date.now() - killedAt) / 1000
    // The entry expires after the TTL; the next sweep (every TTL/3) announces it.
    expect(waited).toBeLessThanOrEqual(PRESENCE_TTL * (1 + 1 / 3) + 0.5)
    const online = await detail(instances[0]!, roomId)
    expect(online.online_users.map((u) => u.user_id)).toEqual(['survivor'])
    await watcher.close()
  }, 30_000)

  it('should refuse sends clearly while Redis is down, recover by itself, and lose nothing stored', async () => {
    const roomId = await createRoom(instances[0]!, 'redis restart')
    const a = await connectLive(instances[0]!, roomId, user('ra'))
    const b = await connectLive(instances[1]!, roomId, user('rb'))
    for (let i = 0; i < 10; i++) a.sendMessage(`before ${i}`)
    await b.collect('chat.message', 10)
    const lastSeenByB = b.all('chat.message').at(-1)!.id as number

    await redis.stop()
    await Bun.sleep(300)
    const ready = await fetch(`${instances[0]!.base}/readyz`)
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as { code: string }).code).toBe('not_ready')
    a.sendMessage('while redis is down')
    expect(await a.next('chat.error')).toMatchObject({ code: 'unavailable' })
    const rest = await fetch(`${instances[0]!.base}/chat/v1/message/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': 'ra', 'x-nickname': 'ra', 'x-email': 'ra@example.com' },
      body: JSON.stringify({ message: 'rest while down', room: roomId }),
    })
    expect(rest.status).toBe(503)

    await redis.start()
    for (let i = 0; i < 100; i++) {
      const statuses = await Promise.all(instances.map(async (inst) => (await fetch(`${inst.base}/readyz`)).status))
      if (statuses.every((s) => s === 200)) break
      await Bun.sleep(200)
    }
    for (let i = 0; i < 10; i++) a.sendMessage(`after ${i}`)
    await b.next((f) => f.type === 'chat.message' && f.message === 'after 9', 15_000)

    // A client that missed everything since a point recovers it all with since=.
    const late = await connect(instances[2]!, roomId, user('rc'), { since: String(lastSeenByB - 5) })
    await late.next('chat.recovered')
    const history = (await (await fetch(`${instances[2]!.base}/chat/v1/room/${roomId}/messages/?after=0`)).json()) as { id: number; message: string }[]
    expect(history.map((m) => m.message)).toEqual([...Array.from({ length: 10 }, (_, i) => `before ${i}`), ...Array.from({ length: 10 }, (_, i) => `after ${i}`)])
    expect(ids(late.all('chat.message'))).toEqual(history.map((m) => m.id).filter((id) => id > lastSeenByB - 5))
    expect(ids(b.all('chat.message'))).toEqual(history.map((m) => m.id))
    await Promise.all([a.close(), b.close(), late.close()])
  }, 60_000)

  it("should restore nicknames and the room index after Redis restarts empty, and still announce a killed instance's users", async () => {
    const roomId = await createRoom(instances[0]!, 'redis restarts empty')
    const victim = await startInstance(env)
    extra.push(victim)
    const watcher = await connectLive(instances[0]!, roomId, user('keeper'))
    const doomed = await connect(victim, roomId, user('lost'))
    await watcher.next('chat.user.join')
    await redis.stop()
    await redis.start()
    // The instances renew their users as they reconnect, and with them everything a join wrote.
    const nicknames = async () => {
      const res = await fetch(`${instances[1]!.base}/chat/v1/room/${roomId}/`)
      return res.ok ? ((await res.json()) as Detail).online_users.map((u) => u.nickname).sort() : []
    }
    await until(async () => (await nicknames()).length === 2, { what: 'both users back', timeoutMs: 10_000 })
    expect(await nicknames()).toEqual(['keeper님', 'lost님'])
    victim.proc.kill('SIGKILL')
    await victim.exited
    void doomed.closed
    expect(await watcher.next('chat.user.leave', SWEEP_HOLD_OFF_MS + (PRESENCE_TTL + 2) * 1000)).toEqual({ type: 'chat.user.leave', username: 'lost님', user_id: 'lost' })
    await watcher.close()
  }, 30_000)

  it('should announce nobody gone after an outage longer than the presence TTL', async () => {
    // Only the three instances behind relays: one with a Redis connection of its own would sweep.
    for (const instance of extra) instance.proc.kill('SIGKILL')
    await Promise.all(extra.map((i) => i.exited))
    await allReady()
    const roomId = await createRoom(instances[0]!, 'long outage')
    const watcher = await connectLive(instances[0]!, roomId, user('w'))
    // Live before the cut: a socket whose room watch the cut breaks is closed (and its user leaves).
    const stayers = [await connectLive(instances[1]!, roomId, user('stay1')), await connectLive(instances[2]!, roomId, user('stay2'))]
    await watcher.collect('chat.user.join', 2)
    for (const relay of relays) relay.cut()
    await Bun.sleep(PRESENCE_TTL * 2000)
    // Instance 0 gets back first (its room detail reads presence again) and has a second or so to
    // itself, while the others' users look expired; then the others come back (Bun's reconnect
    // backoff spreads instances by up to 2 s).
    relays[0]!.restore()
    await until(async () => (await fetch(`${instances[0]!.base}/chat/v1/room/${roomId}/`)).status === 200, { what: 'instance 0 back', timeoutMs: 10_000 })
    await Bun.sleep(1000)
    for (const relay of relays) relay.restore()
    await allReady()
    await Bun.sleep(SWEEP_HOLD_OFF_MS + PRESENCE_TTL * 1000)
    await watcher.barrier()
    expect(watcher.all('chat.user.leave')).toEqual([])
    expect((await detail(instances[0]!, roomId)).online_users.map((u) => u.user_id).sort()).toEqual(['stay1', 'stay2', 'w'])
    await Promise.all([watcher, ...stayers].map((c) => c.close()))
  }, 60_000)
})
