/** A token bucket: `rate` tokens a second, holding at most `burst`; starts full. */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    now = performance.now(),
  ) {
    this.tokens = burst
    this.last = now
  }

  /** Takes one token if there is one. */
  take(now = performance.now()): boolean {
    this.refill(now)
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /** Seconds until a token is there. */
  wait(now = performance.now()): number {
    this.refill(now)
    return this.tokens >= 1 ? 0 : (1 - this.tokens) / this.rate
  }

  /** True when the bucket is full again (its owner has been quiet). */
  full(now = performance.now()): boolean {
    this.refill(now)
    return this.tokens >= this.burst
  }

  private refill(now: number) {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate)
    this.last = now
  }
}

/**
 * Token buckets by key (a user id, a client address), created on first use and forgotten once
 * full again, so memory follows the keys active in the last minute or so.
 */
export class KeyedLimiter {
  private readonly buckets = new Map<string, TokenBucket>()
  private readonly sweep: ReturnType<typeof setInterval>

  /** `perMinute` tokens a minute, in bursts of up to `burst`. */
  constructor(
    private readonly perMinute: number,
    private readonly burst: number,
  ) {
    this.sweep = setInterval(() => {
      const now = performance.now()
      for (const [key, bucket] of this.buckets) if (bucket.full(now)) this.buckets.delete(key)
    }, 60_000)
    this.sweep.unref()
  }

  /** Takes a token for `key`; returns 0 when there was one, else the whole seconds to wait. */
  take(key: string): number {
    let bucket = this.buckets.get(key)
    if (!bucket) this.buckets.set(key, (bucket = new TokenBucket(this.perMinute / 60, this.burst)))
    return bucket.take() ? 0 : Math.max(1, Math.ceil(bucket.wait()))
  }

  close(): void {
    clearInterval(this.sweep)
  }
}
