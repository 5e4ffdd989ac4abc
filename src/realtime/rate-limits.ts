import { type Clock, realClock, type Timer } from '../clock.ts'
import type { Config } from '../config.ts'
import { TokenBucket } from '../token-bucket.ts'

/** What a message send may do under the rate limits. */
export type Verdict = 'ok' | 'limited' | 'flooding'

/** Refusals within this window count toward closing a flooding socket. */
const FLOOD_WINDOW_MS = 10_000

/**
 * Per-socket state the limiter keeps, as fields of the socket's own record (a session is one), not
 * objects of their own: all zero for a new socket.
 */
export interface SocketLimits {
  /**
   * The socket's token bucket, kept as one number: when (ms on the limiter's clock) it is full
   * again (the generic cell rate algorithm, as KeyedLimiter keeps its buckets); 0: full.
   */
  bucketFullAt: number
  /** Refusals since `windowStart`. */
  refusals: number
  windowStart: number
}

/**
 * Message rate limits: a bucket per socket and one per user (shared by the user's sockets and REST
 * calls on this instance). A socket that keeps sending past its limit is told to close (1008).
 */
export class RateLimiter {
  private readonly users = new Map<string, TokenBucket>()
  private readonly sweep: Timer
  /** Milliseconds one token of a socket's bucket takes to come back. */
  private readonly interval: number
  /** How far ahead of now a socket's `bucketFullAt` may be while a token is left: burst − 1 tokens. */
  private readonly tolerance: number

  constructor(
    private readonly config: Config,
    private readonly clock: Clock = realClock,
  ) {
    this.interval = 1000 / config.RATE_LIMIT_PER_SECOND
    this.tolerance = (config.RATE_LIMIT_BURST - 1) * this.interval
    // Forget users whose buckets have filled up again: they have been quiet.
    this.sweep = clock.setInterval(() => {
      const now = clock.now()
      for (const [user, bucket] of this.users) if (bucket.full(now)) this.users.delete(user)
    }, 60_000)
  }

  /** A new socket's limits: a full bucket, no refusals. */
  forSocket(): SocketLimits {
    return { bucketFullAt: 0, refusals: 0, windowStart: 0 }
  }

  /** Takes a token from the socket's bucket if it has one. */
  private takeSocketToken(limits: SocketLimits, now: number): boolean {
    const at = Math.max(limits.bucketFullAt, now)
    if (at - now > this.tolerance) return false
    limits.bucketFullAt = at + this.interval
    return true
  }

  private userBucket(userId: string, now: number) {
    let bucket = this.users.get(userId)
    if (!bucket) this.users.set(userId, (bucket = new TokenBucket(this.config.RATE_LIMIT_PER_SECOND, this.config.RATE_LIMIT_BURST, now)))
    return bucket
  }

  /** A message over WebSocket: both the socket's and the user's bucket must have a token. */
  socketMessage(userId: string, limits: SocketLimits): Verdict {
    const now = this.clock.now()
    // The socket's bucket first: a flooding tab should not spend the tokens of the user's other tabs.
    if (this.takeSocketToken(limits, now) && this.userBucket(userId, now).take(now)) return 'ok'
    if (now - limits.windowStart > FLOOD_WINDOW_MS) {
      limits.windowStart = now
      limits.refusals = 0
    }
    return ++limits.refusals >= this.config.FLOOD_CLOSE_AFTER ? 'flooding' : 'limited'
  }

  /** A message over REST; returns the seconds to wait, or 0 when it may go. */
  restMessage(userId: string): number {
    const now = this.clock.now()
    const bucket = this.userBucket(userId, now)
    return bucket.take(now) ? 0 : Math.max(1, Math.ceil(bucket.wait(now)))
  }

  close(): void {
    this.clock.clearInterval(this.sweep)
  }
}
