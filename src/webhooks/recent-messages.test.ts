import { describe, expect, it } from 'bun:test'
import { messageRow } from '../../test/support/message-rows.ts'
import type { MessageRow } from '../store/store.ts'
import { RecentMessages } from './recent-messages.ts'

/** A message of room 7 as committed: its id, and the room's version its creation made. */
const message = (id: number, createdVersion: number, version = createdVersion): MessageRow => messageRow({ id, roomId: 7, seq: createdVersion, createdVersion, version })
const ids = (rows: MessageRow[] | null) => rows?.map((m) => m.id) ?? null

describe('RecentMessages', () => {
  it('should give the messages after the cursor when its run holds them all, unchanged since', () => {
    const recent = new RecentMessages()
    for (const [id, version] of [
      [10, 1],
      [11, 2],
      [15, 3],
      [16, 4],
    ] as const)
      recent.committed(message(id, version))
    expect(ids(recent.since(7, { after: 10, newest: 16, version: 4 }, 200))).toEqual([11, 15, 16])
    // Up to the newest message the pass read, and at most `limit`.
    expect(ids(recent.since(7, { after: 10, newest: 15, version: 3 }, 200))).toEqual([11, 15])
    expect(ids(recent.since(7, { after: 10, newest: 16, version: 4 }, 2))).toEqual([11, 15])
    // The cursor moved on: what is before it is forgotten, what is after it still given.
    expect(ids(recent.since(7, { after: 15, newest: 16, version: 4 }, 200))).toEqual([16])
    expect(recent.since(7, { after: 10, newest: 16, version: 4 }, 200)).toBeNull()
  })

  it('should say nothing when the room changed after its newest message, or its cursor or newest is not held', () => {
    const recent = new RecentMessages()
    recent.committed(message(10, 1))
    recent.committed(message(11, 2))
    // An edit, a reaction or a room event elsewhere moved the version past the newest message's.
    expect(recent.since(7, { after: 10, newest: 11, version: 3 }, 200)).toBeNull()
    // A message committed elsewhere is newer than the run.
    expect(recent.since(7, { after: 10, newest: 12, version: 3 }, 200)).toBeNull()
    // The cursor is before the run (its messages were read back from the database).
    expect(recent.since(7, { after: 9, newest: 11, version: 2 }, 200)).toBeNull()
    expect(recent.since(8, { after: 10, newest: 11, version: 2 }, 200)).toBeNull()
  })

  it('should start a new run after a gap in the versions, and end it at a change committed here', () => {
    const recent = new RecentMessages()
    recent.committed(message(10, 1))
    recent.committed(message(11, 2))
    // Version 3 was another instance's message (or a change): 10 and 11 cannot vouch for what follows.
    recent.committed(message(13, 4))
    recent.committed(message(14, 5))
    expect(recent.since(7, { after: 10, newest: 14, version: 5 }, 200)).toBeNull()
    expect(ids(recent.since(7, { after: 13, newest: 14, version: 5 }, 200))).toEqual([14])
    // An edit of 14 committed here: nothing of the run is its latest form any more.
    recent.committed(message(14, 5, 6))
    expect(recent.since(7, { after: 13, newest: 14, version: 6 }, 200)).toBeNull()
    recent.committed(message(15, 7))
    recent.committed(message(16, 8))
    expect(ids(recent.since(7, { after: 15, newest: 16, version: 8 }, 200))).toEqual([16])
  })
})
