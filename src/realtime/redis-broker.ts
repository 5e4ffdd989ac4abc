import type { Logger } from '../logger.ts'
import type { MessageRow } from '../store/store.ts'
import type { Broker, DeliverySink } from './broker.ts'
import { redisConnector, type ChannelListener, type RedisConnection, type RedisConnector } from './redis-connection.ts'
import { roomChannel, type Envelope } from './redis-wire.ts'
import { RoomOrder, type SequencedStore } from './room-order.ts'

export type { SequencedStore }

/** One room this instance has sockets in. */
interface RoomStream {
  readonly order: RoomOrder
  readonly listener: ChannelListener
  ready: Promise<void>
  /** The connection its listener is subscribed on, if any. */
  on: RedisConnection | null
  /** Per user, the newest presence change delivered here: its version, and whether it was a join. */
  readonly presence: Map<string, { version: number; present: boolean }>
}


/** How often the broker checks its subscription, and how long without a probe heard it counts as broken. */
export interface ProbeTiming {
  intervalMs: number
  deadlineMs: number
}

const PROBE_TIMING: ProbeTiming = { intervalMs: 1000, deadlineMs: 3500 }
/** Between tries to catch a room up after its subscription was restored (while the store fails). */
const CATCH_UP_RETRY_MS = 1000

/**
 * Room events between instances over Redis pub/sub, one channel per room.
 *
 * Messages are delivered in each room's `seq` order (room-order.ts): one arriving early waits, and
 * a gap (a message published late, or lost while Redis was away) is read from the database. An
 * instance's own messages go into the same ordering at once, and their echo from Redis is dropped
 * as already delivered.
 *
 * Joins and leaves are decided, versioned and published by the presence scripts in Redis, each in
 * one step (redis-presence.ts); every instance, the deciding one too, gets them here. They may
 * still arrive out of order (a subscriber rebuilt, a slow link), so an instance delivers one only
 * if it is newer than the last it delivered for that user in that room and changes what that one
 * said (a join after a join says nothing new). Typing carries no order.
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
  /** Changes to the subscriber run one at a time, in order (see `serially`). */
  private subscriptions: Promise<unknown> = Promise.resolve()

  private constructor(
    private readonly connector: RedisConnector,
    private readonly pub: RedisConnection,
    private sub: RedisConnection,
    private readonly prefix: string,
    private readonly store: SequencedStore,
    private readonly logger: Logger,
    private readonly timing: ProbeTiming,
  ) {
    // Whether a subscription survives a reconnect is up to the client (Bun's does not); rather than
    // trust it, the broker sends itself a probe every second, and rebuilds the subscriber when
    // probes stop coming.
    this.probeTimer = setInterval(() => this.probe().catch((err) => this.logger.error('redis probe failed', { err })), timing.intervalMs)
  }

  /** Connects to the Redis at `url`. */
  static connect(url: string, prefix: string, store: SequencedStore, logger: Logger): Promise<RedisBroker> {
    return RedisBroker.open(redisConnector(url), prefix, store, logger)
  }

  /** Connects both connections (publishing and subscribing need separate ones). */
  static async open(connector: RedisConnector, prefix: string, store: SequencedStore, logger: Logger, timing = PROBE_TIMING): Promise<RedisBroker> {
    const pub = connector()
    const sub = connector()
    const broker = new RedisBroker(connector, pub, sub, prefix, store, logger, timing)
    try {
      await pub.connect()
      await sub.connect()
      await sub.subscribe(broker.probeChannel, broker.heardProbe)
    } catch (err) {
      await broker.close()
      throw err
    }
    return broker
  }

  private get probeChannel() {
    return `${this.prefix}probe:${this.instance}`
  }

  private readonly heardProbe = () => {
    this.lastProbe = Date.now()
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
    return roomChannel(this.prefix, roomId)
  }

  watch(roomId: number): Promise<void> {
    const existing = this.rooms.get(roomId)
    if (existing) return existing.ready
    const stream: RoomStream = {
      order: new RoomOrder(roomId, this.store, (row) => this.sink.deliverMessage(row), this.logger),
      listener: (message) => this.receive(roomId, message),
      ready: Promise.resolve(),
      on: null,
      presence: new Map(),
    }
    this.rooms.set(roomId, stream)
    stream.ready = (async () => {
      // Subscribe first, then read where the room stands: whatever commits later arrives here.
      await this.serially(() => this.subscribe(roomId, stream))
      stream.order.start(await this.store.lastSeq(roomId))
    })().catch((err) => {
      // Leave nothing behind, so that a later watch starts clean (the caller closes its socket).
      if (this.rooms.get(roomId) === stream) this.unwatch(roomId)
      this.logger.error('watching a room failed', { room: roomId, err })
      throw err
    })
    return stream.ready
  }

  whenDelivered(roomId: number, seq: number): Promise<void> {
    return this.rooms.get(roomId)?.order.whenDelivered(seq) ?? Promise.resolve()
  }

  unwatch(roomId: number): void {
    const stream = this.rooms.get(roomId)
    if (!stream) return
    this.rooms.delete(roomId)
    stream.order.close()
    this.serially(async () => {
      const on = stream.on
      stream.on = null
      await on?.unsubscribe(this.channel(roomId), stream.listener)
    }).catch(() => {}) // a connection that is gone has forgotten the subscription anyway
  }

  publishMessages(rows: readonly MessageRow[]): void {
    for (const row of rows) {
      this.rooms.get(row.roomId)?.order.accept(row)
      this.publish(row.roomId, { t: 'm', m: row })
    }
  }

  publishEvent(roomId: number, frame: string, except?: string): void {
    this.sink.deliverEvent(roomId, frame, except)
    this.publish(roomId, except === undefined ? { t: 'e', f: frame, o: this.instance } : { t: 'e', f: frame, o: this.instance, x: except })
  }

  async check(): Promise<void> {
    if (!this.pub.connected) throw new Error('redis is not connected')
    if (!this.available) throw new Error('redis subscription is not delivering; resubscribing')
    await Promise.race([this.pub.send('PING', []), Bun.sleep(2000).then(() => Promise.reject(new Error('redis did not answer PING within 2 s')))])
  }

  async close(): Promise<void> {
    this.closing = true
    clearInterval(this.probeTimer)
    for (const stream of this.rooms.values()) stream.order.close()
    this.rooms.clear()
    this.pub.close()
    this.sub.close()
  }

  /**
   * Runs a change to the subscriber after those before it. A watch, an unwatch and a rebuild of
   * the subscriber never interleave, so no room ends up subscribed twice (Bun would then deliver
   * everything twice) or on a connection about to be thrown away.
   */
  private serially<T>(change: () => Promise<T>): Promise<T> {
    const result = this.subscriptions.then(change, change)
    this.subscriptions = result.catch(() => {})
    return result
  }

  /** Subscribes a room's listener on the current subscriber, unless it already is. */
  private async subscribe(roomId: number, stream: RoomStream) {
    if (this.rooms.get(roomId) !== stream || stream.on === this.sub) return
    const sub = this.sub
    await sub.subscribe(this.channel(roomId), stream.listener)
    stream.on = sub
  }

  /** Sends a probe; when probes stopped coming back though Redis is reachable, rebuilds the subscriber. */
  private async probe() {
    if (this.closing) return
    if (!this.pub.connected) {
      // Redis is away: until a probe makes the round trip again, nothing counts as delivered.
      this.lastProbe = 0
      return
    }
    this.pub.publish(this.probeChannel, '1').catch(() => {})
    if (Date.now() - this.lastProbe < this.timing.deadlineMs || this.rebuilding) return
    this.rebuilding = true
    this.logger.warn('redis subscription lost; resubscribing and catching up', { rooms: this.rooms.size })
    try {
      await this.serially(() => this.rebuild())
      this.lastProbe = Date.now()
      this.logger.info('redis subscription restored')
      for (const [roomId, stream] of this.rooms) this.catchUp(roomId, stream).catch((err) => this.logger.error('catching up failed', { room: roomId, err }))
    } catch (err) {
      this.logger.warn('resubscribing to redis failed; will retry', { err })
    } finally {
      this.rebuilding = false
    }
  }

  /** Replaces the subscriber with a fresh connection subscribed to the probe and every watched room. */
  private async rebuild() {
    const fresh = this.connector()
    const subscribed: RoomStream[] = []
    try {
      await fresh.connect()
      await fresh.subscribe(this.probeChannel, this.heardProbe)
      for (const [roomId, stream] of [...this.rooms]) {
        if (this.rooms.get(roomId) !== stream) continue
        await fresh.subscribe(this.channel(roomId), stream.listener)
        subscribed.push(stream)
      }
    } catch (err) {
      fresh.close()
      throw err
    }
    const old = this.sub
    this.sub = fresh
    // Rooms unwatched meanwhile too: their unsubscribe is queued after this, and must find them here.
    for (const stream of subscribed) stream.on = fresh
    old.close()
  }

  /** After the subscription was broken: deliver whatever the room committed meanwhile. */
  private async catchUp(roomId: number, stream: RoomStream) {
    while (!this.closing && this.rooms.get(roomId) === stream) {
      try {
        stream.order.catchUp(await this.store.lastSeq(roomId))
        return
      } catch (err) {
        this.logger.error('catching up after a reconnect failed; retrying', { room: roomId, err })
        await Bun.sleep(CATCH_UP_RETRY_MS)
      }
    }
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
    if (envelope.t === 'm') {
      if (envelope.m?.roomId === roomId) this.rooms.get(roomId)?.order.accept(envelope.m)
      return
    }
    if (envelope.t === 'p') {
      if (this.isNews(roomId, envelope)) this.sink.deliverEvent(roomId, envelope.f, envelope.x)
      return
    }
    // This instance's own events were delivered here as they were published.
    if (envelope.o !== this.instance) this.sink.deliverEvent(roomId, envelope.f, envelope.x)
  }

  /** Whether a join or leave changes what this instance's sockets in the room were last told; records it. */
  private isNews(roomId: number, change: { u: string; v: number; j: boolean }): boolean {
    const stream = this.rooms.get(roomId)
    if (!stream) return false
    const seen = stream.presence.get(change.u)
    if (seen && change.v <= seen.version) return false
    stream.presence.set(change.u, { version: change.v, present: change.j })
    return !seen || seen.present !== change.j
  }
}
