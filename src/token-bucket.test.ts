import { describe, expect, it } from 'bun:test'
import { ManualClock } from './clock.ts'
import { KeyedLimiter, TokenBucket } from './token-bucket.ts'

describe('KeyedLimiter', () => {
  it('should decide as a token bucket does, per key', () => {
    // 60 a minute (one a second), bursts of 3.
    const limiter = new KeyedLimiter(60, 3, new ManualClock())
    const bucket = new TokenBucket(1, 3, 0)
    const times = [0, 0, 0, 0, 500, 999, 1000, 1000, 2500, 10_000, 10_000, 10_000, 10_000]
    for (const t of times) expect({ t, limited: limiter.take('a', t) > 0 }).toEqual({ t, limited: !bucket.take(t) })
    expect(limiter.take('b', 10_000)).toBe(0)
    limiter.close()
  })

  it('should say how long to wait, in whole seconds', () => {
    const limiter = new KeyedLimiter(6, 1, new ManualClock()) // one every 10 s
    expect(limiter.take('a', 0)).toBe(0)
    expect(limiter.take('a', 0)).toBe(10)
    expect(limiter.take('a', 9_500)).toBe(1)
    expect(limiter.take('a', 10_000)).toBe(0)
    limiter.close()
  })

  it('should still limit the keys whose buckets are filling when many new keys make it forget the full ones', () => {
    const limiter = new KeyedLimiter(6, 1, new ManualClock()) // one every 10 s
    expect(limiter.take('a', 0)).toBe(0)
    // Full again at 10 s: 'a' may be forgotten among these; k0… are still filling.
    for (let i = 0; i < 5000; i++) expect(limiter.take(`k${i}`, 10_000 + i)).toBe(0)
    expect(limiter.take('k0', 10_500)).toBe(10)
    expect(limiter.take('k4999', 15_000)).toBe(10)
    expect(limiter.take('a', 15_000)).toBe(0)
    limiter.close()
  })
})

describe('TokenBucket', () => {
  it('should not lose tokens to a time a moment before it was made', () => {
    const bucket = new TokenBucket(0.001, 1, 1_000)
    expect(bucket.take(999.5)).toBe(true)
    expect(bucket.take(1_000)).toBe(false)
  })
})

describe('KeyedLimiter on its clock', () => {
  it('should read the time from its clock when not told', async () => {
    const clock = new ManualClock()
    const limiter = new KeyedLimiter(6, 1, clock) // one every 10 s
    expect(limiter.take('a')).toBe(0)
    expect(limiter.take('a')).toBe(10)
    await clock.advance(9_500)
    expect(limiter.take('a')).toBe(1)
    await clock.advance(500)
    expect(limiter.take('a')).toBe(0)
    limiter.close()
    expect(clock.pending).toBe(0)
  })
})
