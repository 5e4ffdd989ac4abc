import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { JOIN, LEAVE } from '../src/realtime/presence-scripts.ts'
import { createDatabase, startInstance, startRedis, type TestRedis } from './support/cluster.ts'
import type { ServerProcess } from './support/process.ts'
import { ScriptedRedisProxy, type CommandFate } from './support/scripted-redis.ts'
import { endpoint, UNLIMITED, type TestUser } from './support/server.ts'
import { TestSocket, type Frame } from './support/socket.ts'
import { until } from './support/wait.ts'

// Joins and leaves whose presence script fails while Redis is away, on two instances as their own
// processes. Instance A reaches Redis through a scripted proxy that fails the script calls of one
// user at a time; B reaches it directly. The watchers of a room (one socket on each instance) must
// hear each join and leave once Redis takes it, exactly once, and never a leave of a user who came
// back. Two deployments: a long presence TTL, so that only a retry (not the sweep of an expired
// user) can announce a leave within seconds, and a short one, whose sweeps the tests wait for.

interface Deployment {
  redis: TestRedis
  proxy: ScriptedRedisProxy
  /** A (through the proxy), then B. */
  instances: [ServerProcess, ServerProcess]
  stop(): Promise<void>
}

async function deploy(name: string, ttlSeconds: number): Promise<Deployment> {
  const db = await createDatabase()
  const redis = await startRedis()
  const proxy = await ScriptedRedisProxy.start(Number(new URL(redis.url).port))
  const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: `${name}${Date.now()}:`, PRESENCE_TTL: String(ttlSeconds), PRESENCE_GRACE_MS: '200', ...UNLIMITED }
  const a = await startInstance({ ...env, REDIS_URL: proxy.url })
  const b = await startInstance(env)
  return {
    redis,
    proxy,
    instances: [a, b],
    async stop() {
      for (const instance of [a, b]) instance.proc.kill('SIGKILL')
      await Promise.all([a.exited, b.exited])
      proxy.close()
      await redis.stop()
      await db.drop()
    },
  }
}

let slow: Deployment
let quick: Deployment
beforeAll(async () => {
  ;[slow, quick] = await Promise.all([deploy('outage-slow', 30), deploy('outage-quick', 1)])
}, 60_000)
afterAll(async () => {
  await Promise.all([slow?.stop(), quick?.stop()])
})

const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })

/** A presence script call as the proxy sees it (EVAL, script, the number of keys, the keys, then the script's arguments). */
function presenceCall(command: string[]): { kind: 'join' | 'leave'; user: string } | null {
  if (command[0]?.toUpperCase() !== 'EVAL') return null
  const args = command.slice(3 + Number(command[2]))
  if (command[1] === JOIN) return { kind: 'join', user: args[3]! }
  if (command[1] === LEAVE) return { kind: 'leave', user: args[2]! }
  return null
}

/**
 * Gives `fate` to `kind` script calls for `userId` through the deployment's proxy, at most `times`
 * of them (all while unlimited); `heal` lets them pass again. `seen` counts every such call.
 */
function failPresence(d: Deployment, kind: 'join' | 'leave', userId: string, fate: CommandFate, times = Infinity) {
  const calls = { failed: 0, seen: 0, healed: false }
  d.proxy.decide = (command) => {
    const call = presenceCall(command)
    if (call?.kind !== kind || call.user !== userId) return 'pass'
    calls.seen++
    if (calls.healed || calls.failed >= times) return 'pass'
    calls.failed++
    return fate
  }
  return {
    calls,
    heal() {
      calls.healed = true
    },
  }
}

async function createRoom(instance: ServerProcess, name: string): Promise<number> {
  const res = await fetch(`${instance.base}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) })
  return ((await res.json()) as { id: number }).id
}

/** A socket whose instance hears the room's events (chat.recovered comes once they flow to it). */
async function connectLive(instance: ServerProcess, roomId: number, who: TestUser): Promise<TestSocket> {
  const socket = await TestSocket.connect(endpoint(instance.base), roomId, who, { since: '0' })
  await socket.next('chat.recovered')
  return socket
}

/** A watcher on each instance, each having heard the other join: the room's events flow both ways. */
async function watchers(d: Deployment, roomId: number, tag: string): Promise<TestSocket[]> {
  const [a, b] = d.instances
  const onA = await connectLive(a, roomId, user(`${tag}-wa`))
  const onB = await connectLive(b, roomId, user(`${tag}-wb`))
  await onA.next(isPresence('chat.user.join', `${tag}-wb`))
  return [onA, onB]
}

const isPresence = (type: 'chat.user.join' | 'chat.user.leave', userId: string) => (f: Frame) => f.type === type && f.user_id === userId
/** The joins and leaves of `userId` a socket heard, in order. */
const heardOf = (socket: TestSocket, userId: string) => socket.frames.filter((f) => f.type.startsWith('chat.user.') && f.user_id === userId).map((f) => f.type.slice('chat.user.'.length))
const online = async (instance: ServerProcess, roomId: number) => ((await (await fetch(`${instance.base}/chat/v1/room/${roomId}/`)).json()) as { online_users: { user_id: string }[] }).online_users.map((u) => u.user_id).sort()

describe('a join whose script failed', () => {
  it('should be announced once Redis takes it, to the others and not to the joining socket', async () => {
    const roomId = await createRoom(slow.instances[0], 'join refused')
    const watching = await watchers(slow, roomId, 'jr')
    const failing = failPresence(slow, 'join', 'joiner', 'refuse')
    const joiner = await connectLive(slow.instances[0], roomId, user('joiner'))
    await until(() => failing.calls.failed >= 1, { timeoutMs: 5000, what: 'the script refused' })
    await Bun.sleep(1500)
    expect(heardOf(watching[0]!, 'joiner')).toEqual([])
    failing.heal()
    // Well within the 10 s between the refreshes of a 30 s TTL: the retry announces it.
    for (const w of watching) await w.next(isPresence('chat.user.join', 'joiner'), 4000)
    await Bun.sleep(1000)
    for (const w of watching) expect(heardOf(w, 'joiner')).toEqual(['join'])
    expect(heardOf(joiner, 'joiner')).toEqual([])
    expect(await online(slow.instances[1], roomId)).toEqual(['joiner', 'jr-wa', 'jr-wb'])
    await Promise.all([joiner.close(), ...watching.map((w) => w.close())])
  }, 20_000)

  it('should be announced exactly once when the connection dropped with the script in flight', async () => {
    const roomId = await createRoom(slow.instances[0], 'join dropped')
    const watching = await watchers(slow, roomId, 'jd')
    const failing = failPresence(slow, 'join', 'dropper', 'drop', 1)
    const joiner = await connectLive(slow.instances[0], roomId, user('dropper'))
    for (const w of watching) await w.next(isPresence('chat.user.join', 'dropper'), 4000)
    // The retry (and the refresh after reconnecting) find the user present: nothing more to say.
    await until(() => failing.calls.seen >= 2, { timeoutMs: 5000, what: 'the script tried again' })
    await Bun.sleep(1000)
    for (const w of watching) expect(heardOf(w, 'dropper')).toEqual(['join'])
    expect(heardOf(joiner, 'dropper')).toEqual([])
    await Promise.all([joiner.close(), ...watching.map((w) => w.close())])
  }, 20_000)

  it('should not be announced once the user left before Redis took it', async () => {
    const roomId = await createRoom(slow.instances[0], 'join then gone')
    const watching = await watchers(slow, roomId, 'jg')
    const failing = failPresence(slow, 'join', 'passer', 'refuse')
    const passer = await connectLive(slow.instances[0], roomId, user('passer'))
    await until(() => failing.calls.failed >= 1, { timeoutMs: 5000, what: 'the script refused' })
    await Bun.sleep(500)
    await passer.close()
    await Bun.sleep(1500)
    failing.heal()
    await Bun.sleep(2000)
    for (const w of watching) expect(heardOf(w, 'passer')).toEqual([])
    expect(await online(slow.instances[1], roomId)).toEqual(['jg-wa', 'jg-wb'])
    await Promise.all(watching.map((w) => w.close()))
  }, 20_000)
})

describe('a leave whose script failed', () => {
  it('should be announced once Redis takes it, within seconds (not a TTL later)', async () => {
    const roomId = await createRoom(slow.instances[0], 'leave refused')
    const watching = await watchers(slow, roomId, 'lr')
    const leaver = await connectLive(slow.instances[0], roomId, user('leaver'))
    for (const w of watching) await w.next(isPresence('chat.user.join', 'leaver'))
    const failing = failPresence(slow, 'leave', 'leaver', 'refuse')
    await leaver.close()
    await until(() => failing.calls.failed >= 1, { timeoutMs: 5000, what: 'the script refused' })
    await Bun.sleep(1500)
    expect(heardOf(watching[1]!, 'leaver')).toEqual(['join'])
    failing.heal()
    for (const w of watching) await w.next(isPresence('chat.user.leave', 'leaver'), 4000)
    await Bun.sleep(1000)
    for (const w of watching) expect(heardOf(w, 'leaver')).toEqual(['join', 'leave'])
    expect(await online(slow.instances[1], roomId)).toEqual(['lr-wa', 'lr-wb'])
    await Promise.all(watching.map((w) => w.close()))
  }, 20_000)

  it('should be announced exactly once when the connection dropped with the script in flight', async () => {
    const roomId = await createRoom(quick.instances[0], 'leave dropped')
    const watching = await watchers(quick, roomId, 'ld')
    const leaver = await connectLive(quick.instances[0], roomId, user('leaver'))
    for (const w of watching) await w.next(isPresence('chat.user.join', 'leaver'))
    const failing = failPresence(quick, 'leave', 'leaver', 'drop', 1)
    const swept = () => quick.instances.some((i) => i.lines.some((l) => l.includes('users no instance vouches for announced gone') && l.includes(`"room":${roomId}`)))
    await leaver.close()
    for (const w of watching) await w.next(isPresence('chat.user.leave', 'leaver'), 4000)
    // The retry finds the user gone and keeps the leave for the sweep, which announces it again:
    // instances drop a leave after a leave.
    await until(() => failing.calls.seen >= 2 && swept(), { timeoutMs: 15_000, what: 'the retry and the sweep' })
    await Bun.sleep(1000)
    for (const w of watching) expect(heardOf(w, 'leaver')).toEqual(['join', 'leave'])
    await Promise.all(watching.map((w) => w.close()))
  }, 30_000)
})

describe('a leave tried again while the user came back', () => {
  it('should announce neither a leave nor a second join when they came back to the same instance', async () => {
    const roomId = await createRoom(slow.instances[0], 'back here')
    const watching = await watchers(slow, roomId, 'bh')
    const first = await connectLive(slow.instances[0], roomId, user('returner'))
    for (const w of watching) await w.next(isPresence('chat.user.join', 'returner'))
    const failing = failPresence(slow, 'leave', 'returner', 'refuse')
    await first.close()
    await until(() => failing.calls.failed >= 1, { timeoutMs: 5000, what: 'the script refused' })
    await Bun.sleep(1000)
    const again = await connectLive(slow.instances[0], roomId, user('returner'))
    failing.heal()
    const tries = failing.calls.seen
    await Bun.sleep(3000)
    // The pending retry was dropped when the user came back: no leave reached Redis since.
    expect(failing.calls.seen).toBe(tries)
    for (const w of watching) expect(heardOf(w, 'returner')).toEqual(['join'])
    expect(await online(slow.instances[1], roomId)).toContain('returner')
    await again.close()
    for (const w of watching) await w.next(isPresence('chat.user.leave', 'returner'), 4000)
    await Promise.all(watching.map((w) => w.close()))
  }, 20_000)

  it('should announce neither a leave nor a second join when they came back on another instance', async () => {
    const roomId = await createRoom(slow.instances[0], 'back there')
    const watching = await watchers(slow, roomId, 'bt')
    const first = await connectLive(slow.instances[0], roomId, user('mover'))
    for (const w of watching) await w.next(isPresence('chat.user.join', 'mover'))
    const failing = failPresence(slow, 'leave', 'mover', 'refuse')
    await first.close()
    await until(() => failing.calls.failed >= 1, { timeoutMs: 5000, what: 'the script refused' })
    await Bun.sleep(500)
    const there = await connectLive(slow.instances[1], roomId, user('mover'))
    await Bun.sleep(500)
    // A's leave goes through now: B vouches for the user, so the room hears nothing.
    failing.heal()
    await Bun.sleep(2500)
    for (const w of watching) expect(heardOf(w, 'mover')).toEqual(['join'])
    await there.close()
    for (const w of watching) await w.next(isPresence('chat.user.leave', 'mover'), 4000)
    await Bun.sleep(500)
    for (const w of watching) expect(heardOf(w, 'mover')).toEqual(['join', 'leave'])
    await Promise.all(watching.map((w) => w.close()))
  }, 20_000)
})

describe('an instance cut off from Redis for longer than the TTL', () => {
  it('should leave every socket on both instances believing its users present once it is back, with no join heard twice', async () => {
    const [a, b] = quick.instances
    const roomId = await createRoom(a, 'cut off')
    const [onA, onB] = await watchers(quick, roomId, 'co')
    const stayer = await connectLive(a, roomId, user('stayer'))
    for (const w of [onA!, onB!]) await w.next(isPresence('chat.user.join', 'stayer'))
    const restored = () => a.lines.filter((l) => l.includes('redis subscription restored')).length
    const restoredBefore = restored()
    // A's link to Redis stalls one way: what A sends never arrives, what Redis publishes still
    // does. A cannot renew its users, so B's sweep announces them gone, and A's sockets hear it.
    quick.proxy.decide = () => 'hold'
    const lastHeard = (socket: TestSocket, userId: string) => heardOf(socket, userId).at(-1)
    await until(() => lastHeard(onB!, 'stayer') === 'leave' && lastHeard(onB!, 'co-wa') === 'leave' && lastHeard(onA!, 'stayer') === 'leave', { timeoutMs: 10_000, what: "A's users announced gone" })
    // The link is reset. A reconnects and writes its users back, which announces them joined again,
    // while A's subscription to the room waits: A's sockets miss what the room hears meanwhile.
    const roomChannelSuffix = `:room:${roomId}`
    quick.proxy.decide = (command) => (command[0]?.toUpperCase() === 'SUBSCRIBE' && command.slice(1).some((c) => c.endsWith(roomChannelSuffix)) ? 'hold' : 'pass')
    quick.proxy.cut()
    await until(() => lastHeard(onB!, 'stayer') === 'join' && lastHeard(onB!, 'co-wa') === 'join', { timeoutMs: 15_000, what: "A's users announced back" })
    quick.proxy.decide = () => 'pass'
    quick.proxy.release()
    await until(() => restored() > restoredBefore, { timeoutMs: 15_000, what: "A's subscription restored" })
    await Bun.sleep(1500)
    // What each socket heard of each user: last that they are present, no join twice in a row, and
    // nothing of its own user.
    const sockets = { 'co-wa': onA!, 'co-wb': onB!, stayer }
    const heard = Object.fromEntries(Object.entries(sockets).map(([self, socket]) => [self, Object.fromEntries(Object.keys(sockets).map((other) => [other, heardOf(socket, other)]))]))
    expect(heard).toEqual({
      'co-wa': { 'co-wa': [], 'co-wb': ['join'], stayer: ['join', 'leave', 'join'] },
      'co-wb': { 'co-wa': ['leave', 'join'], 'co-wb': [], stayer: ['join', 'leave', 'join'] },
      stayer: { 'co-wa': ['leave', 'join'], 'co-wb': [], stayer: [] },
    })
    for (const instance of [a!, b!]) expect(await online(instance, roomId)).toEqual(['co-wa', 'co-wb', 'stayer'])
    await Promise.all([stayer.close(), onA!.close(), onB!.close()])
  }, 60_000)
})

describe('Redis stopped and started again without its data', () => {
  it('should announce, exactly once, a leave that failed while Redis was away', async () => {
    const roomId = await createRoom(quick.instances[0], 'restart')
    const watching = await watchers(quick, roomId, 'rs')
    const leaver = await connectLive(quick.instances[0], roomId, user('leaver'))
    for (const w of watching) await w.next(isPresence('chat.user.join', 'leaver'))
    await quick.redis.stop()
    await leaver.close()
    await Bun.sleep(1500)
    await quick.redis.start()
    // Once every instance had the time to renew its users after the restart, the sweep announces it.
    for (const w of watching) await w.next(isPresence('chat.user.leave', 'leaver'), 15_000)
    await Bun.sleep(1500)
    for (const w of watching) expect(heardOf(w, 'leaver')).toEqual(['join', 'leave'])
    // The watchers, renewed after the restart, were never announced gone, nor twice to the same socket
    // (B's socket, which came after A's, may hear A's join once, as renewed).
    expect(heardOf(watching[0]!, 'rs-wb')).toEqual(['join'])
    expect(['', 'join']).toContain(heardOf(watching[1]!, 'rs-wa').join())
    for (const instance of quick.instances) expect(await online(instance, roomId)).toEqual(['rs-wa', 'rs-wb'])
    await Promise.all(watching.map((w) => w.close()))
  }, 40_000)
})
