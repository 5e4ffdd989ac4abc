import { afterEach, describe, expect, it } from 'bun:test'
import { createLogger } from '../logger.ts'
import type { MessageRow } from '../store/store.ts'
import type { DeliverySink } from './broker.ts'
import { RedisBroker, type SequencedStore } from './redis-broker.ts'
import { ScriptedRedis } from './scripted-redis.ts'

const ROOM = 7
const TIMING = { intervalMs: 20, deadlineMs: 120 }
const logger = createLogger('silent')

/** Messages by room and seq, as Postgres keeps them; counts and can fail its reads. */
class FakeStore implements SequencedStore {
  private readonly rooms = new Map<number, MessageRow[]>()
  private nextId = 1
  /** Every messagesBySeq call, as [from, to]. */
  readonly reads: [number, number][] = []
  failing = false
  /** lastSeq calls that fail before one succeeds. */
  lastSeqFailures = 0
  /** Runs inside lastSeq before it reads (to commit something between SUBSCRIBE and the read). */
  beforeLastSeq: (() => Promise<void>) | null = null

  commit(roomId: number, count = 1): MessageRow[] {
    const rows = this.rooms.get(roomId) ?? []
    this.rooms.set(roomId, rows)
    const created = Array.from({ length: count }, () => {
      const seq = rows.length + 1
      const row: MessageRow = { id: this.nextId++, roomId, userId: 'u', email: 'u@example.com', nickname: 'u', profileUrl: null, body: `m${seq}`, clientMsgId: null, createdAt: 0, seq }
      rows.push(row)
      return row
    })
    return created
  }

  async messagesBySeq(roomId: number, fromSeq: number, toSeq: number): Promise<MessageRow[]> {
    this.reads.push([fromSeq, toSeq])
    if (this.failing) throw new Error('store is down')
    return (this.rooms.get(roomId) ?? []).filter((r) => r.seq! >= fromSeq && r.seq! <= toSeq)
  }

  async lastSeq(roomId: number): Promise<number> {
    if (this.beforeLastSeq) await this.beforeLastSeq()
    if (this.lastSeqFailures > 0) {
      this.lastSeqFailures--
      throw new Error('store is down')
    }
    if (this.failing) throw new Error('store is down')
    return this.rooms.get(roomId)?.length ?? 0
  }
}

/** What a broker handed its hub. */
class Sink implements DeliverySink {
  readonly seqs: number[] = []
  readonly events: string[] = []
  deliverMessage(row: MessageRow): void {
    this.seqs.push(row.seq!)
  }
  deliverEvent(_roomId: number, frame: string): void {
    this.events.push(frame)
  }
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await Bun.sleep(5)
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const seqOf = (message: string) => (JSON.parse(message) as { m?: { seq: number } }).m?.seq
/** Routes a room's messages by `fate`; everything else (the brokers' probes) is delivered. */
const rooms =
  (fate: (message: string) => 'deliver' | 'hold' | 'drop') =>
  (channel: string, message: string) =>
    channel.startsWith('t:room:') ? fate(message) : 'deliver'

let open: RedisBroker[] = []
afterEach(async () => {
  await Promise.all(open.map((b) => b.close()))
  open = []
})

/** A Redis, a store, and two instances' brokers on them: `a` watches, `b` sends. */
async function setup() {
  const redis = new ScriptedRedis()
  const store = new FakeStore()
  const sink = new Sink()
  const a = (await RedisBroker.open(redis.connector, 't:', store, logger, TIMING)).deliverTo(sink)
  const b = (await RedisBroker.open(redis.connector, 't:', store, logger, TIMING)).deliverTo(new Sink())
  open.push(a, b)
  return { redis, store, sink, a, b }
}

describe('messages in seq order', () => {
  it('should deliver in seq order whatever order Redis brings them in', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    redis.route = rooms(() => 'hold')
    b.publishMessages(store.commit(ROOM, 5))
    redis.release((held) => [...held].reverse())
    await waitFor(() => sink.seqs.length === 5)
    await Bun.sleep(20)
    expect(sink.seqs).toEqual([1, 2, 3, 4, 5])
  })

  it('should read a lost message from the store', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    redis.route = rooms((message) => (seqOf(message) === 3 ? 'drop' : 'deliver'))
    b.publishMessages(store.commit(ROOM, 5))
    await waitFor(() => sink.seqs.length === 5)
    expect(sink.seqs).toEqual([1, 2, 3, 4, 5])
    expect(store.reads).toContainEqual([3, 3])
  })

  it('should deliver a duplicate, a late copy and its own echo once', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    const [first, second] = store.commit(ROOM, 2)
    a.publishMessages([first!])
    b.publishMessages([second!])
    b.publishMessages([second!, first!])
    await waitFor(() => redis.published.length === 4)
    await Bun.sleep(20)
    expect(sink.seqs).toEqual([1, 2])
  })

  it('should go live from where the room stood when the watch began', async () => {
    const { store, sink, a, b } = await setup()
    store.commit(ROOM, 3)
    await a.watch(ROOM)
    b.publishMessages(store.commit(ROOM, 1))
    await waitFor(() => sink.seqs.length === 1)
    expect(sink.seqs).toEqual([4])
  })
})

describe('a message that arrives while the watch reads where the room stands', () => {
  it('should neither stall the room nor spin on the store', async () => {
    const { store, sink, a, b } = await setup()
    store.commit(ROOM, 5)
    // Between SUBSCRIBE and the read of lastSeq, another instance commits seq 6 and publishes it:
    // it arrives early, and the read then says 6, so the stream starts at 7 with 6 already waiting.
    store.beforeLastSeq = async () => {
      store.beforeLastSeq = null
      b.publishMessages(store.commit(ROOM, 1))
      await Bun.sleep(20)
    }
    await a.watch(ROOM)
    await Bun.sleep(200)
    expect(store.reads.length).toBeLessThan(5)
    b.publishMessages(store.commit(ROOM, 2))
    await waitFor(() => sink.seqs.length === 2)
    expect(sink.seqs).toEqual([7, 8])
    await a.whenDelivered(ROOM, 8)
    expect(store.reads.length).toBeLessThan(5)
  })

  it('should retry a failing store at a bounded rate, and deliver once it answers', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    redis.route = rooms((message) => (seqOf(message) === 1 ? 'drop' : 'deliver'))
    store.failing = true
    b.publishMessages(store.commit(ROOM, 2))
    await Bun.sleep(1000)
    expect(store.reads.length).toBeGreaterThan(0)
    expect(store.reads.length).toBeLessThanOrEqual(8)
    expect(sink.seqs).toEqual([])
    store.failing = false
    await waitFor(() => sink.seqs.length === 2, 6000)
    expect(sink.seqs).toEqual([1, 2])
  }, 10_000)

  it('should let a replay go live once the stream passed what it read, even if that message never came', async () => {
    const { redis, store, a, b } = await setup()
    await a.watch(ROOM)
    redis.route = rooms(() => 'drop')
    b.publishMessages(store.commit(ROOM, 3))
    // A replay read up to seq 3 from the database: that much is committed, so the stream reads it.
    await Promise.race([a.whenDelivered(ROOM, 3), Bun.sleep(1000).then(() => Promise.reject(new Error('whenDelivered hung')))])
  })
})

describe('Redis going away', () => {
  it('should resubscribe after a restart and deliver, in order, what was committed meanwhile', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    b.publishMessages(store.commit(ROOM, 2))
    await waitFor(() => sink.seqs.length === 2)
    redis.stop()
    await Bun.sleep(50)
    expect(a.available).toBe(false)
    redis.start()
    // Back, but a's subscription is gone: what b publishes now is lost to a until it resubscribes.
    await waitFor(() => b.available)
    b.publishMessages(store.commit(ROOM, 3))
    await waitFor(() => a.available && sink.seqs.length === 5)
    b.publishMessages(store.commit(ROOM, 1))
    await waitFor(() => sink.seqs.length === 6)
    expect(sink.seqs).toEqual(range(1, 6))
    expect(redis.subscribers(`t:room:${ROOM}`)).toBe(1)
  })

  it('should catch up even when the store fails when the subscription comes back', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    let open!: () => void
    redis.connectGate = new Promise((resolve) => (open = resolve))
    redis.stop()
    redis.start()
    await Bun.sleep(200) // the subscribers are lost and their replacements cannot connect yet
    b.publishMessages(store.commit(ROOM, 3))
    store.failing = true
    redis.connectGate = null
    open()
    await waitFor(() => a.available)
    await Bun.sleep(100)
    store.failing = false
    await waitFor(() => sink.seqs.length === 3, 5000)
    expect(sink.seqs).toEqual([1, 2, 3])
  })

  it('should refuse a watch while Redis is away, and watch cleanly later', async () => {
    const { redis, sink, a, b } = await setup()
    redis.stop()
    await Bun.sleep(30)
    expect(a.watch(ROOM)).rejects.toThrow()
    await Bun.sleep(30)
    redis.start()
    await waitFor(() => a.available && b.available)
    await a.watch(ROOM)
    b.publishEvent(ROOM, 'typing')
    await waitFor(() => sink.events.length === 1)
    await Bun.sleep(30)
    expect(sink.events).toEqual(['typing'])
  })

  it('should leave nothing subscribed when a watch fails after subscribing', async () => {
    const { redis, store, sink, a, b } = await setup()
    store.lastSeqFailures = 1
    expect(a.watch(ROOM)).rejects.toThrow()
    await Bun.sleep(30)
    expect(redis.subscribers(`t:room:${ROOM}`)).toBe(0)
    await a.watch(ROOM)
    b.publishEvent(ROOM, 'typing')
    await waitFor(() => sink.events.length === 1)
    await Bun.sleep(30)
    expect(sink.events).toEqual(['typing'])
  })

  it('should subscribe a room watched while the subscriber is being rebuilt exactly once', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    let open!: () => void
    redis.connectGate = new Promise((resolve) => (open = resolve))
    redis.stop()
    redis.start()
    await Bun.sleep(200) // a has noticed and is opening a fresh subscriber, which hangs
    const watching = a.watch(ROOM + 1)
    await Bun.sleep(20)
    redis.connectGate = null
    open()
    await watching.catch(() => a.watch(ROOM + 1))
    await waitFor(() => a.available)
    b.publishEvent(ROOM + 1, 'typing')
    b.publishMessages(store.commit(ROOM + 1, 1))
    await waitFor(() => sink.events.length >= 1 && sink.seqs.length >= 1)
    await Bun.sleep(50)
    expect(sink.events).toEqual(['typing'])
    expect(redis.subscribers(`t:room:${ROOM + 1}`)).toBe(1)
  })

  it('should leave nothing subscribed for a room unwatched while the subscriber is being rebuilt', async () => {
    const { redis, sink, a, b } = await setup()
    await a.watch(ROOM)
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    redis.subscribeGate = (channel) => (channel === `t:room:${ROOM}` ? gate : null)
    redis.stop()
    redis.start()
    await Bun.sleep(200) // the fresh subscriber is subscribing the room, slowly
    a.unwatch(ROOM)
    redis.subscribeGate = () => null
    open()
    await waitFor(() => a.available)
    await Bun.sleep(30)
    expect(redis.subscribers(`t:room:${ROOM}`)).toBe(0)
    await a.watch(ROOM)
    b.publishEvent(ROOM, 'typing')
    await waitFor(() => sink.events.length === 1)
    await Bun.sleep(30)
    expect(sink.events).toEqual(['typing'])
  })

  it('should leave no promise rejection unhandled while Redis is away', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (err: unknown) => unhandled.push(err)
    process.on('unhandledRejection', onUnhandled)
    try {
      const { redis, store, a } = await setup()
      await a.watch(ROOM)
      redis.stop()
      a.publishMessages(store.commit(ROOM, 1))
      a.publishEvent(ROOM, 'typing')
      a.unwatch(ROOM)
      await a.watch(ROOM + 1).catch(() => {})
      await a.check().catch(() => {})
      await Bun.sleep(200)
      redis.start()
      await waitFor(() => a.available)
      await Bun.sleep(100)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    expect(unhandled).toEqual([])
  })
})

describe('presence events from several instances', () => {
  // As the presence scripts publish them, in the step that decided them (see presence-scripts.ts).
  const join = (v: number) => JSON.stringify({ t: 'p', f: `join${v}`, u: 'alice', v, j: true })
  const leave = (v: number) => JSON.stringify({ t: 'p', f: `leave${v}`, u: 'alice', v, j: false })
  const announce = (redis: ScriptedRedis, envelope: string) => redis.publish(`t:room:${ROOM}`, envelope)

  it('should drop a leave older than a join already delivered', async () => {
    const { redis, sink, a, b } = await setup()
    await a.watch(ROOM)
    redis.route = rooms(() => 'hold')
    // The leave (version 2) was decided before the join (3), but the join arrives first.
    for (const e of [leave(2), join(3)]) announce(redis, e)
    redis.release((held) => [...held].reverse())
    await Bun.sleep(50)
    expect(sink.events).toEqual(['join3'])
  })

  it('should deliver join, leave, join in the order Redis decided them, once each', async () => {
    const { redis, sink, a } = await setup()
    await a.watch(ROOM)
    for (const e of [join(1), leave(2), join(3), join(3)]) announce(redis, e)
    await waitFor(() => sink.events.length >= 3)
    await Bun.sleep(30)
    expect(sink.events).toEqual(['join1', 'leave2', 'join3'])
  })

  it('should not announce a join twice when the leave between them comes late', async () => {
    const { redis, sink, a } = await setup()
    await a.watch(ROOM)
    announce(redis, join(1))
    await waitFor(() => sink.events.length === 1)
    // Join 3 arrives, then leave 2, decided before it, late.
    announce(redis, join(3))
    announce(redis, leave(2))
    await Bun.sleep(50)
    expect(sink.events).toEqual(['join1'])
  })

  it('should pass events without an order (typing) through', async () => {
    const { sink, a, b } = await setup()
    await a.watch(ROOM)
    b.publishEvent(ROOM, 'typing')
    b.publishEvent(ROOM, 'typing')
    await waitFor(() => sink.events.length === 2)
  })
})
