import { messageRow } from '../../test/support/message-rows.ts'
import { describe, expect, it } from 'bun:test'
import type { WebhookEventRow } from '../store/outbox.ts'
import type { Presence } from '../realtime/presence.ts'
import type { MessageRow, Store } from '../store/store.ts'
import { RoomNow, roomQueue, type Outgoing } from './room-queue.ts'

const NOW = 1_000_000
const event = (id: number, position: number, nextAttemptAt = NOW): WebhookEventRow => ({
  id,
  key: 'room:1',
  type: 'member.added',
  data: '{}',
  createdAt: NOW,
  status: 'pending',
  attempts: 0,
  nextAttemptAt,
  lastError: null,
  finishedAt: null,
  position,
})
const message = (id: number): MessageRow => messageRow({ id, email: 'e', nickname: 'n', body: 'b', createdAt: NOW, seq: id })
const names = (queue: Outgoing[]) => queue.map((item) => (item.kind === 'event' ? `e${item.event.id}` : `m${item.message.id}`))

describe('roomQueue', () => {
  it('should send an event after the message it was written behind and before any later one', () => {
    expect(names(roomQueue([event(1, 0), event(2, 11), event(3, 12)], [message(11), message(12), message(13)], false, NOW))).toEqual(['e1', 'm11', 'e2', 'm12', 'e3', 'm13'])
  })

  it('should stop the room at an event that waits for its retry', () => {
    expect(names(roomQueue([event(1, 11, NOW + 1)], [message(11), message(12)], false, NOW))).toEqual(['m11'])
    expect(names(roomQueue([event(1, 10, NOW + 1), event(2, 12)], [message(11)], false, NOW))).toEqual([])
  })

  it('should keep events behind messages not read yet when more were stored than read', () => {
    expect(names(roomQueue([event(1, 11), event(2, 40)], [message(11), message(12)], true, NOW))).toEqual(['m11', 'e1', 'm12'])
    expect(names(roomQueue([event(1, 40)], [message(11)], false, NOW))).toEqual(['m11', 'e1'])
  })
})

describe('RoomNow', () => {
  // The room's people as the store and presence would read them: a, b, c joined at 100, d at 500;
  // b has a socket in the room; c blocked the sender s.
  const roster = ['s', 'a', 'b', 'c'].map((userId) => ({ userId, joinedAt: 100 })).concat({ userId: 'd', joinedAt: 500 })
  const reads = { roster: 0 }
  const store = {
    membership: {
      roster: async () => (reads.roster++, roster),
      blockersIn: async (_room: number, sender: string) => new Set(sender === 's' ? ['c'] : []),
      blockersOf: async () => new Map(),
    },
  } as unknown as Store
  const presence = { online: async () => [{ user_id: 'b' }] } as unknown as Presence
  const sent = (id: number, createdAt: number, userId = 's') => messageRow({ id, email: 'e', nickname: 'n', body: 'b', createdAt, seq: id, userId })

  it('should name those offline when each message was sent, but its sender, those online and those who blocked the sender', async () => {
    const room = new RoomNow(store, presence, 10)
    expect(await room.offline(sent(1, 200))).toEqual(['a'])
    // d joined at 500: a later message reaches them too, an earlier one still does not.
    expect(await room.offline(sent(2, 600))).toEqual(['a', 'd'])
    expect(await room.offline(sent(3, 300))).toEqual(['a'])
    expect(await room.offline(sent(4, 700, 'a'))).toEqual(['s', 'c', 'd'])
    expect(reads.roster).toBe(1)
    expect(await new RoomNow(store, presence, 2).offline(sent(5, 700, 'b'))).toEqual(['s', 'a'])
  })

  it('should read who blocked the senders only when someone is offline to be reached, once for all of them', async () => {
    const counted = (members: string[], online: string[]) => {
      const reads = { blockersOf: 0, blockersIn: 0 }
      const store = {
        membership: {
          roster: async () => members.map((userId) => ({ userId, joinedAt: 100 })),
          blockersIn: async () => (reads.blockersIn++, new Set<string>()),
          blockersOf: async (_room: number, senders: string[]) => (reads.blockersOf++, new Map([[senders[0]!, new Set(['c'])]])),
        },
      } as unknown as Store
      const presence = { online: async () => online.map((user_id) => ({ user_id })) } as unknown as Presence
      return { store, presence, reads }
    }
    const messages = [sent(1, 200, 's'), sent(2, 200, 'a'), sent(3, 200, 's')]
    // An open room (no roster) and a room whose members all have a socket in it: nobody to reach, nothing read.
    for (const [members, online] of [
      [[], []],
      [
        ['s', 'a', 'c'],
        ['s', 'a', 'c'],
      ],
    ] as const) {
      const { store, presence, reads } = counted([...members], [...online])
      const room = new RoomNow(store, presence, 10, messages)
      for (const m of messages) expect(await room.offline(m)).toEqual([])
      expect(reads).toEqual({ blockersOf: 0, blockersIn: 0 })
    }
    // c is offline and blocked s: one read for both senders, and s's messages do not reach c.
    const { store, presence, reads } = counted(['s', 'a', 'c'], ['s', 'a'])
    const room = new RoomNow(store, presence, 10, messages)
    expect(await Promise.all(messages.map((m) => room.offline(m)))).toEqual([[], ['c'], []])
    expect(reads).toEqual({ blockersOf: 1, blockersIn: 0 })
  })
})
