import { ManualClock } from '../clock.ts'
import { describe, expect, it } from 'bun:test'
import { blockedEvent, evictEvent, readEvent, signalEvent, userEvent } from './events.ts'
import { publishMessages, ROOM, rooms, seqOf, setup, waitFor } from '../../test/support/broker-fixtures.ts'
import type { ScriptedRedis } from '../../test/support/scripted-redis.ts'

describe('messages in seq order', () => {
  it('should deliver in seq order whatever order Redis brings them in', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    redis.route = rooms(() => 'hold')
    publishMessages(b, store.commit(ROOM, 5))
    redis.release((held) => [...held].reverse())
    await waitFor(() => sink.seqs.length === 5)
    await Bun.sleep(20)
    expect(sink.seqs).toEqual([1, 2, 3, 4, 5])
  })

  it('should read a lost message from the store', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    redis.route = rooms((message) => (seqOf(message) === 3 ? 'drop' : 'deliver'))
    publishMessages(b, store.commit(ROOM, 5))
    await waitFor(() => sink.seqs.length === 5)
    expect(sink.seqs).toEqual([1, 2, 3, 4, 5])
    expect(store.reads).toContainEqual([3, 3])
  })

  it('should deliver a duplicate, a late copy and its own echo once', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    const [first, second] = store.commit(ROOM, 2)
    publishMessages(a, [first!])
    publishMessages(b, [second!])
    publishMessages(b, [second!, first!])
    await waitFor(() => redis.published.length === 4)
    await Bun.sleep(20)
    expect(sink.seqs).toEqual([1, 2])
  })

  it('should go live from where the room stood when the watch began', async () => {
    const { store, sink, a, b } = await setup()
    store.commit(ROOM, 3)
    await a.watch(ROOM)
    publishMessages(b, store.commit(ROOM, 1))
    await waitFor(() => sink.seqs.length === 1)
    expect(sink.seqs).toEqual([4])
  })
})

describe('removals in the room order', () => {
  it("should close a removed member's sockets before anything the room committed after the removal, whichever Redis brings first", async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    publishMessages(b, store.commit(ROOM, 1))
    await waitFor(() => sink.seqs.length === 1)
    // The removal's control is held in Redis; a message committed after it arrives first.
    redis.route = (channel, message) => (channel.startsWith('t:room:') && message.includes('"t":"c"') ? 'hold' : 'deliver')
    b.publish(evictEvent(ROOM, 'removed-user', store.remove(ROOM, 'removed-user')))
    publishMessages(b, store.commit(ROOM, 1))
    await waitFor(() => sink.order.length === 3)
    // The gap at the removal's version was read back from the store, the eviction in its place.
    expect(sink.order).toEqual(['m1', 'evict removed-user', 'm2'])
    expect(store.reads).toContainEqual([2, 2])
    // The control arriving late changes nothing more than closing what is already closed.
    redis.release((held) => held)
    await waitFor(() => sink.order.length === 4)
    expect(sink.order.at(-1)).toBe('evict removed-user')
  })

  it('should deliver a removal in its place when it comes after what followed it, and one without a version at once', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    redis.route = rooms(() => 'hold')
    b.publish(evictEvent(ROOM, 'x', store.remove(ROOM, 'x')))
    publishMessages(b, store.commit(ROOM, 2))
    redis.release((held) => [...held].reverse())
    // The newest message came first: the gap before it was read back, the removal in its place;
    // the removal's own late copy is applied at once again (closing what is closed already).
    await waitFor(() => sink.order.length >= 4)
    expect(sink.order).toEqual(['evict x', 'm1', 'm2', 'evict x'])
    redis.route = rooms(() => 'deliver')
    b.publish(evictEvent(ROOM, 'y'))
    await waitFor(() => sink.order.length >= 5)
    expect(sink.order.at(-1)).toBe('evict y')
  })
})

describe('a message that arrives while the watch reads where the room stands', () => {
  it('should neither stall the room nor spin on the store', async () => {
    const { store, sink, a, b } = await setup()
    store.commit(ROOM, 5)
    // Between SUBSCRIBE and the read of lastSeq, another instance commits seq 6 and publishes it:
    // it arrives early, and the read then says 6, so the stream starts at 7 with 6 already waiting.
    store.beforeLastVersion = async () => {
      store.beforeLastVersion = null
      publishMessages(b, store.commit(ROOM, 1))
      await Bun.sleep(20)
    }
    await a.watch(ROOM)
    await Bun.sleep(200)
    expect(store.reads.length).toBeLessThan(5)
    publishMessages(b, store.commit(ROOM, 2))
    await waitFor(() => sink.seqs.length === 2)
    expect(sink.seqs).toEqual([7, 8])
    await a.whenDelivered(ROOM, 8)
    expect(store.reads.length).toBeLessThan(5)
  })

  it('should retry a failing store at a bounded rate, and deliver once it answers', async () => {
    const { redis, store, sink, a, b } = await setup()
    await a.watch(ROOM)
    redis.route = rooms((message) => (seqOf(message) === 1 ? 'drop' : 'deliver'))
    store.failing = true
    publishMessages(b, store.commit(ROOM, 2))
    await Bun.sleep(1000)
    expect(store.reads.length).toBeGreaterThan(0)
    expect(store.reads.length).toBeLessThanOrEqual(8)
    expect(sink.seqs).toEqual([])
    store.failing = false
    await waitFor(() => sink.seqs.length === 2, 6000)
    expect(sink.seqs).toEqual([1, 2])
  }, 10_000)

  it('should let a replay go live once the stream passed what it read, even if that message never came', async () => {
    const { redis, store, a, b } = await setup()
    await a.watch(ROOM)
    redis.route = rooms(() => 'drop')
    publishMessages(b, store.commit(ROOM, 3))
    // A replay read up to seq 3 from the database: that much is committed, so the stream reads it.
    await Promise.race([a.whenDelivered(ROOM, 3), Bun.sleep(1000).then(() => Promise.reject(new Error('whenDelivered hung')))])
  })
})

describe('presence events from several instances', () => {
  // As the presence scripts publish them, in the step that decided them (see presence-scripts.ts).
  const join = (v: number) => JSON.stringify({ t: 'p', f: `join${v}`, u: 'alice', v, j: true })
  const leave = (v: number) => JSON.stringify({ t: 'p', f: `leave${v}`, u: 'alice', v, j: false })
  const announce = (redis: ScriptedRedis, envelope: string) => redis.publish(`t:room:${ROOM}`, envelope)

  it('should drop a leave older than a join already delivered', async () => {
    const { redis, sink, a } = await setup()
    await a.watch(ROOM)
    redis.route = rooms(() => 'hold')
    // The leave (version 2) was decided before the join (3), but the join arrives first.
    for (const e of [leave(2), join(3)]) announce(redis, e)
    redis.release((held) => [...held].reverse())
    await Bun.sleep(50)
    expect(sink.events).toEqual(['join3'])
  })

  it('should deliver join, leave, join in the order Redis decided them, once each', async () => {
    const { redis, sink, a } = await setup()
    await a.watch(ROOM)
    for (const e of [join(1), leave(2), join(3), join(3)]) announce(redis, e)
    await waitFor(() => sink.events.length >= 3)
    await Bun.sleep(30)
    expect(sink.events).toEqual(['join1', 'leave2', 'join3'])
  })

  it('should not announce a join twice when the leave between them comes late', async () => {
    const { redis, sink, a } = await setup()
    await a.watch(ROOM)
    announce(redis, join(1))
    await waitFor(() => sink.events.length === 1)
    // Join 3 arrives, then leave 2, decided before it, late.
    announce(redis, join(3))
    announce(redis, leave(2))
    await Bun.sleep(50)
    expect(sink.events).toEqual(['join1'])
  })

  it('should deliver, once its subscription is back, the join it missed meanwhile, and drop the join when it comes late', async () => {
    const { redis, sink, a } = await setup()
    let version = 0
    let present: string[] = []
    // The room's presence as the PRESENT script reads it: its version and origin, then user, info pairs.
    redis.answer = (command) => {
      if (command !== 'EVAL') throw new Error(`unexpected ${command}`)
      return [String(version), '1', ...present.flatMap((u) => [u, '{"n":"Alice","p":null}'])]
    }
    await a.watch(ROOM)
    for (const e of [join(1), leave(2)]) announce(redis, e)
    await waitFor(() => sink.events.length === 2)
    // Redis restarts; alice's instance writes her back (join 3) before this one has resubscribed.
    redis.stop()
    redis.start()
    ;[version, present] = [3, ['alice']]
    announce(redis, join(3))
    await waitFor(() => sink.events.length === 3, 5000)
    announce(redis, join(3))
    await Bun.sleep(100)
    expect(sink.events).toEqual(['join1', 'leave2', '{"type":"chat.user.join","username":"Alice","user_id":"alice"}'])
  })

  it('should pass events without an order (typing) through', async () => {
    const { sink, a, b } = await setup()
    await a.watch(ROOM)
    b.publish(signalEvent(ROOM, 'typing'))
    b.publish(signalEvent(ROOM, 'typing'))
    await waitFor(() => sink.events.length === 2)
  })
})

describe("a user's events", () => {
  const read = { type: 'read' as const, room: 1, lastReadId: 5, unreadCount: 2, countedUpTo: 7 }

  it('should deliver them once on every instance that watches the user, its own at once', async () => {
    const { sink, a, b } = await setup()
    await a.watchUser('u1', () => {})
    b.publish(userEvent('u1', read))
    b.publish(userEvent('someone-else', read))
    await waitFor(() => sink.users.length === 1)
    a.publish(userEvent('u1', { type: 'removed', room: 1 }))
    // Its own event is delivered as it is published, and its echo from Redis dropped.
    expect(sink.users.map((e) => e.change.type)).toEqual(['read', 'removed'])
    await Bun.sleep(30)
    expect(sink.users).toEqual([userEvent('u1', read), userEvent('u1', { type: 'removed', room: 1 })])
  })

  it('should stop delivering after the last watch ends, and say when events may have been lost', async () => {
    const { redis, sink, a, b } = await setup()
    let lost = 0
    await a.watchUser('u2', () => lost++)
    redis.stop()
    redis.start()
    await waitFor(() => lost === 1, 5000)
    b.publish(userEvent('u2', read))
    await waitFor(() => sink.users.length === 1)
    a.unwatchUser('u2')
    await Bun.sleep(20)
    b.publish(userEvent('u2', read))
    await Bun.sleep(30)
    expect(sink.users).toHaveLength(1)
  })
})

describe('events whose publish failed (the link reset with them in flight)', () => {
  const read = { type: 'read' as const, room: 1, lastReadId: 5, unreadCount: 2, countedUpTo: 7 }
  /** Brokers on a clock the test moves: what failed is told again 250 ms later, or at each 250 ms until it goes through. */
  async function onManualClock() {
    const clock = new ManualClock()
    return { clock, ...(await setup({ intervalMs: 1000, deadlineMs: 3500 }, clock)) }
  }

  it("should tell the other instances the room's version once Redis takes it, so that a room's last messages are not lost to them", async () => {
    const { clock, redis, store, sink, a, b } = await onManualClock()
    await a.watch(ROOM)
    publishMessages(b, store.commit(ROOM, 1))
    await waitFor(() => sink.seqs.length === 1)
    // The last two messages of the room never reach Redis, and nothing is sent after them.
    redis.route = rooms(() => 'fail')
    publishMessages(b, store.commit(ROOM, 2))
    await clock.advance(249)
    expect(sink.seqs).toEqual([1])
    redis.route = () => 'deliver'
    await clock.advance(1)
    await waitFor(() => sink.seqs.length === 3)
    expect(sink.seqs).toEqual([1, 2, 3])
    expect(store.reads).toContainEqual([2, 3])
  })

  it('should tell a removal whose publish failed, read back from the store', async () => {
    const { clock, redis, store, sink, a, b } = await onManualClock()
    await a.watch(ROOM)
    redis.route = rooms((message) => (message.includes('"t":"c"') ? 'fail' : 'deliver'))
    b.publish(evictEvent(ROOM, 'removed-user', store.remove(ROOM, 'removed-user')))
    await clock.advance(100)
    expect(sink.order).toEqual([])
    redis.route = () => 'deliver'
    await clock.advance(150)
    await waitFor(() => sink.order.length === 1)
    expect(sink.order).toEqual(['evict removed-user'])
  })

  it("should tell a direct room's latest blocked state, never an older one after a newer", async () => {
    const { clock, redis, sink, a, b } = await onManualClock()
    await a.watch(ROOM)
    redis.route = rooms(() => 'fail')
    b.publish(blockedEvent(ROOM, true))
    await clock.advance(100)
    redis.route = () => 'deliver'
    await clock.advance(150)
    await waitFor(() => sink.order.length === 1)
    expect(sink.order).toEqual(['blocked true'])
    // Blocked fails to reach Redis, then unblocked does: only the unblock is told, once.
    redis.route = rooms(() => 'fail')
    b.publish(blockedEvent(ROOM, true))
    redis.route = () => 'deliver'
    b.publish(blockedEvent(ROOM, false))
    await waitFor(() => sink.order.length === 2)
    await clock.advance(1000)
    expect(sink.order).toEqual(['blocked true', 'blocked false'])
  })

  it('should tell a read marker again, the latest of each user only', async () => {
    const { clock, redis, sink, a, b } = await onManualClock()
    await a.watch(ROOM)
    const markers = () => sink.events.map((frame) => JSON.parse(frame) as { user_id: string; last_read_id: number }).map((f) => `${f.user_id} ${f.last_read_id}`)
    // Alice's marker at 5 fails to reach Redis, hers at 7 then does: 5 is never told. Bob's at 3 is.
    redis.route = rooms(() => 'fail')
    b.publish(readEvent(ROOM, 'alice', 5))
    b.publish(readEvent(ROOM, 'bob', 3))
    redis.route = () => 'deliver'
    b.publish(readEvent(ROOM, 'alice', 7))
    await clock.advance(1000)
    await waitFor(() => sink.events.length === 2)
    expect(markers()).toEqual(['alice 7', 'bob 3'])
    // Typing is not told again.
    redis.route = rooms(() => 'fail')
    b.publish(signalEvent(ROOM, 'typing'))
    redis.route = () => 'deliver'
    await clock.advance(1000)
    expect(sink.events).toHaveLength(2)
  })

  it("should tell the instances watching a user that the user's events were lost, and not itself", async () => {
    const { clock, redis, a, b } = await onManualClock()
    let lostOnA = 0
    let lostOnB = 0
    await a.watchUser('u3', () => lostOnA++)
    await b.watchUser('u3', () => lostOnB++)
    let failures = 1
    redis.route = (channel) => (channel.startsWith('t:user:') && failures-- > 0 ? 'fail' : 'deliver')
    b.publish(userEvent('u3', read))
    await clock.advance(250)
    await waitFor(() => lostOnA === 1)
    await clock.advance(1000)
    expect([lostOnA, lostOnB]).toEqual([1, 0])
  })

  it('should keep trying while its tellings fail too, and tell once Redis takes them', async () => {
    const { clock, redis, store, sink, a, b } = await onManualClock()
    await a.watch(ROOM)
    redis.route = rooms(() => 'fail')
    publishMessages(b, store.commit(ROOM, 1))
    await clock.advance(1200)
    expect(sink.seqs).toEqual([])
    expect(redis.published.filter((p) => p.channel === `t:room:${ROOM}`)).toEqual([])
    redis.route = () => 'deliver'
    await clock.advance(250)
    await waitFor(() => sink.seqs.length === 1)
    expect(sink.seqs).toEqual([1])
  })
})

describe('webhook nudges', () => {
  it('should carry a nudge to every instance, its own once, whatever rooms they watch', async () => {
    const { sink, bSink, b } = await setup()
    b.nudge([3, 41])
    await waitFor(() => sink.nudges.length === 1)
    await Bun.sleep(20)
    expect(sink.nudges).toEqual([[3, 41]])
    expect(bSink.nudges).toEqual([[3, 41]])
  })

  it('should ignore a nudge it cannot read, and lanes that are not numbers', async () => {
    const { redis, sink, b } = await setup()
    const stranger = redis.connector()
    await stranger.connect()
    for (const raw of ['not json', '{"o":"x","l":"3"}', '{"o":"x"}', '{"o":"x","l":[2.5,"7",null,9]}']) await stranger.publish('t:webhook-lanes', raw)
    b.nudge([12])
    await waitFor(() => sink.nudges.length === 2)
    expect(sink.nudges).toEqual([[9], [12]])
    stranger.close()
  })

  it('should hear nudges again once its subscription is rebuilt after Redis restarted', async () => {
    const { redis, sink, b } = await setup()
    redis.stop()
    redis.start()
    // Until it is resubscribed a nudge is lost (the next poll finds its events); after, it arrives.
    await waitFor(() => redis.subscribers('t:webhook-lanes') === 2, 5000)
    b.nudge([5])
    await waitFor(() => sink.nudges.length === 1)
    expect(sink.nudges).toEqual([[5]])
  })
})
