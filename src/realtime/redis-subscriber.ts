import { type Clock, realClock, type Timer } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { ChannelListener, RedisConnection, RedisConnector } from './redis-connection.ts'

/** How often the subscriber checks itself, and how long without a probe heard it counts as broken. */
export interface ProbeTiming {
  intervalMs: number
  deadlineMs: number
}

export const PROBE_TIMING: ProbeTiming = { intervalMs: 1000, deadlineMs: 3500 }

/**
 * The subscribing side of the broker's Redis link: the room channels this instance listens to, kept
 * subscribed across Redis restarts. Whether a subscription survives a reconnect is up to the client
 * (Bun's does not), so rather than trust it, this publishes a probe to itself every second and,
 * when probes stop coming back though Redis answers, subscribes everything again on a fresh
 * connection and tells its owner (`onRestored`), who catches up on what was missed meanwhile.
 */
export class RedisSubscriber {
  /** The channels listened to, with their listeners. */
  private readonly channels = new Map<string, ChannelListener>()
  /** The connection each channel's listener is subscribed on, if any. */
  private readonly on = new Map<string, RedisConnection>()
  /** When a probe last came back through the subscription: it works. */
  private lastProbe: number
  private rebuilding = false
  private closed = false
  private readonly timer: Timer
  /** Changes to the subscription run one at a time, in order (see `serially`). */
  private changes: Promise<unknown> = Promise.resolve()

  private constructor(
    private readonly connector: RedisConnector,
    private readonly pub: RedisConnection,
    private sub: RedisConnection,
    private readonly probeChannel: string,
    private readonly logger: Logger,
    private readonly timing: ProbeTiming,
    /** Called once the subscription was rebuilt: events may have been lost meanwhile. */
    private readonly onRestored: () => void,
    private readonly clock: Clock,
  ) {
    this.lastProbe = clock.wallNow()
    this.timer = clock.setInterval(() => this.probe().catch((err) => this.logger.error('redis probe failed', { err })), timing.intervalMs)
  }

  /** Connects a subscriber (publishing goes through `pub`, which the broker shares). */
  static async open(connector: RedisConnector, pub: RedisConnection, probeChannel: string, logger: Logger, timing: ProbeTiming, onRestored: () => void, clock: Clock = realClock): Promise<RedisSubscriber> {
    const subscriber = new RedisSubscriber(connector, pub, connector(), probeChannel, logger, timing, onRestored, clock)
    try {
      await subscriber.sub.connect()
      await subscriber.sub.subscribe(probeChannel, subscriber.heardProbe)
    } catch (err) {
      subscriber.close()
      throw err
    }
    subscriber.watchReconnects(pub)
    subscriber.watchReconnects(subscriber.sub)
    return subscriber
  }

  /**
   * A connection that reconnects may have reached a Redis that restarted: whatever was subscribed is
   * gone. Rather than wait for the probes to miss (seconds during which this would look healthy and
   * hear nothing), count the subscription as broken at once and rebuild it.
   */
  private watchReconnects(connection: RedisConnection) {
    connection.onconnect = () => {
      if (this.closed) return
      this.lastProbe = 0
      this.probe().catch((err) => this.logger.error('redis probe failed', { err }))
    }
  }

  /** True while probes come back: what is published reaches this instance. */
  get healthy(): boolean {
    return this.pub.connected && this.clock.wallNow() - this.lastProbe < this.timing.deadlineMs
  }

  /** Listens to a channel; resolves once subscribed (rejects when Redis is away, leaving nothing behind). */
  listen(channel: string, listener: ChannelListener): Promise<void> {
    this.channels.set(channel, listener)
    return this.serially(async () => {
      if (this.channels.get(channel) !== listener || this.on.get(channel) === this.sub) return
      const sub = this.sub
      await sub.subscribe(channel, listener)
      this.on.set(channel, sub)
    }).catch((err) => {
      if (this.channels.get(channel) === listener) this.stop(channel)
      throw err
    })
  }

  /** Stops listening to a channel. */
  stop(channel: string): void {
    const listener = this.channels.get(channel)
    if (!listener) return
    this.channels.delete(channel)
    this.serially(async () => {
      const on = this.on.get(channel)
      this.on.delete(channel)
      await on?.unsubscribe(channel, listener)
    }).catch(() => {}) // a connection that is gone has forgotten the subscription anyway
  }

  close(): void {
    this.closed = true
    this.clock.clearInterval(this.timer)
    this.sub.close()
  }

  private readonly heardProbe = () => {
    this.lastProbe = this.clock.wallNow()
  }

  /**
   * Runs a change to the subscription after those before it. A listen, a stop and a rebuild never
   * interleave, so no channel ends up subscribed twice (Bun would then deliver everything twice) or
   * on a connection about to be thrown away.
   */
  private serially<T>(change: () => Promise<T>): Promise<T> {
    const result = this.changes.then(change, change)
    this.changes = result.catch(() => {})
    return result
  }

  /** Sends a probe; when probes stopped coming back though Redis is reachable, rebuilds the subscription. */
  private async probe() {
    if (this.closed) return
    if (!this.pub.connected) {
      // Redis is away: until a probe makes the round trip again, nothing counts as delivered.
      this.lastProbe = 0
      return
    }
    this.pub.publish(this.probeChannel, '1').catch(() => {})
    if (this.clock.wallNow() - this.lastProbe < this.timing.deadlineMs || this.rebuilding) return
    this.rebuilding = true
    this.logger.warn('redis subscription lost; resubscribing and catching up', { channels: this.channels.size })
    try {
      await this.serially(() => this.rebuild())
      this.lastProbe = this.clock.wallNow()
      this.logger.info('redis subscription restored')
      this.onRestored()
    } catch (err) {
      this.logger.warn('resubscribing to redis failed; will retry', { err })
    } finally {
      this.rebuilding = false
    }
  }

  /** Replaces the connection with a fresh one subscribed to the probe and every channel. */
  private async rebuild() {
    const fresh = this.connector()
    const subscribed: string[] = []
    try {
      await fresh.connect()
      await fresh.subscribe(this.probeChannel, this.heardProbe)
      for (const [channel, listener] of [...this.channels]) {
        if (this.channels.get(channel) !== listener) continue
        await fresh.subscribe(channel, listener)
        subscribed.push(channel)
      }
    } catch (err) {
      fresh.close()
      throw err
    }
    const old = this.sub
    this.sub = fresh
    this.watchReconnects(fresh)
    old.onconnect = null
    // Channels stopped meanwhile too: their unsubscribe is queued after this, and must find them here.
    for (const channel of subscribed) this.on.set(channel, fresh)
    old.close()
  }
}
