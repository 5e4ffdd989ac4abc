import { describe, expect, it } from 'bun:test'
import { RoomUnread } from './unread.ts'

describe('RoomUnread', () => {
  it('should add messages from others after the count, once each, and reset on its own', () => {
    const room = new RoomUnread({ lastReadId: 10, unreadCount: 3, countedUpTo: 13 })
    expect(room.message(12, false)).toBe(false) // the count has it
    expect(room.message(14, false)).toBe(true)
    expect(room.message(14, false)).toBe(false)
    expect(room.unread).toBe(4)
    expect(room.message(15, true)).toBe(true)
    expect([room.unread, room.lastReadId]).toEqual([0, 15])
  })

  it('should give the same count whichever of a read and a message arrives first', () => {
    // Marker moved to 14 elsewhere, counted up to 16 (15 and 16 unread); message 16 and 17 race it.
    const readFirst = new RoomUnread({ lastReadId: 10, unreadCount: 3, countedUpTo: 13 })
    expect(readFirst.read({ lastReadId: 14, unreadCount: 2, countedUpTo: 16 })).toBe('changed')
    readFirst.message(16, false)
    readFirst.message(17, false)
    const messagesFirst = new RoomUnread({ lastReadId: 10, unreadCount: 3, countedUpTo: 13 })
    for (const id of [14, 15, 16, 17]) messagesFirst.message(id, false)
    expect(messagesFirst.read({ lastReadId: 14, unreadCount: 2, countedUpTo: 16 })).toBe('changed')
    expect([readFirst.unread, messagesFirst.unread]).toEqual([3, 3])
  })

  it('should ignore a marker older than the one it has, and call a count older than what it heard stale', () => {
    const room = new RoomUnread({ lastReadId: 20, unreadCount: 0, countedUpTo: 20 })
    expect(room.read({ lastReadId: 18, unreadCount: 2, countedUpTo: 20 })).toBe('same')
    expect(room.read({ lastReadId: 20, unreadCount: 0, countedUpTo: 20 })).toBe('same')
    for (let id = 21; id <= 2000; id++) room.message(id, false)
    expect(room.unread).toBe(1980)
    // A count up to 1990 can be completed from the ids kept; one up to 25 cannot.
    expect(room.read({ lastReadId: 1990, unreadCount: 0, countedUpTo: 1990 })).toBe('changed')
    expect(room.unread).toBe(10)
    for (let id = 2001; id <= 3000; id++) room.message(id, false)
    expect(room.read({ lastReadId: 1995, unreadCount: 5, countedUpTo: 2000 })).toBe('stale')
  })

  it('should hide a room through a message whichever of the hide and a message arrives first', () => {
    // Hidden through 13; message 14 is newer (the room is back), 13 is not (it stays hidden).
    const hideFirst = new RoomUnread({ lastReadId: 10, unreadCount: 2, countedUpTo: 12 })
    expect(hideFirst.hide(13)).toBe(true)
    hideFirst.message(13, false)
    expect([hideFirst.hidden, hideFirst.shown]).toEqual([true, 0])
    hideFirst.message(14, false)
    expect([hideFirst.hidden, hideFirst.shown]).toEqual([false, 4])
    const newerFirst = new RoomUnread({ lastReadId: 10, unreadCount: 2, countedUpTo: 12 })
    newerFirst.message(13, false)
    newerFirst.message(14, false)
    expect(newerFirst.hide(13)).toBe(false)
    expect([newerFirst.hidden, newerFirst.shown]).toEqual([false, 4])
    // Read hidden from the store: a message after what it counted brings it back.
    const stored = new RoomUnread({ lastReadId: 10, unreadCount: 2, countedUpTo: 12, hidden: true })
    expect(stored.message(12, false)).toBe(false)
    expect(stored.shown).toBe(0)
    stored.message(13, false)
    expect(stored.shown).toBe(3)
  })
})
