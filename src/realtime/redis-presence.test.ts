import { afterAll, afterEach, beforeAll, describe, expect, it } from 'bun:test'
import { startRedis, type TestRedis } from '../../test/support/cluster.ts'
import { until } from '../../test/support/wait.ts'
import { ManualClock } from '../clock.ts'
import { createLogger } from '../logger.ts'
import { redisConnector, type RedisConnection } from './redis-connection.ts'
import { RedisPresence } from './redis-presence.ts'
import { encodePresenceFrame } from './codec.ts'
import { roomChannel } from './redis-wire.ts'
import { relayRedis, startRedisCluster, type RedisRelay } from '../../test/support/redis-test-servers.ts'

// The Lua scripts are the logic here, so these tests run them on a real redis-server of their own.
// The scripts keep no time of their own (no key's TTL runs out here): who is renewed until when, and
// when a sweep may run, are the instances' clock, which the tests advance. Reconnects stay real time.
const TTL = 0.6
/** Instances renew (and sweep) this often: TTL/3, at least 200 ms. */
const TICK_MS = 200
/** Sweeping waits this long after a (re)connect (see redis-presence.ts). */
const HOLD_OFF_MS = 5000
const ROOM = 42
const alice = { userId: 'alice', nickname: 'Alice', profileUrl: '/alice.png' }
const logger = createLogger('silent')

interface Instance {
  presence: RedisPresence
  connection: RedisConnection
  /** Dies as kill -9 would: no more refreshes, no leaves. */
  kill(): void
}

/** A join or leave as the scripts publish it on a room's channel. */
interface Heard {
  roomId: number
  userId: string
  nickname: string
  version: number
  joined: boolean
  except?: string
  /** The frame sockets get, parsed. */
  frame: unknown
}

let prefixes = 0
let running: Instance[] = []
let listeners: RedisConnection[] = []
afterEach(async () => {
  await Promise.all(running.map((i) => i.presence.close().catch(() => {})))
  for (const listener of listeners) listener.close()
  running = []
  listeners = []
})

/** Instances of one deployment (one key prefix) on the same Redis, and what its rooms heard. */
function deployment(rooms: number[] = [ROOM]) {
  const prefix = `p${++prefixes}:`
  /** The instances' shared clock. */
  const clock = new ManualClock()
  const mine: Instance[] = []
  const heard: Heard[] = []
  let listening: Promise<void> | null = null
  /** Subscribes (once, on the first instance's kind of connection) to the rooms' channels. */
  const listen = (connection: RedisConnection) =>
    (listening ??= (async () => {
      listeners.push(connection)
      await connection.connect()
      for (const roomId of rooms) {
        await connection.subscribe(roomChannel(prefix, roomId), (raw) => {
          const envelope = JSON.parse(raw) as { t: string; f: string; u: string; v: number; j: boolean; x?: string }
          if (envelope.t !== 'p') return
          const frame = JSON.parse(envelope.f) as { username: string }
          heard.push({ roomId, userId: envelope.u, nickname: frame.username, version: envelope.v, joined: envelope.j, frame, ...(envelope.x === undefined ? {} : { except: envelope.x }) })
        })
      }
    })())
  return {
    prefix,
    heard,
    /**
     * Moves the instances' clock on by `ms`, one renewal at a time, letting each renewal (and the
     * sweep after it) finish on the real Redis before the next: a few round trips on each connected
     * instance's connection come back only after what it sent before.
     */
    async elapse(ms: number) {
      for (let left = ms; left > 0; left -= TICK_MS) {
        await clock.advance(Math.min(TICK_MS, left))
        for (let trip = 0; trip < 6; trip++) await Promise.all(mine.filter((i) => i.connection.connected).map((i) => i.connection.send('PING', []).catch(() => {})))
      }
    },
    /** Listens afresh (a connection that reconnects to a restarted Redis has lost its subscriptions). */
    async listenAgain() {
      listening = null
      await listen(connect())
    },
    /** The leaves heard so far. */
    gone: () => heard.filter((h) => !h.joined).map(({ joined: _, frame: __, ...rest }) => rest),
    async instance(connection: RedisConnection, listener?: RedisConnection): Promise<Instance> {
      const presence = new RedisPresence(connection, prefix, TTL, logger, clock)
      await connection.connect()
      await listen(listener ?? connect())
      const instance = { presence, connection, kill: () => connection.close() }
      running.push(instance)
      mine.push(instance)
      return instance
    },
  }
}

const waitFor = (condition: () => boolean | Promise<boolean>, timeoutMs = 5000) => until(condition, { timeoutMs, intervalMs: 20 })

let redis: TestRedis
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stop()
})
const connect = () => redisConnector(redis.url)()

describe('join and leave across instances', () => {
  it('should announce a user once however many instances vouch, and leave with the last', async () => {
    const d = deployment()
    const [a, b] = [await d.instance(connect()), await d.instance(connect())]
    expect((await a.presence.join(ROOM, alice)).changed).toBe(true)
    expect((await b.presence.join(ROOM, alice)).changed).toBe(false)
    expect(await b.presence.online(ROOM)).toEqual([{ user_id: 'alice', nickname: 'Alice', profile_picture_url: '/alice.png' }])
    expect(await b.presence.counts([ROOM, ROOM + 1])).toEqual([1, 0])
    expect((await a.presence.leave(ROOM, 'alice')).changed).toBe(false)
    expect((await b.presence.leave(ROOM, 'alice')).changed).toBe(true)
    expect(await a.presence.online(ROOM)).toEqual([])
  })

  it('should publish each join and leave it decides on the room channel, in the same step', async () => {
    const d = deployment()
    const [a, b] = [await d.instance(connect()), await d.instance(connect())]
    const joined = await a.presence.join(ROOM, alice, 'tab-1')
    await b.presence.join(ROOM, alice, 'tab-2')
    await a.presence.leave(ROOM, 'alice')
    const left = await b.presence.leave(ROOM, 'alice')
    await waitFor(() => d.heard.length === 2)
    expect(d.heard).toEqual([
      { roomId: ROOM, userId: 'alice', nickname: 'Alice', version: joined.version, joined: true, except: 'tab-1', frame: JSON.parse(encodePresenceFrame('chat.user.join', 'alice', 'Alice')) },
      { roomId: ROOM, userId: 'alice', nickname: 'Alice', version: left.version, joined: false, frame: JSON.parse(encodePresenceFrame('chat.user.leave', 'alice', 'Alice')) },
    ])
  })

  it('should announce again, as a join, a user its instance still vouches for after a sweep took them', async () => {
    const d = deployment()
    const a = await d.instance(connect())
    await a.presence.join(ROOM, alice)
    // What a sweep by another instance does while a cannot reach Redis: alice is forgotten.
    const keys = connect()
    listeners.push(keys)
    await keys.connect()
    for (const key of ['present', 'vouch', 'info']) await keys.send('DEL', [`${d.prefix}{r${ROOM}}:${key}`])
    // a's next refresh finds alice gone, puts her back and says so.
    await d.elapse(TICK_MS)
    await waitFor(() => d.heard.filter((h) => h.joined).length === 2, 3000)
    expect(d.heard.map((h) => h.joined)).toEqual([true, true])
    expect(d.heard[1]!.version).toBeGreaterThan(d.heard[0]!.version)
    expect((await a.presence.online(ROOM)).map((u) => u.nickname)).toEqual(['Alice'])
  })

  it('should give each join and leave a version that orders it after the decisions before it', async () => {
    const d = deployment()
    const [a, b] = [await d.instance(connect()), await d.instance(connect())]
    const joined = await a.presence.join(ROOM, alice)
    const left = await a.presence.leave(ROOM, 'alice')
    const back = await b.presence.join(ROOM, alice)
    expect([joined.changed, left.changed, back.changed]).toEqual([true, true, true])
    expect(joined.version).toBeGreaterThan(0)
    expect(left.version).toBeGreaterThan(joined.version)
    expect(back.version).toBeGreaterThan(left.version)
  })

  it('should keep versions rising after Redis restarts without its data', async () => {
    const d = deployment()
    const a = await d.instance(connect())
    const before = await a.presence.join(ROOM, alice)
    await redis.stop()
    await redis.start()
    await waitFor(() => a.connection.connected)
    const after = await a.presence.join(ROOM, { ...alice, userId: 'bob' })
    expect(after.changed).toBe(true)
    expect(after.version).toBeGreaterThan(before.version)
  })
})

describe('a Redis restart without persistence', () => {
  it('should restore nicknames, pictures and the room index with the next refresh', async () => {
    const d = deployment()
    const [a, b] = [await d.instance(connect()), await d.instance(connect())]
    await a.presence.join(ROOM, alice)
    await redis.stop()
    await redis.start()
    const online = () => b.presence.online(ROOM).catch(() => [])
    await waitFor(async () => (await online()).length === 1)
    expect(await online()).toEqual([{ user_id: 'alice', nickname: 'Alice', profile_picture_url: '/alice.png' }])
    const index = connect()
    await index.connect()
    expect(await index.send('SMEMBERS', [`${d.prefix}presence:rooms`])).toEqual([String(ROOM)])
    index.close()
  })

  it("should still announce a dead instance's users", async () => {
    const d = deployment()
    const [a, b] = [await d.instance(connect()), await d.instance(connect())]
    await a.presence.join(ROOM, alice)
    await redis.stop()
    await redis.start()
    await waitFor(async () => (await b.presence.online(ROOM).catch(() => [])).length === 1)
    await d.listenAgain()
    a.kill()
    await d.elapse(HOLD_OFF_MS - TICK_MS)
    expect(d.gone()).toEqual([]) // b reconnected less than the hold-off ago: it sweeps nobody yet
    await d.elapse(2 * TICK_MS)
    await waitFor(() => d.gone().length > 0)
    expect(d.gone()).toEqual([{ roomId: ROOM, userId: 'alice', nickname: 'Alice', version: expect.any(Number) }])
  })
})

describe('a join or leave that failed, tried again', () => {
  it('should announce a leave that failed while Redis was away, once Redis is back empty', async () => {
    const d = deployment()
    const [a, b] = [await d.instance(connect()), await d.instance(connect())]
    await a.presence.join(ROOM, alice)
    await redis.stop()
    await waitFor(() => !a.connection.connected)
    await expect(a.presence.leave(ROOM, 'alice')).rejects.toThrow()
    await redis.start()
    await waitFor(() => a.connection.connected && b.connection.connected)
    await d.listenAgain()
    // Redis forgot alice: the leave is kept for the sweep, which announces it once every instance had the time to renew.
    expect(await a.presence.leave(ROOM, 'alice')).toEqual({ changed: false, version: 0 })
    expect(await b.presence.online(ROOM)).toEqual([])
    await d.elapse(HOLD_OFF_MS + TICK_MS)
    await waitFor(() => d.gone().length > 0)
    expect(d.gone()).toEqual([{ roomId: ROOM, userId: 'alice', nickname: 'Alice', version: expect.any(Number) }])
  })

  it('should not announce a kept leave of a user another instance vouches for again', async () => {
    const d = deployment()
    const relay = relayRedis(Number(new URL(redis.url).port))
    try {
      const a = await d.instance(connect())
      const b = await d.instance(redisConnector(relay.url)())
      await a.presence.join(ROOM, alice)
      await b.presence.join(ROOM, alice)
      // b cannot reach Redis across its restart; a's leave fails, and is tried again before b is back.
      relay.cut()
      await redis.stop()
      await expect(a.presence.leave(ROOM, 'alice')).rejects.toThrow()
      await redis.start()
      await waitFor(() => a.connection.connected)
      await d.listenAgain()
      await a.presence.leave(ROOM, 'alice')
      relay.restore()
      await waitFor(() => b.connection.connected, 5000)
      await d.elapse(HOLD_OFF_MS + 1500)
      expect(d.gone()).toEqual([])
      expect((await a.presence.online(ROOM)).map((u) => u.user_id)).toEqual(['alice'])
    } finally {
      relay.close()
    }
  })

  it('should leave a join that failed to the retry, which spares the joining socket, not to the refresh', async () => {
    const d = deployment()
    const relay = relayRedis(Number(new URL(redis.url).port))
    try {
      const a = await d.instance(redisConnector(relay.url)())
      relay.cut()
      await waitFor(() => !a.connection.connected)
      await expect(a.presence.join(ROOM, alice, 'tab-1')).rejects.toThrow()
      relay.restore()
      await waitFor(() => a.connection.connected, 5000)
      // The refreshes on reconnecting and after it leave alice alone…
      await d.elapse(TTL * 1000)
      expect(d.heard).toEqual([])
      // …until her join goes through.
      expect((await a.presence.join(ROOM, alice, 'tab-1')).changed).toBe(true)
      await waitFor(() => d.heard.length > 0)
      expect(d.heard.map((h) => [h.userId, h.joined, h.except])).toEqual([['alice', true, 'tab-1']])
    } finally {
      relay.close()
    }
  })

  it('should announce as a join a user who comes back before a kept leave was swept (instances drop a join after a join)', async () => {
    const d = deployment()
    const [a, b] = [await d.instance(connect()), await d.instance(connect())]
    await a.presence.join(ROOM, alice)
    await redis.stop()
    await waitFor(() => !a.connection.connected)
    await expect(a.presence.leave(ROOM, 'alice')).rejects.toThrow()
    await redis.start()
    await waitFor(() => a.connection.connected && b.connection.connected)
    await d.listenAgain()
    await a.presence.leave(ROOM, 'alice')
    const back = await b.presence.join(ROOM, alice, 'tab-2')
    expect(back.changed).toBe(true)
    await d.elapse(HOLD_OFF_MS + 1500)
    // Her first join, then this one; no leave.
    expect(d.heard.map((h) => [h.userId, h.joined, h.except])).toEqual([
      ['alice', true, undefined],
      ['alice', true, 'tab-2'],
    ])
    expect((await a.presence.online(ROOM)).map((u) => u.user_id)).toEqual(['alice'])
  })
})

describe('an outage longer than the presence TTL', () => {
  // One relay per instance, so that they can come back at different times.
  let relays: RedisRelay[]
  beforeAll(() => {
    relays = [0, 1].map(() => relayRedis(Number(new URL(redis.url).port)))
  })
  afterAll(() => {
    for (const relay of relays) relay.close()
  })

  it('should announce nobody gone when Redis is reachable again, and sweep again later', async () => {
    const d = deployment()
    const [a, b] = await Promise.all(relays.map((relay) => d.instance(redisConnector(relay.url)())))
    await a!.presence.join(ROOM, alice)
    for (const relay of relays) relay.cut()
    await waitFor(() => !a!.connection.connected && !b!.connection.connected)
    await d.elapse(TTL * 3000)
    // b is back first; a, whose user expired during the outage, a little later (Bun's reconnect
    // backoff spreads instances by up to 2 s). b must not sweep alice before a had its chance.
    relays[1]!.restore()
    await waitFor(() => b!.connection.connected, 5000)
    await d.elapse(1500)
    relays[0]!.restore()
    await waitFor(() => a!.connection.connected, 5000)
    await d.elapse(HOLD_OFF_MS)
    expect(d.gone()).toEqual([])
    expect((await b!.presence.online(ROOM)).map((u) => u.user_id)).toEqual(['alice'])
    a!.kill()
    await d.elapse(TTL * 1000 + TICK_MS)
    await waitFor(() => d.gone().length > 0, 3000)
    expect(d.gone().map((g) => g.userId)).toEqual(['alice'])
  })
})

describe('on Redis Cluster', () => {
  it('should keep every script to one hash slot and work across three primaries', async () => {
    const cluster = await startRedisCluster(3)
    try {
      const rooms = [1, 2, 3, 4, 5, 6]
      const d = deployment(rooms)
      const [a, b] = [await d.instance(cluster.connection(), cluster.connection()), await d.instance(cluster.connection())]
      for (const room of rooms) expect((await a.presence.join(room, alice)).changed).toBe(true)
      expect((await b.presence.join(3, { ...alice, userId: 'bob', nickname: 'Bob' })).changed).toBe(true)
      expect(await b.presence.counts(rooms)).toEqual([1, 1, 2, 1, 1, 1])
      expect((await b.presence.online(3)).map((u) => u.nickname).sort()).toEqual(['Alice', 'Bob'])
      expect((await a.presence.leave(1, 'alice')).changed).toBe(true)
      a.kill()
      await d.elapse(HOLD_OFF_MS + TICK_MS)
      await waitFor(() => d.gone().length === 6)
      expect(
        d
          .gone()
          .map((g) => g.roomId)
          .sort(),
      ).toEqual([1, 2, 3, 4, 5, 6])
      expect(await b.presence.counts(rooms)).toEqual([0, 0, 1, 0, 0, 0])
    } finally {
      await cluster.stop()
    }
  }, 20_000)
})
