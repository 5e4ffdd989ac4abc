import { messageRow } from '../../test/support/message-rows.ts'
import { describe, expect, it } from 'bun:test'
import type { WebhookEventRow } from '../store/outbox.ts'
import type { MessageRow } from '../store/store.ts'
import { roomQueue, type Outgoing } from './room-queue.ts'

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
