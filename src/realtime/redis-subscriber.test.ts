import { describe, expect, it } from 'bun:test'
import { ManualClock } from '../clock.ts'
import { signalEvent } from './events.ts'
import { publishMessages, range, ROOM, setup, waitFor } from '../../test/support/broker-fixtures.ts'

describe('Redis going away', () => {
  it('should resubscribe after a restart and deliver, in order, what was committed meanwhile', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    publishMessages(b, store.commit(ROOM, 2))
    await waitFor(() => sink.seqs.length === 2)
    redis.stop()
    await Bun.sleep(50)
    expect(a.available).toBe(false)
    redis.start()
    // Back, but a's subscription is gone: what b publishes now is lost to a until it resubscribes.
    await waitFor(() => b.available)
    publishMessages(b, store.commit(ROOM, 3))
    await waitFor(() => a.available && sink.seqs.length === 5)
    publishMessages(b, store.commit(ROOM, 1))
    await waitFor(() => sink.seqs.length === 6)
    expect(sink.seqs).toEqual(range(1, 6))
    expect(redis.subscribers(`t:room:${ROOM}`)).toBe(1)
  })

  it('should take a reconnect as a lost subscription at once, not after probes miss', async () => {
    // The clock stands still: no probe is ever sent, so only the reconnect itself can say Redis may have restarted.
    const { redis, store, sink, a, b } = await setup({ intervalMs: 1000, deadlineMs: 3500 }, new ManualClock())
    await a.watch(ROOM)
    redis.stop()
    redis.start()
    await waitFor(() => a.available && b.available, 1000)
    publishMessages(b, store.commit(ROOM, 2))
    await waitFor(() => sink.seqs.length === 2, 1000)
    expect(sink.seqs).toEqual([1, 2])
    expect(redis.subscribers(`t:room:${ROOM}`)).toBe(1)
  })

  it('should count the subscription as broken once probes stop coming back, and rebuild it on the next probe', async () => {
    const clock = new ManualClock()
    const { redis, store, sink, a, b } = await setup({ intervalMs: 1000, deadlineMs: 3500 }, clock)
    await a.watch(ROOM)
    await clock.advance(3000)
    expect(a.available).toBe(true)
    // The subscription goes deaf without a reconnect: what is published no longer comes back.
    redis.route = (channel) => (channel.startsWith('t:probe:') ? 'drop' : 'deliver')
    await clock.advance(3499) // the last probe heard was sent at 3 s
    expect(a.available).toBe(true)
    await clock.advance(1)
    expect(a.available).toBe(false) // 3.5 s without a probe; the probe at 7 s rebuilds
    redis.route = () => 'deliver'
    await clock.advance(500)
    await waitFor(() => a.available)
    publishMessages(b, store.commit(ROOM, 2))
    await waitFor(() => sink.seqs.length === 2)
    expect(sink.seqs).toEqual([1, 2])
    expect(redis.subscribers(`t:room:${ROOM}`)).toBe(1)
  })

  it('should catch up even when the store fails when the subscription comes back', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    let open!: () => void
    redis.connectGate = new Promise((resolve) => (open = resolve))
    redis.stop()
    redis.start()
    await Bun.sleep(200) // the subscribers are lost and their replacements cannot connect yet
    publishMessages(b, store.commit(ROOM, 3))
    store.failing = true
    redis.connectGate = null
    open()
    await waitFor(() => a.available)
    await Bun.sleep(100)
    store.failing = false
    await waitFor(() => sink.seqs.length === 3, 5000)
    expect(sink.seqs).toEqual([1, 2, 3])
  })

  it('should refuse a watch while Redis is away, and watch cleanly later', async () => {
    const { redis, sink, a, b } = await setup()
    redis.stop()
    await Bun.sleep(30)
    expect(a.watch(ROOM)).rejects.toThrow()
    await Bun.sleep(30)
    redis.start()
    await waitFor(() => a.available && b.available)
    await a.watch(ROOM)
    b.publish(signalEvent(ROOM, 'typing'))
    await waitFor(() => sink.events.length === 1)
    await Bun.sleep(30)
    expect(sink.events).toEqual(['typing'])
  })

  it('should leave nothing subscribed when a watch fails after subscribing', async () => {
    const { redis, store, sink, a, b } = await setup()
    store.lastVersionFailures = 1
    expect(a.watch(ROOM)).rejects.toThrow()
    await Bun.sleep(30)
    expect(redis.subscribers(`t:room:${ROOM}`)).toBe(0)
    await a.watch(ROOM)
    b.publish(signalEvent(ROOM, 'typing'))
    await waitFor(() => sink.events.length === 1)
    await Bun.sleep(30)
    expect(sink.events).toEqual(['typing'])
  })

  it('should subscribe a room watched while the subscriber is being rebuilt exactly once', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    let open!: () => void
    redis.connectGate = new Promise((resolve) => (open = resolve))
    redis.stop()
    redis.start()
    await Bun.sleep(200) // a has noticed and is opening a fresh subscriber, which hangs
    const watching = a.watch(ROOM + 1)
    await Bun.sleep(20)
    redis.connectGate = null
    open()
    await watching.catch(() => a.watch(ROOM + 1))
    await waitFor(() => a.available)
    b.publish(signalEvent(ROOM + 1, 'typing'))
    publishMessages(b, store.commit(ROOM + 1, 1))
    await waitFor(() => sink.events.length >= 1 && sink.seqs.length >= 1)
    await Bun.sleep(50)
    expect(sink.events).toEqual(['typing'])
    expect(redis.subscribers(`t:room:${ROOM + 1}`)).toBe(1)
  })

  it('should leave nothing subscribed for a room unwatched while the subscriber is being rebuilt', async () => {
    const { redis, sink, a, b } = await setup()
    await a.watch(ROOM)
    let open!: () => void
    const gate = new Promise<void>((resolve) => (open = resolve))
    redis.subscribeGate = (channel) => (channel === `t:room:${ROOM}` ? gate : null)
    redis.stop()
    redis.start()
    await Bun.sleep(200) // the fresh subscriber is subscribing the room, slowly
    a.unwatch(ROOM)
    redis.subscribeGate = () => null
    open()
    await waitFor(() => a.available)
    await Bun.sleep(30)
    expect(redis.subscribers(`t:room:${ROOM}`)).toBe(0)
    await a.watch(ROOM)
    b.publish(signalEvent(ROOM, 'typing'))
    await waitFor(() => sink.events.length === 1)
    await Bun.sleep(30)
    expect(sink.events).toEqual(['typing'])
  })

  it('should leave no promise rejection unhandled while Redis is away', async () => {
    const unhandled: unknown[] = []
    const onUnhandled = (err: unknown) => unhandled.push(err)
    process.on('unhandledRejection', onUnhandled)
    try {
      const { redis, store, a } = await setup()
      await a.watch(ROOM)
      redis.stop()
      publishMessages(a, store.commit(ROOM, 1))
      a.publish(signalEvent(ROOM, 'typing'))
      a.unwatch(ROOM)
      await a.watch(ROOM + 1).catch(() => {})
      await a.check().catch(() => {})
      await Bun.sleep(200)
      redis.start()
      await waitFor(() => a.available)
      await Bun.sleep(100)
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
    expect(unhandled).toEqual([])
  })
})
