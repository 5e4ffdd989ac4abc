import { type Clock, realClock, type Timer } from './clock.ts'

/** A token bucket: `rate` tokens a second, holding at most `burst`; starts full. Its owner says what time it is (ms on its clock). */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now: number,
  ) {
    this.tokens = burst
    this.last = now
  }

  /** Takes one token if there is one. */
  take(now: number): boolean {
    this.refill(now)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Seconds until a token is there. */
  wait(now: number): number {
    this.refill(now)
    return this.tokens >= 1 ? 0 : (1 - this.tokens) / this.rate
  }

  /** True when the bucket is full again (its owner has been quiet). */
  full(now: number): boolean {
    this.refill(now)
    return this.tokens >= this.burst
  }

  private refill(now: number) {
    // A caller may read the clock a moment before the bucket was made: time never runs backwards here.
    if (now <= this.last) return
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate)
    this.last = now
  }
}

/** `KeyedLimiter` looks for full buckets to forget no sooner than at this many keys. */
const FORGET_AT_LEAST = 1024

/**
 * Token buckets by key (a user id, a client address), each kept as one number: the time at which
 * the bucket will be full again (the generic cell rate algorithm; the same decisions as a token
 * bucket). A key is forgotten once its bucket is full, so memory follows the keys active lately:
 * every minute, and whenever the keys have doubled since the last look (a burst of new keys,
 * say a reconnect storm, does not grow the map past the keys whose buckets are still filling).
 */
export class KeyedLimiter {
  /** Per key: when (clock.now() ms) its bucket is full again; past that, it is forgotten. */
  private readonly fullAt = new Map<string, number>()
  private readonly sweep: Timer
  /** At this many keys, `take` forgets the full buckets first (twice what the last look left). */
  private forgetAtSize = FORGET_AT_LEAST
  /** Milliseconds one token takes to come back. */
  private readonly interval: number
  /** How far ahead of now `fullAt` may be while a token is left: burst − 1 tokens. */
  private readonly tolerance: number

  /** `perMinute` tokens a minute, in bursts of up to `burst`. */
  constructor(
    perMinute: number,
    burst: number,
    private readonly clock: Clock = realClock,
  ) {
    this.interval = 60_000 / perMinute
    this.tolerance = (burst - 1) * this.interval
    this.sweep = clock.setInterval(() => this.forgetFull(clock.now()), 60_000)
  }

  /** Takes a token for `key`; returns 0 when there was one, else the whole seconds to wait. */
  take(key: string, now = this.clock.now()): number {
    const at = Math.max(this.fullAt.get(key) ?? now, now)
    if (at - now > this.tolerance) return Math.max(1, Math.ceil((at - this.tolerance - now) / 1000))
    this.fullAt.set(key, at + this.interval)
    if (this.fullAt.size >= this.forgetAtSize) this.forgetFull(now)
    return 0
  }

  /** Forgets the keys whose buckets are full again (a look over every key, at most once per doubling: amortized constant per take). */
  private forgetFull(now: number) {
    for (const [key, at] of this.fullAt) if (at <= now) this.fullAt.delete(key)
    this.forgetAtSize = Math.max(FORGET_AT_LEAST, 2 * this.fullAt.size)
  }

  close(): void {
    this.clock.clearInterval(this.sweep)
  }
}
