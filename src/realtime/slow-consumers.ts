import { type Clock, realClock, type Timer } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Closer } from './closing.ts'
import { CloseCode } from './codec.ts'
import type { Connection } from './session.ts'

/** How long a socket's queue may stay over the limit before it is closed. */
const GRACE_MS = 1000
/** A queue this many times over the limit is closed at once. */
const HARD_FACTOR = 8

/**
 * Bun queues what a socket cannot take yet and, past its backpressure limit, drops further sends
 * without a word. Rather than let a reader fall silently behind, a socket whose queue stays over
 * SLOW_CONSUMER_BYTES for a second, or ever passes 8 times that, is closed with 1013: it
 * reconnects with since= and misses nothing. A fast reader's queue may pass the limit for a moment
 * after a burst; it drains in well under the grace. Sockets are looked at once per batch of
 * deliveries (`touch`), for the rooms that got messages, so nothing is added per message; those
 * over the limit are looked at again each second, deliveries or not.
 */
export class SlowConsumers {
  private readonly touched = new Set<Iterable<Connection>>()
  private scheduled = false
  /** The sockets whose unsent queue is over the limit, and since when. */
  private readonly suspects = new Map<Connection, number>()
  private readonly timer: Timer

  constructor(
    private readonly limitBytes: number,
    private readonly closer: Closer,
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly clock: Clock = realClock,
  ) {
    this.timer = clock.setInterval(() => {
      const now = clock.now()
      for (const session of this.suspects.keys()) this.check(session, now)
    }, GRACE_MS)
  }

  /** These sockets were just sent something: look at them once the current batch is out. */
  touch(sessions: Iterable<Connection>): void {
    this.touched.add(sessions)
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      const now = this.clock.now()
      for (const group of this.touched) for (const session of group) this.check(session, now)
      this.touched.clear()
    })
  }

  /** Closes the socket if its unsent queue has been over the limit too long, or is far over it. */
  check(session: Connection, now = this.clock.now()): void {
    if (session.closing || session.socket.readyState !== 1) return void this.suspects.delete(session)
    const queued = session.socket.getBufferedAmount()
    if (queued <= this.limitBytes) return void this.suspects.delete(session)
    let since = this.suspects.get(session)
    if (since === undefined) this.suspects.set(session, (since = now))
    if (now - since < GRACE_MS && queued <= HARD_FACTOR * this.limitBytes) return
    this.suspects.delete(session)
    this.metrics.socketsClosed.labels('slow_consumer').inc()
    this.logger.info('closing a socket that cannot keep up', { topic: session.topic, user: session.identity.userId, queued })
    this.closer.close(session, CloseCode.tryAgainLater, 'too slow to keep up; reconnect with since')
  }

  /** The socket closed. */
  forget(session: Connection): void {
    this.suspects.delete(session)
  }

  stop(): void {
    this.clock.clearInterval(this.timer)
  }
}
