import { describe, expect, it } from 'bun:test'
import { ManualClock } from '../clock.ts'
import { loadConfig } from '../config.ts'
import { RateLimiter } from './rate-limits.ts'

describe('RateLimiter', () => {
  const config = loadConfig({ RATE_LIMIT_PER_SECOND: '10', RATE_LIMIT_BURST: '5', FLOOD_CLOSE_AFTER: '3' })

  it("should let a socket's burst through, then limit it, then call it flooding", () => {
    const limiter = new RateLimiter(config, new ManualClock())
    const socket = limiter.forSocket()
    const verdicts = Array.from({ length: 8 }, () => limiter.socketMessage('a', socket))
    expect(verdicts).toEqual(['ok', 'ok', 'ok', 'ok', 'ok', 'limited', 'limited', 'flooding'])
    limiter.close()
  })

  it("should share one user's allowance between their sockets and REST", () => {
    const limiter = new RateLimiter(config, new ManualClock())
    const [tab1, tab2] = [limiter.forSocket(), limiter.forSocket()]
    for (let i = 0; i < 3; i++) expect(limiter.socketMessage('a', tab1)).toBe('ok')
    expect(limiter.socketMessage('a', tab2)).toBe('ok')
    expect(limiter.restMessage('a')).toBe(0)
    // Five taken from the user's bucket: the next waits, whichever way it comes; another user does not.
    expect(limiter.restMessage('a')).toBeGreaterThan(0)
    expect(limiter.socketMessage('a', tab2)).toBe('limited')
    expect(limiter.socketMessage('b', limiter.forSocket())).toBe('ok')
    limiter.close()
  })

  it("should let a new user's first message through with a burst of one at a slow rate", () => {
    // The user's bucket is made while the message is judged: its clock must not make it short of a token.
    const limiter = new RateLimiter(loadConfig({ RATE_LIMIT_PER_SECOND: '0.001', RATE_LIMIT_BURST: '1', FLOOD_CLOSE_AFTER: '1' }), new ManualClock())
    const socket = limiter.forSocket()
    expect(limiter.socketMessage('new', socket)).toBe('ok')
    expect(limiter.socketMessage('new', socket)).toBe('flooding')
    expect(limiter.restMessage('other')).toBe(0)
    limiter.close()
  })

  it('should let a limited user send again as tokens come back, and start counting refusals afresh', async () => {
    const clock = new ManualClock()
    const limiter = new RateLimiter(config, clock)
    const socket = limiter.forSocket()
    for (let i = 0; i < 5; i++) expect(limiter.socketMessage('a', socket)).toBe('ok')
    expect(limiter.socketMessage('a', socket)).toBe('limited')
    expect(limiter.restMessage('a')).toBe(1)
    await clock.advance(100) // one token at 10 a second
    expect(limiter.socketMessage('a', socket)).toBe('ok')
    expect(limiter.socketMessage('a', socket)).toBe('limited')
    await clock.advance(10_001) // past the flood window: earlier refusals no longer count
    for (let i = 0; i < 5; i++) expect(limiter.socketMessage('a', socket)).toBe('ok')
    expect(limiter.socketMessage('a', socket)).toBe('limited')
    limiter.close()
  })
})
