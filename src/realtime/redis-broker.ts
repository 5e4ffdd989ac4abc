import type { ServerWebSocket } from 'bun'
import type { Logger } from '../logger.ts'
import type { MessageRow } from '../store/store.ts'
import type { Broker, DeliverySink } from './broker.ts'
import { redisConnector, type RedisConnection, type RedisConnector } from './redis-connection.ts'

/** What the broker needs from the store: messages by their position in a room. */
export interface SequencedStore {
  messagesBySeq(roomId: number, fromSeq: number, toSeq: number): Promise<MessageRow[]>
  lastSeq(roomId: number): Promise<number>
}

/** One room this instance has sockets in: the next position to deliver, and what arrived early. */
interface RoomStream {
  next: number | null
  early: Map<number, MessageRow>
  filling: boolean
  ready: Promise<void>
  listener: (message: string) => void
  /** Replays waiting for the stream to pass a seq. */
  waiters: { seq: number; resolve: () => void }[]
}

type Envelope = { t: 'm'; m: MessageRow } | { t: 'e'; f: string; o: string }

/** How often the broker checks its subscription, and how long without a probe heard it counts as broken. */
export interface ProbeTiming {
  intervalMs: number
  deadlineMs: number
}

const PROBE_TIMING: ProbeTiming = { intervalMs: 1000, deadlineMs: 3500 }

/**
 * Room events between instances over Redis pub/sub, one channel per room.
 *
 * Messages are delivered in each room's `seq` order, the order the database committed them in, not
 * the order Redis happened to bring them: one arriving early waits, and a gap (a message published
 * late, or lost while Redis was away) is read from the database, where every earlier `seq` is
 * already committed. An instance's own messages go into the same ordering at once, and their echo
 * from Redis is dropped as already delivered. Join, leave and typing carry no order.
 */
export class RedisBroker implements Broker {
  private readonly rooms = new Map<number, RoomStream>()
  private readonly instance = crypto.randomUUID()
  private closing = false
  private sink: DeliverySink = { deliverMessage() {}, deliverEvent() {} }
  /** When this instance last heard its own probe through the subscriber: the subscription works. */
  private lastProbe = Date.now()
  private rebuilding = false
  private readonly probeTimer: ReturnType<typeof setInterval>

  private constructor(
    private readonly connector: RedisConnector,
    private readonly pub: RedisConnection,
    private sub: RedisConnection,
    private readonly prefix: string,
    private readonly store: SequencedStore,
    private readonly logger: Logger,
    private readonly timing: ProbeTiming,
  ) {
    // Whether a subscription survives a reconnect is up to the client; rather than trust it, the
    // broker sends itself a probe every second, and rebuilds the subscriber when probes stop coming.
    this.probeTimer = setInterval(() => void this.probe(), timing.intervalMs)
  }

  /** Connects to the Redis at `url`. */
  static connect(url: string, prefix: string, store: SequencedStore, logger: Logger): Promise<RedisBroker> {
    return RedisBroker.open(redisConnector(url), prefix, store, logger)
  }

  /** Connects both connections (publishing and subscribing need separate ones). */
  static async open(connector: RedisConnector, prefix: string, store: SequencedStore, logger: Logger, timing = PROBE_TIMING): Promise<RedisBroker> {
    const pub = connector()
    await pub.connect()
    const broker = new RedisBroker(connector, pub, connector(), prefix, store, logger, timing)
    await broker.subscribeAll(broker.sub)
    return broker
  }

  private get probeChannel() {
    return `${this.prefix}probe:${this.instance}`
  }

  /** Subscribes a (new) subscriber client to the probe and every watched room. */
  private async subscribeAll(sub: RedisConnection) {
    await sub.connect()
    await sub.subscribe(this.probeChannel, () => (this.lastProbe = Date.now()))
    for (const [roomId, stream] of this.rooms) await sub.subscribe(this.channel(roomId), stream.listener)
  }

  private async probe() {
    if (this.closing) return
    if (!this.pub.connected) {
      // Redis is away: until a probe makes the round trip again, nothing counts as delivered.
      this.lastProbe = 0
      return
    }
    this.pub.publish(this.probeChannel, '1').catch(() => {})
    if (Date.now() - this.lastProbe < this.timing.deadlineMs || this.rebuilding) return
    // Redis is back (the publisher is connected) but the subscriber hears nothing: start it afresh.
    this.rebuilding = true
    this.logger.warn('redis subscription lost; resubscribing and catching up', { rooms: this.rooms.size })
    const fresh = this.connector()
    try {
      await this.subscribeAll(fresh)
      const old = this.sub
      this.sub = fresh
      old.close()
      this.lastProbe = Date.now()
      for (const roomId of this.rooms.keys()) void this.catchUp(roomId)
      this.logger.info('redis subscription restored')
    } catch (err) {
      fresh.close()
      this.logger.warn('resubscribing to redis failed; will retry', { err })
    } finally {
      this.rebuilding = false
    }
  }

  /** Sets where events are delivered (the hub); returns the broker. */
  deliverTo(sink: DeliverySink): this {
    this.sink = sink
    return this
  }

  get available(): boolean {
    return this.pub.connected && Date.now() - this.lastProbe < this.timing.deadlineMs
  }

  private channel(roomId: number) {
    return `${this.prefix}room:${roomId}`
  }

  watch(roomId: number): Promise<void> {
    const existing = this.rooms.get(roomId)
    if (existing) return existing.ready
    const stream: RoomStream = { next: null, early: new Map(), filling: false, ready: Promise.resolve(), listener: (message) => this.receive(roomId, message), waiters: [] }
    this.rooms.set(roomId, stream)
    stream.ready = (async () => {
      // Subscribe first, then read where the room stands: whatever commits later arrives here.
      await this.sub.subscribe(this.channel(roomId), stream.listener)
      stream.next = (await this.store.lastSeq(roomId)) + 1
      this.drain(roomId, stream)
    })().catch((err) => {
      this.rooms.delete(roomId)
      this.logger.error('watching a room failed', { room: roomId, err })
      throw err
    })
    return stream.ready
  }

  whenDelivered(roomId: number, seq: number): Promise<void> {
    const stream = this.rooms.get(roomId)
    if (!stream || (stream.next !== null && stream.next > seq)) return Promise.resolve()
    return new Promise((resolve) => stream.waiters.push({ seq, resolve }))
  }

  unwatch(roomId: number): void {
    const stream = this.rooms.get(roomId)
    if (!stream) return
    this.rooms.delete(roomId)
    for (const waiter of stream.waiters) waiter.resolve()
    this.sub.unsubscribe(this.channel(roomId), stream.listener).catch(() => {})
  }

  publishMessages(rows: readonly MessageRow[]): void {
    for (const row of rows) {
      this.accept(row)
      this.publish(row.roomId, { t: 'm', m: row })
    }
  }

  publishEvent(roomId: number, frame: string, except?: ServerWebSocket<unknown>): void {
    this.sink.deliverEvent(roomId, frame, except)
    this.publish(roomId, { t: 'e', f: frame, o: this.instance })
  }

  async check(): Promise<void> {
    if (!this.pub.connected) throw new Error('redis is not connected')
    if (!this.available) throw new Error('redis subscription is not delivering; resubscribing')
    await Promise.race([this.pub.send('PING', []), Bun.sleep(2000).then(() => Promise.reject(new Error('redis did not answer PING within 2 s')))])
  }

  async close(): Promise<void> {
    this.closing = true
    clearInterval(this.probeTimer)
    this.pub.close()
    this.sub.close()
  }

  private publish(roomId: number, envelope: Envelope) {
    // A message lost here is not lost: receivers read it back at the next gap, or on reconnect.
    this.pub.publish(this.channel(roomId), JSON.stringify(envelope)).catch((err) => this.logger.warn('redis publish failed', { room: roomId, err }))
  }

  private receive(roomId: number, raw: string) {
    let envelope: Envelope
    try {
      envelope = JSON.parse(raw) as Envelope
    } catch {
      return this.logger.warn('unreadable event on a room channel', { room: roomId })
    }
    if (envelope.t === 'm') this.accept(envelope.m)
    else if (envelope.o !== this.instance) this.sink.deliverEvent(roomId, envelope.f)
  }

  /** Takes a committed message into its room's order. */
  private accept(row: MessageRow) {
    const stream = this.rooms.get(row.roomId)
    if (!stream || row.seq === undefined) return
    if (stream.next !== null && row.seq < stream.next) return // already delivered
    stream.early.set(row.seq, row)
    this.drain(row.roomId, stream)
  }

  /** Delivers what is next in order; on a gap, reads the missing messages from the database. */
  private drain(roomId: number, stream: RoomStream) {
    if (stream.next === null) return
    for (let row = stream.early.get(stream.next); row; row = stream.early.get(stream.next)) {
      stream.early.delete(stream.next)
      stream.next++
      this.sink.deliverMessage(row)
    }
    if (stream.waiters.length > 0) {
      const next = stream.next
      const done = stream.waiters.filter((w) => w.seq < next)
      stream.waiters = stream.waiters.filter((w) => w.seq >= next)
      for (const waiter of done) waiter.resolve()
    }
    if (stream.early.size > 0 && !stream.filling) {
      const until = Math.min(...stream.early.keys()) - 1
      void this.fill(roomId, stream, stream.next, until)
    }
  }

  private async fill(roomId: number, stream: RoomStream, from: number, to: number) {
    stream.filling = true
    try {
      for (const row of await this.store.messagesBySeq(roomId, from, to)) if (stream.next !== null && row.seq! >= stream.next) stream.early.set(row.seq!, row)
    } catch (err) {
      this.logger.error('reading missed messages failed', { room: roomId, err })
      await Bun.sleep(500)
    } finally {
      stream.filling = false
    }
    if (this.rooms.get(roomId) === stream) this.drain(roomId, stream)
  }

  /** After the subscription was broken: deliver whatever the room committed meanwhile. */
  private async catchUp(roomId: number) {
    const stream = this.rooms.get(roomId)
    if (!stream || stream.next === null) return
    try {
      const last = await this.store.lastSeq(roomId)
      if (last >= stream.next) for (const row of await this.store.messagesBySeq(roomId, stream.next, last)) this.accept(row)
    } catch (err) {
      this.logger.error('catching up after a reconnect failed', { room: roomId, err })
    }
  }
}
