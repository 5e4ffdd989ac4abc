import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { createDatabase, startInstance, startRedis, type TestRedis } from './support/cluster.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import type { ServerProcess } from './support/process.ts'
import { endpoint, handshake, identityHeaders, UNLIMITED, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// Two instances on one fresh Postgres database and a Redis of their own, which the tests stop; the
// second reaches Redis through a proxy that can stall its link.
let db: Awaited<ReturnType<typeof createDatabase>>
let redis: TestRedis
let proxy: FaultProxy
let instances: ServerProcess[]

beforeAll(async () => {
  db = await createDatabase()
  redis = await startRedis()
  proxy = await FaultProxy.start(Number(new URL(redis.url).port), 'redis-b')
  const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: `faults${Date.now()}:`, PRESENCE_TTL: '2', ...UNLIMITED }
  instances = [await startInstance(env), await startInstance({ ...env, REDIS_URL: `redis://127.0.0.1:${proxy.port}` })]
}, 60_000)
afterAll(async () => {
  for (const instance of instances ?? []) instance.proc.kill('SIGKILL')
  await Promise.all((instances ?? []).map((i) => i.exited))
  await proxy?.close()
  await redis?.stop()
  await db?.drop()
})

const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
async function createRoom(instance: ServerProcess, name: string): Promise<number> {
  const res = await fetch(`${instance.base}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) })
  return ((await res.json()) as { id: number }).id
}
/**
 * A socket whose instance hears the room's events (chat.recovered comes once they flow to it): a
 * join announced by another instance before that would not reach it.
 */
async function connectLive(instance: ServerProcess, roomId: number, who: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(endpoint(instance.base), roomId, who, { since: '0' })
  await socket.next('chat.recovered')
  return socket
}
const sample = async (instance: ServerProcess, name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await (await fetch(`${instance.base}/metrics`)).text())?.[1] ?? 0)
const alive = (instance: ServerProcess) => instance.proc.exitCode === null && instance.proc.signalCode === null

describe('typing across instances', () => {
  it('should reach the room on every instance, but not the typist', async () => {
    const roomId = await createRoom(instances[0]!, 'typing')
    const typist = await connectLive(instances[0]!, roomId, user('typist'))
    const near = await connectLive(instances[0]!, roomId, user('near'))
    const far = await connectLive(instances[1]!, roomId, user('far'))
    await typist.next((f) => f.type === 'chat.user.join' && f.user_id === 'far')
    typist.send({ type: 'chat.typing' })
    for (const s of [near, far]) expect(await s.next('chat.typing')).toEqual({ type: 'chat.typing', user_id: 'typist', nickname: 'typist님' })
    await typist.barrier()
    expect(typist.all('chat.typing')).toHaveLength(0)
    await Promise.all([typist.close(), near.close(), far.close()])
  })
})

describe('a replay on an instance whose live events lag', () => {
  it('should not deliver live, after it, a message the client already had (since=)', async () => {
    const roomId = await createRoom(instances[0]!, 'lagging')
    const sender = await connectLive(instances[0]!, roomId, user('sender'))
    const watcher = await connectLive(instances[1]!, roomId, user('watcher'))
    await sender.next((f) => f.type === 'chat.user.join' && f.user_id === 'watcher')
    // Instance B hears Redis late: the message is stored and seen on A, and not yet live on B.
    proxy.stall('down')
    sender.sendMessage('seen on A first')
    const seen = await sender.next('chat.message')
    // A client that saw it on A moves to B with since= that message: nothing to replay.
    const moved = await TestSocket.connect(endpoint(instances[1]!.base), roomId, user('mover'), { since: String(seen.id) })
    await Bun.sleep(300)
    proxy.stall(null)
    expect(await watcher.next('chat.message')).toMatchObject({ id: seen.id })
    await moved.next('chat.recovered')
    sender.sendMessage('after')
    expect(await moved.next('chat.message')).toMatchObject({ message: 'after' })
    expect(moved.all('chat.message').map((f) => f.id)).not.toContain(seen.id)
    await Promise.all([sender.close(), watcher.close(), moved.close()])
  }, 30_000)
})

describe("a room's last messages whose publish the link lost", () => {
  it("should reach the other instances once the sender's link is back, with nothing sent after them", async () => {
    const roomId = await createRoom(instances[0]!, 'lost publish')
    const watcher = await connectLive(instances[0]!, roomId, user('watcher'))
    const sender = await connectLive(instances[1]!, roomId, user('sender'))
    await watcher.next((f) => f.type === 'chat.user.join' && f.user_id === 'sender')
    // B's link stalls on the way to Redis: the messages are stored and acknowledged (the sender
    // hears them from its own instance), their publish waits in the link, which then resets.
    proxy.stall('up')
    let sent: Awaited<ReturnType<typeof sender.next>>[]
    try {
      sender.sendMessage('마지막 메시지 1')
      sender.sendMessage('마지막 메시지 2')
      sent = [await sender.next('chat.message'), await sender.next('chat.message')]
      await Bun.sleep(200)
      proxy.cut()
    } finally {
      proxy.stall(null)
    }
    const heard = [await watcher.next('chat.message', 15_000), await watcher.next('chat.message', 5_000)]
    expect(heard.map((f) => [f.id, f.message])).toEqual(sent.map((f) => [f.id, f.message]))
    await watcher.barrier()
    expect(watcher.all('chat.message')).toHaveLength(2)
    await Promise.all([watcher.close(), sender.close()])
  }, 30_000)
})

describe("a removal whose publish waits in the remover's link", () => {
  it("should end the removed member's stream on another instance at the removal, before anything the room commits after it", async () => {
    const [owner, member] = [user('link-owner'), user('link-member')]
    const post = (instance: ServerProcess, path: string, body: unknown, who: TestUser) =>
      fetch(`${instance.base}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...identityHeaders(who) }, body: JSON.stringify(body) })
    const roomId = ((await (await post(instances[0]!, '/chat/v1/create-room/', { name: '우리끼리', kind: 'private', members: [member.user_id] }, owner)).json()) as { id: number }).id
    const stream = await TestSocket.inbox(endpoint(instances[0]!.base), member)
    await stream.next('inbox.ready')
    expect((await post(instances[0]!, '/chat/v1/message/', { room: roomId, message: '첫 메시지' }, owner)).status).toBe(201)
    expect(await stream.next('inbox.message')).toMatchObject({ room: roomId, message: { message: '첫 메시지' } })
    // B's link stalls on the way to Redis: the removal commits on B and answers; its room event and
    // its user event wait in the link. A message then commits on A: its version tells A of the
    // removal (read from the store), and the removal comes first.
    proxy.stall('up')
    try {
      const removed = await fetch(`${instances[1]!.base}/chat/v1/room/${roomId}/members/${member.user_id}/`, { method: 'DELETE', headers: identityHeaders(owner) })
      expect(removed.status).toBe(204)
      expect((await post(instances[0]!, '/chat/v1/message/', { room: roomId, message: '내보낸 뒤의 메시지' }, owner)).status).toBe(201)
      expect(await stream.next((f) => f.type === 'inbox.removed' || f.type === 'inbox.message', 10_000)).toEqual({ type: 'inbox.removed', room: roomId })
    } finally {
      proxy.stall(null)
    }
    // B's user event arrives once its link flows, before anything B publishes for the user after it
    // (a read of another room, told on the stream): the removal was told once.
    const other = ((await (await post(instances[0]!, '/chat/v1/create-room/', { name: '다른 방' }, owner)).json()) as { id: number }).id
    expect((await post(instances[0]!, '/chat/v1/message/', { room: other, message: '안녕' }, owner)).status).toBe(201)
    expect((await post(instances[1]!, `/chat/v1/room/${other}/read/`, { last_read_id: Number.MAX_SAFE_INTEGER }, member)).status).toBe(200)
    await stream.next((f) => (f.type === 'inbox.room' || f.type === 'inbox.read') && (f.room === other || (f.room as { id?: number }).id === other), 10_000)
    expect(stream.all('inbox.message').map((f) => (f.message as { message: string }).message)).toEqual(['첫 메시지'])
    expect(stream.all('inbox.removed')).toEqual([{ type: 'inbox.removed', room: roomId }])
    await stream.close()
  }, 30_000)
})

describe('Redis away while sockets open', () => {
  it('should never end the process: new sockets get 1013 or 503, and all works again once Redis is back', async () => {
    const rooms = await Promise.all([1, 2, 3, 4].map((i) => createRoom(instances[0]!, `unwatched ${i}`)))
    await redis.stop()
    // At once (the broker has not noticed yet: the upgrade goes through, the room's watch fails)
    // and later (the broker knows: refused before the upgrade). With and without since=.
    const outcomes: string[] = []
    for (const [i, roomId] of rooms.entries()) {
      if (i === 2) await Bun.sleep(4000)
      const extra: Record<string, string> = i % 2 === 0 ? {} : { since: '0' }
      const socket = await TestSocket.connect(endpoint(instances[0]!.base), roomId, user(`u${i}`), extra).catch(() => null)
      if (socket) {
        outcomes.push(`closed ${(await Promise.race([socket.closed, Bun.sleep(10_000).then(() => ({ code: 0 }))])).code}`)
        continue
      }
      const query = new URLSearchParams({ ...user(`u${i}`), ...extra } as Record<string, string>)
      const res = await handshake(endpoint(instances[0]!.base), `/ws/chat/${roomId}/chat/?${query}`)
      outcomes.push(`refused ${res.status} ${((await res.json()) as { code: string }).code}`)
    }
    await Bun.sleep(500)
    expect(alive(instances[0]!)).toBe(true)
    // What reads who is online (a room's detail, the rooms list) answers 503, never 500.
    for (const path of [`/chat/v1/room/${rooms[0]}/`, '/chat/v1/rooms/']) {
      const res = await fetch(`${instances[0]!.base}${path}`, { headers: identityHeaders(user('u0')) })
      expect({ path, status: res.status, code: ((await res.json()) as { code: string }).code }).toEqual({ path, status: 503, code: 'presence_unavailable' })
    }
    for (const outcome of outcomes) expect(['closed 1013', 'refused 503 broker_unavailable']).toContain(outcome)
    expect(outcomes.slice(2)).toEqual(['refused 503 broker_unavailable', 'refused 503 broker_unavailable'])
    expect(await sample(instances[0]!, 'chat_room_watch_failures_total')).toBe(outcomes.filter((o) => o === 'closed 1013').length)

    await redis.start()
    const ready = async () => (await Promise.all(instances.map(async (i) => (await fetch(`${i.base}/readyz`)).status))).every((s) => s === 200)
    for (let i = 0; i < 100 && !(await ready()); i++) await Bun.sleep(100)
    expect(await ready()).toBe(true)
    const a = await TestSocket.connect(endpoint(instances[0]!.base), rooms[0]!, user('after-a'))
    const b = await TestSocket.connect(endpoint(instances[1]!.base), rooms[0]!, user('after-b'), { since: '0' })
    await b.next('chat.recovered')
    a.sendMessage('redis is back')
    expect(await b.next('chat.message')).toMatchObject({ message: 'redis is back' })
    await Promise.all([a.close(), b.close()])
    expect(alive(instances[0]!)).toBe(true)
  }, 60_000)
})
