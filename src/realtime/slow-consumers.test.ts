import { describe, expect, it } from 'bun:test'
import { ManualClock } from '../clock.ts'
import { createLogger } from '../logger.ts'
import { createMetrics } from '../metrics.ts'
import { fakeSession, Topics } from '../../test/support/fake-sockets.ts'
import { Closer } from './closing.ts'
import { SlowConsumers } from './slow-consumers.ts'

const LIMIT = 1000
const logger = createLogger('silent')
function setup(graceMs = 100) {
  const metrics = createMetrics()
  const clock = new ManualClock()
  const closer = new Closer(metrics, logger, graceMs, clock)
  return { metrics, clock, closer, slow: new SlowConsumers(LIMIT, closer, metrics, logger, clock), topics: new Topics() }
}

describe('SlowConsumers', () => {
  it('should leave alone a socket whose queue passes the limit for a moment', async () => {
    const { slow, clock, topics } = setup()
    const s = fakeSession(topics, 1, 'fast')
    s.socket.buffered = 2 * LIMIT
    slow.touch([s])
    await clock.advance(500)
    s.socket.buffered = 0
    slow.check(s)
    await clock.advance(2000)
    expect(s.closing).toBe(false)
    slow.stop()
  })

  it('should close one far over the limit at once, and one over it for a second, with 1013', async () => {
    const { slow, clock, topics } = setup()
    const [far, over] = [fakeSession(topics, 1, 'far'), fakeSession(topics, 1, 'over')]
    far.socket.buffered = 9 * LIMIT
    over.socket.buffered = 2 * LIMIT
    slow.touch([far, over])
    await clock.advance(0)
    expect([far.closing, over.closing]).toEqual([true, false])
    // Looked at again by the slow consumers' own timer, deliveries or not: not before the grace.
    await clock.advance(999)
    expect(over.closing).toBe(false)
    await clock.advance(1100)
    expect(over.closing).toBe(true)
    slow.stop()
  })
})

describe('Closer', () => {
  it('should send the close frame once the queue has drained', async () => {
    const { closer, clock, topics } = setup()
    const s = fakeSession(topics, 1, 'draining')
    s.socket.subscribe('room:1')
    s.socket.buffered = 500
    closer.close(s, 1013, 'too slow')
    // No more room events, and no close frame yet: it would wait behind the queue.
    expect(s.socket.isSubscribed('room:1')).toBe(false)
    expect(s.socket.closedWith).toBeNull()
    s.socket.buffered = 0
    await clock.advance(150)
    expect(s.socket.closedWith).toEqual({ code: 1013, reason: 'too slow' })
    expect(s.socket.terminated).toBe(false)
  })

  it('should cut a socket whose queue does not drain within the grace, counting what it released', async () => {
    const { closer, clock, metrics, topics } = setup(100)
    const s = fakeSession(topics, 1, 'stuck')
    s.socket.buffered = 5000
    closer.close(s, 1013, 'too slow')
    closer.close(s, 1013, 'again') // once is enough
    await clock.advance(99)
    expect(s.socket.terminated).toBe(false)
    await clock.advance(201)
    expect(s.socket.terminated).toBe(true)
    expect(s.socket.closedWith).toBeNull()
    const text = await metrics.registry.metrics()
    expect(text).toContain('chat_sockets_terminated_total 1')
    expect(text).toContain('chat_terminated_queued_bytes_total 5000')
  })
})
