import { describe, expect, it } from 'bun:test'
import { createLogger } from '../logger.ts'
import { fakeSession, Topics } from '../../test/support/fake-sockets.ts'
import { PresenceTracker } from './presence-tracker.ts'
import { MemoryPresence } from './presence.ts'

const GRACE = 50
function makeTracker(graceMs = GRACE) {
  const heard: string[] = []
  const presence = new MemoryPresence((_room, frame) => heard.push((JSON.parse(frame) as { type: string }).type.replace('chat.user.', '')))
  return { tracker: new PresenceTracker(presence, graceMs, createLogger('silent')), heard, topics: new Topics() }
}
const settle = () => Bun.sleep(GRACE * 3)

describe('PresenceTracker', () => {
  it('should join with the first tab and leave with the last, after the grace', async () => {
    const { tracker: t, heard, topics } = makeTracker()
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
    const { tracker: t, heard, topics } = makeTracker()
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
    const { tracker: t, heard, topics } = makeTracker(0)
    const [here, there] = [fakeSession(topics, 1, 'a'), fakeSession(topics, 2, 'a')]
    t.enter(here)
    t.enter(there)
    t.exit(here)
    await Bun.sleep(1)
    expect(heard).toEqual(['join', 'join', 'leave'])
  })

  it('should drop pending leaves once stopped (presence lets go of everyone as it closes)', async () => {
    const { tracker: t, heard, topics } = makeTracker()
    const s = fakeSession(topics, 1, 'a')
    t.enter(s)
    t.exit(s)
    t.stop()
    await settle()
    expect(heard).toEqual(['join'])
  })
})
