import { describe, expect, it } from 'bun:test'
import { messageRow } from '../../test/support/message-rows.ts'
import { createLogger } from '../logger.ts'
import type { MessageRow, RoomChanges } from '../store/store.ts'
import { messageEvent, type RealtimeEvent } from './events.ts'
import { RoomOrder } from './room-order.ts'

// A room's order when Redis lost some versions and the gap is read back from the database, which
// keeps each message only in its latest form: what the room's sockets here are given must leave
// them with the server's copy, new messages in id order.

/** The database as it is now: each message in its latest form; reads as the store promises. */
function storeOf(latest: MessageRow[], version: number) {
  return {
    changesBetween: async (_room: number, from: number, to: number): Promise<RoomChanges> => ({
      messages: latest.filter((m) => (m.version >= from && m.version <= to) || (m.createdVersion >= from && m.createdVersion <= to)).sort((a, b) => a.version - b.version),
      evictions: [],
      updates: [],
      version,
    }),
    lastVersion: async () => version,
  }
}

/** What the room's sockets here were given, as `<frame> <id> v<version>`. */
function orderOn(latest: MessageRow[], version: number) {
  const given: string[] = []
  const describe = (event: RealtimeEvent) => (event.kind === 'message' ? `${event.change ? `${event.change.type}` : 'created'} ${event.message.id} v${event.message.version}` : event.kind)
  const order = new RoomOrder(2, storeOf(latest, version), (event) => given.push(describe(event)), createLogger('silent'))
  return { order, given, settled: () => Bun.sleep(20) }
}

describe('RoomOrder filling a gap', () => {
  it('should send a change whole when the version before it was superseded, not as a delta on a form never sent', async () => {
    // v74 (a reaction taken back) was lost; v75 (another reaction) arrives as a delta.
    const latest = messageRow({ id: 5, createdVersion: 3, version: 75, reactions: [{ emoji: '🎉', count: 1, userIds: ['u05'] }] })
    const { order, given, settled } = orderOn([latest], 75)
    order.start(73)
    order.accept(messageEvent(latest, { type: 'reaction', emoji: '🔥', userId: 'u13', added: false }))
    await settled()
    expect(given).toEqual(['edited 5 v75'])
  })

  it("should send a message created in the gap as a creation, in its latest form at its creation's version, then its change", async () => {
    // Message 4539 created at v903 (lost) and edited at v904 (arrives).
    const latest = messageRow({ id: 4539, createdVersion: 903, version: 904, body: 'edited', editedAt: 1 })
    const { order, given, settled } = orderOn([latest], 904)
    order.start(902)
    order.accept(messageEvent(latest, { type: 'edited' }))
    await settled()
    // Its creation in its latest form at its creation's place, then the edit (no news, but in order).
    expect(given).toEqual(['created 4539 v903', 'edited 4539 v904'])
  })

  it('should send new messages of a gap in id order, though one was changed after', async () => {
    // 14 created at v4 then reacted to at v6, 17 created at v5; v4 and v5 lost, v6 arrives.
    const fourteen = messageRow({ id: 14, createdVersion: 4, version: 6, reactions: [{ emoji: '👍', count: 1, userIds: ['u'] }] })
    const seventeen = messageRow({ id: 17, createdVersion: 5, version: 5 })
    const { order, given, settled } = orderOn([fourteen, seventeen], 6)
    order.start(3)
    order.accept(messageEvent(fourteen, { type: 'reaction', emoji: '👍', userId: 'u', added: true }))
    await settled()
    // Versions go on ascending: 14's creation (already in its reacted form), 17, then 14's change whole.
    expect(given).toEqual(['created 14 v4', 'created 17 v5', 'edited 14 v6'])
    // A later change of 14 is news again.
    order.accept(messageEvent(messageRow({ id: 14, createdVersion: 4, version: 7, body: 'edited' }), { type: 'edited' }))
    await settled()
    expect(given.at(-1)).toBe('edited 14 v7')
  })

  it('should send deltas again once past the versions a read may have superseded', async () => {
    const five = messageRow({ id: 5, createdVersion: 3, version: 75 })
    const { order, given, settled } = orderOn([five], 75)
    order.start(73)
    order.accept(messageEvent(five, { type: 'reaction', emoji: '🔥', userId: 'u13', added: false }))
    await settled()
    order.accept(messageEvent(messageRow({ id: 5, createdVersion: 3, version: 76 }), { type: 'reaction', emoji: '🔥', userId: 'u13', added: true }))
    await settled()
    expect(given).toEqual(['edited 5 v75', 'reaction 5 v76'])
  })
})
