import { messageRow } from '../../test/support/message-rows.ts'
import { describe, expect, it } from 'bun:test'
import type { MessageRow } from '../store/store.ts'
import { EventConsumers } from './consumers.ts'
import { messageEvent, signalEvent, userEvent, type RealtimeEvent } from './events.ts'

const row = (id: number, roomId: number): MessageRow => messageRow({ id, roomId })

describe('EventConsumers', () => {
  it('should give room events to the room sockets and every event to the user streams, in order', () => {
    const consumers = new EventConsumers()
    const sockets: RealtimeEvent[] = []
    const streams: RealtimeEvent[] = []
    consumers.connectRoomSockets({ deliver: (event) => sockets.push(event) })
    consumers.connectUserStreams({ deliver: (event) => streams.push(event) })
    const events = [messageEvent(row(1, 7)), userEvent('a', { type: 'room', room: 7 }), signalEvent(7, '{"type":"chat.typing"}')]
    for (const event of events) consumers.delivered(event)
    expect(sockets).toEqual([events[0]!, events[2]!])
    expect(streams).toEqual(events)
  })

  it('should tell the webhooks of each committed message, events written and each nudge, and never of a delivered message', () => {
    const consumers = new EventConsumers()
    const woken: string[] = []
    consumers.connectWebhooks({
      committed: (message) => woken.push(`room ${message.roomId}`),
      written: (lanes) => woken.push(`written ${lanes.join(',')}`),
      nudged: (lanes) => woken.push(`nudged ${lanes.join(',')}`),
    })
    consumers.delivered(messageEvent(row(1, 7)))
    expect(woken).toEqual([])
    consumers.committed(row(2, 9))
    consumers.written([12])
    consumers.nudged([3, 41])
    expect(woken).toEqual(['room 9', 'written 12', 'nudged 3,41'])
  })

  it('should consume nothing before a consumer is connected, and refuse a second one of a kind', () => {
    const consumers = new EventConsumers()
    expect(() => consumers.committed(row(1, 1))).not.toThrow()
    expect(() => consumers.nudged([1])).not.toThrow()
    expect(() => consumers.written([1])).not.toThrow()
    const webhooks = { committed() {}, written() {}, nudged() {} }
    consumers.connectWebhooks(webhooks)
    expect(() => consumers.connectWebhooks(webhooks)).toThrow('webhooks')
  })
})
