import { describe, expect, it } from 'bun:test'
import { ManualClock } from '../clock.ts'
import { createLogger } from '../logger.ts'
import { fakeSession, Topics } from '../../test/support/fake-sockets.ts'
import { PresenceTracker, retryDelay, type SocketsHere } from './presence-tracker.ts'
import { MemoryPresence, type Presence, type PresenceChange } from './presence.ts'
import type { Session } from './session.ts'

/**
 * A tracker with the sockets open here as the hub would have them: a socket is registered before
 * the tracker hears it opened and forgotten before it hears it closed.
 */
function trackerOver(presence: Presence, graceMs: number, clock: ManualClock, retry?: { baseMs: number; capMs: number }) {
  const open = new Set<Session>()
  const here: SocketsHere = {
    hasSocketIn: (roomId, userId, besides) => [...open].some((s) => s !== besides && s.roomId === roomId && s.identity.userId === userId),
  }
  const tracker = new PresenceTracker(presence, here, graceMs, createLogger('silent'), clock, retry)
  return {
    enter(session: Session) {
      open.add(session)
      tracker.enter(session)
    },
    exit(session: Session) {
      open.delete(session)
      tracker.exit(session)
    },
    stop: () => tracker.stop(),
  }
}

const GRACE = 50
function makeTracker(graceMs = GRACE) {
  const heard: string[] = []
  const presence = new MemoryPresence((_room, frame) => heard.push((JSON.parse(frame) as { type: string }).type.replace('chat.user.', '')))
  const clock = new ManualClock()
  const settle = () => clock.advance(GRACE * 3)
  return { tracker: trackerOver(presence, graceMs, clock), heard, topics: new Topics(), clock, settle }
}

describe('PresenceTracker', () => {
  it('should join with the first tab and leave with the last, after the grace', async () => {
    const { tracker: t, heard, topics, settle } = makeTracker()
    const [tab1, tab2] = [fakeSession(topics, 1, 'a'), fakeSession(topics, 1, 'a')]
    t.enter(tab1)
    t.enter(tab2)
    t.exit(tab1)
    await settle()
    expect(heard).toEqual(['join'])
    t.exit(tab2)
    expect(heard).toEqual(['join'])
    await settle()
    expect(heard).toEqual(['join', 'leave'])
  })

  it('should announce nothing for a reconnect within the grace', async () => {
    const { tracker: t, heard, topics, settle } = makeTracker()
    const first = fakeSession(topics, 1, 'a')
    t.enter(first)
    for (let i = 0; i < 5; i++) {
      const again = fakeSession(topics, 1, 'a')
      t.exit(first)
      t.enter(again)
      t.exit(again)
      t.enter(first)
    }
    await settle()
    expect(heard).toEqual(['join'])
  })

  it('should leave at once with no grace, and keep rooms apart', async () => {
    const { tracker: t, heard, topics, clock } = makeTracker(0)
    const [here, there] = [fakeSession(topics, 1, 'a'), fakeSession(topics, 2, 'a')]
    t.enter(here)
    t.enter(there)
    t.exit(here)
    await clock.advance(0)
    expect(heard).toEqual(['join', 'join', 'leave'])
  })

  it('should drop pending leaves once stopped (presence lets go of everyone as it closes)', async () => {
    const { tracker: t, heard, topics, settle } = makeTracker()
    const s = fakeSession(topics, 1, 'a')
    t.enter(s)
    t.exit(s)
    t.stop()
    await settle()
    expect(heard).toEqual(['join'])
  })
})

/** Presence in memory whose calls fail while `down`, and which records every call. */
class FlakyPresence implements Presence {
  down = false
  /** While set, calls wait for it before they go (a call in flight). */
  gate: Promise<void> | null = null
  readonly calls: string[] = []
  readonly heard: string[] = []
  private readonly memory = new MemoryPresence((_room, frame) => this.heard.push((JSON.parse(frame) as { type: string }).type.replace('chat.user.', '')))

  async join(roomId: number, user: { userId: string; nickname: string; profileUrl: string | null }, except?: string): Promise<PresenceChange> {
    return this.call('join', () => this.memory.join(roomId, user, except))
  }

  async leave(roomId: number, userId: string): Promise<PresenceChange> {
    return this.call('leave', () => this.memory.leave(roomId, userId))
  }

  online = (roomId: number) => this.memory.online(roomId)
  counts = (roomIds: readonly number[]) => this.memory.counts(roomIds)
  async close() {}

  private async call(kind: string, run: () => Promise<PresenceChange>) {
    const down = this.down
    this.calls.push(`${kind}${down ? ' failed' : ''}`)
    if (this.gate) await this.gate
    if (down) throw new Error('redis is not connected')
    return run()
  }
}

const RETRY = { baseMs: 100, capMs: 1000 }
function flaky(graceMs = 0) {
  const presence = new FlakyPresence()
  const clock = new ManualClock()
  return { presence, clock, tracker: trackerOver(presence, graceMs, clock, RETRY), topics: new Topics() }
}

describe('PresenceTracker, when presence fails', () => {
  it('should retry a join, with growing waits, while the user has a socket here, and announce it once', async () => {
    const { presence, clock, tracker, topics } = flaky()
    presence.down = true
    tracker.enter(fakeSession(topics, 1, 'a'))
    await clock.advance(0)
    await clock.advance(49)
    expect(presence.calls).toEqual(['join failed'])
    await clock.advance(1500)
    const tries = presence.calls.length
    expect(tries).toBeGreaterThan(2)
    expect(tries).toBeLessThan(8)
    presence.down = false
    await clock.advance(1000)
    expect(presence.heard).toEqual(['join'])
    expect(clock.pending).toBe(0)
  })

  it('should give up a join once the user has no socket here, and leave after the grace', async () => {
    const { presence, clock, tracker, topics } = flaky(200)
    presence.down = true
    const s = fakeSession(topics, 1, 'a')
    tracker.enter(s)
    await clock.advance(0)
    tracker.exit(s)
    await clock.advance(150)
    presence.down = false
    await clock.advance(5000)
    expect(presence.calls).toEqual(['join failed', 'leave'])
    expect(presence.heard).toEqual([])
    expect(clock.pending).toBe(0)
  })

  it('should retry a leave until presence takes it', async () => {
    const { presence, clock, tracker, topics } = flaky()
    const s = fakeSession(topics, 1, 'a')
    tracker.enter(s)
    await clock.advance(0)
    presence.down = true
    tracker.exit(s)
    await clock.advance(3000)
    expect(presence.heard).toEqual(['join'])
    presence.down = false
    await clock.advance(1000)
    expect(presence.heard).toEqual(['join', 'leave'])
    expect(clock.pending).toBe(0)
  })

  it('should drop a leave it was retrying once the user is back, announcing neither leave nor join', async () => {
    const { presence, clock, tracker, topics } = flaky()
    const s = fakeSession(topics, 1, 'a')
    tracker.enter(s)
    await clock.advance(0)
    presence.down = true
    tracker.exit(s)
    await clock.advance(500)
    presence.down = false
    tracker.enter(fakeSession(topics, 1, 'a'))
    await clock.advance(5000)
    expect(presence.heard).toEqual(['join'])
    expect(presence.calls.filter((c) => c === 'leave')).toEqual([])
    expect(presence.calls.at(-1)).toBe('join')
  })

  it('should make one call at a time for a user, the newest wish last', async () => {
    const { presence, clock, tracker, topics } = flaky()
    const s = fakeSession(topics, 1, 'a')
    tracker.enter(s)
    await clock.advance(0)
    // The leave is in flight (and will fail) when the user comes back: the join waits for it, then goes.
    let open!: () => void
    presence.gate = new Promise((resolve) => (open = resolve))
    presence.down = true
    tracker.exit(s)
    await clock.advance(0)
    presence.down = false
    tracker.enter(fakeSession(topics, 1, 'a'))
    await clock.advance(0)
    expect(presence.calls).toEqual(['join', 'leave failed'])
    presence.gate = null
    open()
    await clock.advance(5000)
    expect(presence.calls).toEqual(['join', 'leave failed', 'join'])
    expect(presence.heard).toEqual(['join'])
  })

  it('should stop retrying once stopped', async () => {
    const { presence, clock, tracker, topics } = flaky()
    presence.down = true
    tracker.enter(fakeSession(topics, 1, 'a'))
    await clock.advance(0)
    tracker.stop()
    const tries = presence.calls.length
    await clock.advance(10_000)
    expect(presence.calls.length).toBe(tries)
    expect(clock.pending).toBe(0)
  })
})

describe('retryDelay', () => {
  it('should double from the base up to the cap, jittered between half and all of it', () => {
    const timing = { baseMs: 200, capMs: 3000 }
    expect([0, 1, 2, 3, 4, 10, 1000].map((n) => retryDelay(n, timing, () => 0))).toEqual([100, 200, 400, 800, 1500, 1500, 1500])
    expect([0, 1, 2, 3, 4, 10, 1000].map((n) => retryDelay(n, timing, () => 0.999_999))).toEqual([200, 400, 800, 1600, 3000, 3000, 3000])
  })
})
