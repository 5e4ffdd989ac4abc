import { type Clock, realClock, type Timer } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { Broker } from './broker.ts'
import { messageEvent, noticedEvent, signalEvent, userEvent, type ControlEvent, type EventSink, type RealtimeEvent } from './events.ts'
import { PresenceLedger } from './presence-ledger.ts'
import { presenceSignal } from './presence.ts'
import { redisConnector, type ChannelListener, type RedisConnection, type RedisConnector } from './redis-connection.ts'
import { readRoomPresence } from './redis-presence.ts'
import { PROBE_TIMING, RedisSubscriber, type ProbeTiming } from './redis-subscriber.ts'
import { lanesChannel, roomChannel, userChannel, type Envelope, type LanesEnvelope, type UserEnvelope } from './redis-wire.ts'
import { RoomOrder, type SequencedStore } from './room-order.ts'

export type { SequencedStore }

/** One room this instance has sockets in. */
interface RoomStream {
  readonly order: RoomOrder
  readonly listener: ChannelListener
  ready: Promise<void>
  /** What this instance's sockets in the room were last told of each user's presence. */
  readonly presence: PresenceLedger
  /** Counts the settlings of its presence begun: a retry gives way to a newer one. */
  settling: number
}

/** Between tries to catch a room up after its subscription was restored (while the store or Redis fails). */
const CATCH_UP_RETRY_MS = 1000
/** Between tries to tell again what failed to reach Redis. */
const RETELL_MS = 250

/**
 * Room events between instances over Redis pub/sub, one channel per room (redis-wire.ts).
 *
 * Messages and their changes (edits, unsends, reactions) are delivered in each room's `version`
 * order (room-order.ts): one arriving early waits, and a gap (a change published late, or lost while
 * Redis was away) is read from the database. An instance's own changes go into the same ordering
 * at once, and their echo from Redis is dropped as already delivered.
 *
 * Joins and leaves are decided, versioned and published by the presence scripts in Redis, each in
 * one step (redis-presence.ts); every instance, the deciding one too, gets them here. They may
 * still arrive out of order (a subscriber rebuilt, a slow link), so an instance delivers one only
 * if it is newer than the last it delivered for that user in that room and changes what that one
 * said (a join after a join says nothing new). Those published while its subscription was broken
 * never arrive: once it is rebuilt, the instance reads each room's presence from Redis and
 * delivers the difference (presence-ledger.ts). Other events (typing) carry no order.
 *
 * Pub/sub keeps nothing: an event whose publish fails (Redis away, or the link reset with it in
 * flight) would never reach the other instances, and a room whose last messages were lost would
 * stay behind there until something newer came, which may be never. So the publisher tells again,
 * once Redis takes commands, in forms that cannot mislead when they arrive late or twice: a room's
 * highest version committed (receivers read what they missed from the store), the latest of a
 * room's states (a direct room's blocked state, a user's read marker), and that a user's events
 * were lost (their streams start over). Member changes and typing are not told again.
 */
export class RedisBroker implements Broker {
  private readonly rooms = new Map<number, RoomStream>()
  /** Users this instance has streams of: what to call when their events may have been lost. */
  private readonly users = new Map<string, { listener: ChannelListener; lost: () => void }>()
  private readonly instance = crypto.randomUUID()
  private closing = false
  private consumers: EventSink = { delivered() {}, nudged() {} }
  private subscriber!: RedisSubscriber
  /** What failed to reach Redis, to tell again (see the class's comment). */
  private readonly untold = {
    /** By room, the highest version whose event failed. */
    versions: new Map<number, number>(),
    /** By room and state (`blocked`, a user's read marker), its latest value while it is on its way (`owed` once it failed). */
    latest: new Map<string, { roomId: number; state: string; envelope: Envelope; owed: boolean }>(),
    users: new Set<string>(),
  }
  private retellTimer: Timer | null = null

  private constructor(
    private readonly pub: RedisConnection,
    private readonly prefix: string,
    private readonly store: SequencedStore,
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  /** Connects to the Redis at `url`. */
  static connect(url: string, prefix: string, store: SequencedStore, logger: Logger): Promise<RedisBroker> {
    return RedisBroker.open(redisConnector(url), prefix, store, logger)
  }

  /** Connects both connections (publishing and subscribing need separate ones). */
  static async open(connector: RedisConnector, prefix: string, store: SequencedStore, logger: Logger, timing: ProbeTiming = PROBE_TIMING, clock: Clock = realClock): Promise<RedisBroker> {
    const pub = connector()
    const broker = new RedisBroker(pub, prefix, store, logger, clock)
    try {
      await pub.connect()
      broker.subscriber = await RedisSubscriber.open(connector, pub, `${prefix}probe:${broker.instance}`, logger, timing, () => broker.catchUpAll(), clock)
    } catch (err) {
      pub.close()
      throw err
    }
    try {
      // Every instance hears the webhook nudges (one channel); one that sends no webhooks ignores them.
      await broker.subscriber.listen(lanesChannel(prefix), (raw) => broker.receiveNudge(raw))
    } catch (err) {
      await broker.close()
      throw err
    }
    return broker
  }

  /** Sets who consumes the events delivered here (the instance's EventConsumers); returns the broker. */
  deliverTo(consumers: EventSink): this {
    this.consumers = consumers
    return this
  }

  get available(): boolean {
    return this.subscriber.healthy
  }

  publish(event: RealtimeEvent): void {
    if (event.kind === 'user') {
      this.consumers.delivered(event)
      return this.sendUser(event.user, { t: 'u', o: this.instance, c: event.change })
    }
    if (event.kind === 'message') {
      // Into this instance's order at once; other instances order it by its version.
      this.rooms.get(event.room)?.order.accept(event)
      const envelope: Envelope = event.change ? { t: 'm', m: event.message, c: event.change } : { t: 'm', m: event.message }
      return this.send(event.room, event.notice ? { ...envelope, n: event.notice } : envelope, event.message.version)
    }
    if (event.kind === 'control') {
      this.control(event)
      const envelope: Envelope = {
        t: 'c',
        o: this.instance,
        ...(event.evict === undefined ? {} : { k: event.evict }),
        ...(event.banned ? { z: true } : {}),
        ...(event.blocked === undefined ? {} : { b: event.blocked }),
        ...(event.frame === undefined ? {} : { f: event.frame }),
        ...(event.version === undefined ? {} : { v: event.version }),
      }
      return event.blocked === undefined ? this.send(event.room, envelope, event.version) : this.sendLatest(event.room, 'blocked', envelope)
    }
    this.consumers.delivered(event)
    const envelope: Envelope = event.except === undefined ? { t: 'e', f: event.frame, o: this.instance } : { t: 'e', f: event.frame, o: this.instance, x: event.except }
    if (event.latest === undefined) this.send(event.room, envelope)
    else this.sendLatest(event.room, event.latest, envelope)
  }

  nudge(lanes: readonly number[]): void {
    this.consumers.nudged(lanes)
    const envelope: LanesEnvelope = { o: this.instance, l: [...lanes] }
    // Not told again: the lanes' owner finds the events at its next poll anyway.
    this.pub.publish(lanesChannel(this.prefix), JSON.stringify(envelope)).catch((err) => this.logger.debug('a webhook nudge was not published', { err }))
  }

  watch(roomId: number): Promise<void> {
    const existing = this.rooms.get(roomId)
    if (existing) return existing.ready
    const stream: RoomStream = {
      order: new RoomOrder(roomId, this.store, (event) => this.consumers.delivered(event), this.logger),
      listener: (message) => this.receive(roomId, message),
      ready: Promise.resolve(),
      presence: new PresenceLedger(),
      settling: 0,
    }
    this.rooms.set(roomId, stream)
    stream.ready = (async () => {
      // Subscribe first, then read where the room stands: whatever commits later arrives here.
      await this.subscriber.listen(roomChannel(this.prefix, roomId), stream.listener)
      // Who is present already: a later settling then tells the sockets only what changed. Not
      // waited for; should it fail, a settling announces everyone present it never heard of.
      this.settlePresence(roomId, stream, 'assume', 1).catch((err) => this.logger.warn('reading the presence of a newly watched room failed', { room: roomId, err }))
      stream.order.start(await this.store.lastVersion(roomId))
    })().catch((err) => {
      // Leave nothing behind, so that a later watch starts clean (the caller closes its socket).
      if (this.rooms.get(roomId) === stream) this.unwatch(roomId)
      this.logger.error('watching a room failed', { room: roomId, err })
      throw err
    })
    return stream.ready
  }

  async watchUser(userId: string, lost: () => void): Promise<void> {
    const existing = this.users.get(userId)
    if (existing) {
      existing.lost = lost
      return
    }
    const entry = { listener: (raw: string) => this.receiveUser(userId, raw), lost }
    this.users.set(userId, entry)
    try {
      await this.subscriber.listen(userChannel(this.prefix, userId), entry.listener)
    } catch (err) {
      if (this.users.get(userId) === entry) this.unwatchUser(userId)
      throw err
    }
  }

  unwatchUser(userId: string): void {
    if (!this.users.delete(userId)) return
    this.subscriber.stop(userChannel(this.prefix, userId))
  }

  whenDelivered(roomId: number, version: number): Promise<void> {
    return this.rooms.get(roomId)?.order.whenDelivered(version) ?? Promise.resolve()
  }

  unwatch(roomId: number): void {
    const stream = this.rooms.get(roomId)
    if (!stream) return
    this.rooms.delete(roomId)
    stream.order.close()
    this.subscriber.stop(roomChannel(this.prefix, roomId))
  }

  async check(): Promise<void> {
    if (!this.pub.connected) throw new Error('redis is not connected')
    if (!this.available) throw new Error('redis subscription is not delivering; resubscribing')
    await Promise.race([this.pub.send('PING', []), Bun.sleep(2000).then(() => Promise.reject(new Error('redis did not answer PING within 2 s')))])
  }

  async close(): Promise<void> {
    this.closing = true
    if (this.retellTimer !== null) this.clock.clearTimeout(this.retellTimer)
    for (const stream of this.rooms.values()) stream.order.close()
    this.rooms.clear()
    this.users.clear()
    this.pub.close()
    this.subscriber?.close()
  }

  /** After the subscription was broken: deliver whatever each room committed meanwhile, and who joined or left. */
  private catchUpAll() {
    // A user's events are not kept anywhere to catch up from: their streams hear that some were lost.
    for (const { lost } of this.users.values()) lost()
    for (const [roomId, stream] of this.rooms) {
      this.catchUp(roomId, stream).catch((err) => this.logger.error('catching up failed', { room: roomId, err }))
      this.settlePresence(roomId, stream, 'announce', Infinity).catch((err) => this.logger.error('catching up on presence failed', { room: roomId, err }))
    }
  }

  /**
   * Reads the room's presence from Redis and delivers each join or leave this instance's sockets
   * missed (presence-ledger.ts), trying up to `tries` times while the room is watched and no newer
   * settling has begun. Runs after the room's channel is subscribed: a change decided after the
   * read arrives on it, newer than the read.
   */
  private async settlePresence(roomId: number, stream: RoomStream, newcomers: 'announce' | 'assume', tries: number) {
    const settling = ++stream.settling
    const current = () => !this.closing && this.rooms.get(roomId) === stream && stream.settling === settling
    for (let tried = 1; current(); tried++) {
      try {
        const snapshot = await readRoomPresence(this.pub, this.prefix, roomId)
        if (!current()) return
        for (const change of stream.presence.settle(snapshot, newcomers)) this.consumers.delivered(presenceSignal(roomId, change.frame, change.user))
        return
      } catch (err) {
        if (tried >= tries) throw err
        // One warning; the tries after it at debug (Redis may be away again for a while).
        this.logger[tried === 1 ? 'warn' : 'debug']('reading presence after a reconnect failed; retrying', { room: roomId, err })
        await Bun.sleep(CATCH_UP_RETRY_MS)
      }
    }
  }

  private async catchUp(roomId: number, stream: RoomStream) {
    while (!this.closing && this.rooms.get(roomId) === stream) {
      try {
        stream.order.catchUp(await this.store.lastVersion(roomId))
        return
      } catch (err) {
        this.logger.error('catching up after a reconnect failed; retrying', { room: roomId, err })
        await Bun.sleep(CATCH_UP_RETRY_MS)
      }
    }
  }

  /** Publishes on the room's channel; should it fail, the room's `version` (if it made one) is told again. */
  private send(roomId: number, envelope: Envelope, version?: number) {
    this.pub.publish(roomChannel(this.prefix, roomId), JSON.stringify(envelope)).catch((err) => {
      this.logger.warn('redis publish failed', { room: roomId, err })
      if (version === undefined) return
      this.untold.versions.set(roomId, Math.max(this.untold.versions.get(roomId) ?? 0, version))
      this.retellSoon()
    })
  }

  /** The latest value of one of the room's states (`state`): should it fail, it is told again unless a newer one went out meanwhile. */
  private sendLatest(roomId: number, state: string, envelope: Envelope) {
    const key = `${roomId} ${state}`
    const entry = { roomId, state, envelope, owed: false }
    this.untold.latest.set(key, entry)
    this.pub.publish(roomChannel(this.prefix, roomId), JSON.stringify(envelope)).then(
      () => {
        if (this.untold.latest.get(key) === entry) this.untold.latest.delete(key)
      },
      (err) => {
        this.logger.warn('redis publish failed', { room: roomId, err })
        if (this.untold.latest.get(key) !== entry) return
        entry.owed = true
        this.retellSoon()
      },
    )
  }

  /** Publishes on the user's channel; should it fail, the instances watching the user hear that their events were lost. */
  private sendUser(userId: string, envelope: UserEnvelope) {
    this.pub.publish(userChannel(this.prefix, userId), JSON.stringify(envelope)).catch((err) => {
      this.logger.warn('redis publish failed', { user: userId, err })
      this.untold.users.add(userId)
      this.retellSoon()
    })
  }

  private retellSoon() {
    if (this.retellTimer !== null || this.closing) return
    this.retellTimer = this.clock.setTimeout(() => this.retell(), RETELL_MS)
  }

  /** Tells again what failed to reach Redis (see the class's comment); what fails again is told at the next try. */
  private retell() {
    this.retellTimer = null
    if (this.closing) return
    if (!this.pub.connected) return this.retellSoon()
    const { versions, latest, users } = this.untold
    for (const [roomId, version] of versions) this.send(roomId, { t: 'v', v: version }, version)
    versions.clear()
    for (const { roomId, state, envelope, owed } of latest.values()) if (owed) this.sendLatest(roomId, state, envelope)
    for (const userId of users) this.sendUser(userId, { t: 'l', o: this.instance })
    users.clear()
  }

  private receive(roomId: number, raw: string) {
    let envelope: Envelope
    try {
      envelope = JSON.parse(raw) as Envelope
    } catch {
      return this.logger.warn('unreadable event on a room channel', { room: roomId })
    }
    if (envelope.t === 'm') {
      if (envelope.m?.roomId === roomId) this.rooms.get(roomId)?.order.accept(noticedEvent(messageEvent(envelope.m, envelope.c), Array.isArray(envelope.n) ? envelope.n : null))
      return
    }
    if (envelope.t === 'v') {
      if (Number.isSafeInteger(envelope.v)) this.rooms.get(roomId)?.order.catchUp(envelope.v)
      return
    }
    if (envelope.t === 'p') {
      const heard = this.rooms.get(roomId)?.presence.heard({ user: envelope.u, version: envelope.v, joined: envelope.j, frame: envelope.f })
      if (heard) this.consumers.delivered(presenceSignal(roomId, envelope.f, envelope.u, envelope.x))
      return
    }
    // This instance's own events were delivered here as they were published.
    if (envelope.o === this.instance) return
    if (envelope.t === 'c')
      this.control({
        kind: 'control',
        room: roomId,
        ...(envelope.k === undefined ? {} : { evict: envelope.k }),
        ...(envelope.z ? { banned: true } : {}),
        ...(envelope.b === undefined ? {} : { blocked: envelope.b }),
        ...(envelope.f === undefined ? {} : { frame: envelope.f }),
        ...(envelope.v === undefined ? {} : { version: envelope.v }),
      })
    else if (envelope.t === 'e') this.consumers.delivered(signalEvent(roomId, envelope.f, envelope.x))
  }

  /**
   * A control with the room version it made (a removal) takes its place in the room's order, so
   * nothing the room committed after it reaches the removed user's sockets first; one without a
   * version, or one that comes after its place was passed, is applied at once.
   */
  private control(event: ControlEvent) {
    const order = event.version === undefined ? undefined : this.rooms.get(event.room)?.order
    if (order?.accept(event as ControlEvent & { version: number })) return
    this.consumers.delivered(event)
  }

  private receiveNudge(raw: string) {
    let envelope: LanesEnvelope
    try {
      envelope = JSON.parse(raw) as LanesEnvelope
    } catch {
      return this.logger.warn('unreadable webhook nudge')
    }
    if (envelope.o === this.instance || !Array.isArray(envelope.l)) return
    this.consumers.nudged(envelope.l.filter((lane) => Number.isSafeInteger(lane)))
  }

  private receiveUser(userId: string, raw: string) {
    let envelope: UserEnvelope
    try {
      envelope = JSON.parse(raw) as UserEnvelope
    } catch {
      return this.logger.warn('unreadable event on a user channel', { user: userId })
    }
    // This instance's own events were delivered here as they were published.
    if (envelope.o === this.instance) return
    if (envelope.t === 'l') this.users.get(userId)?.lost()
    else if (envelope.t === 'u' && typeof envelope.c === 'object' && envelope.c !== null) this.consumers.delivered(userEvent(userId, envelope.c))
  }
}
