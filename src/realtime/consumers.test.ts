import { messageRow } from '../../test/support/message-rows.ts'
import { describe, expect, it } from 'bun:test'
import type { MessageRow } from '../store/store.ts'
import { createLogger } from '../logger.ts'
import { EventConsumers } from './consumers.ts'
import { messageEvent, signalEvent, userEvent, type RealtimeEvent } from './events.ts'

const row = (id: number, roomId: number): MessageRow => messageRow({ id, roomId })
const quiet = createLogger('silent')

describe('EventConsumers', () => {
  it('should give room events to the room sockets and every event to the user streams, in order', () => {
    const consumers = new EventConsumers(quiet)
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
    const consumers = new EventConsumers(quiet)
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
    const consumers = new EventConsumers(quiet)
    expect(() => consumers.committed(row(1, 1))).not.toThrow()
    expect(() => consumers.nudged([1])).not.toThrow()
    expect(() => consumers.written([1])).not.toThrow()
    const webhooks = { committed() {}, written() {}, nudged() {} }
    consumers.connectWebhooks(webhooks)
    expect(() => consumers.connectWebhooks(webhooks)).toThrow('webhooks')
  })

  it('should keep a consumer that throws from the others and from whoever told it, and log it by name', () => {
    const lines: Record<string, unknown>[] = []
    const consumers = new EventConsumers(createLogger('error', (line) => lines.push(JSON.parse(line))))
    const streams: RealtimeEvent[] = []
    consumers.connectRoomSockets({
      deliver: () => {
        throw new Error('a socket broke')
      },
    })
    consumers.connectUserStreams({ deliver: (event) => streams.push(event) })
    const broken = () => {
      throw new Error('the dispatcher broke')
    }
    consumers.connectWebhooks({ committed: broken, written: broken, nudged: broken })
    const event = messageEvent(row(1, 7))
    // The broker, the message service and the store (after a commit) are never thrown at.
    expect(() => consumers.delivered(event)).not.toThrow()
    expect(() => consumers.committed(row(2, 7))).not.toThrow()
    expect(() => consumers.written([7])).not.toThrow()
    expect(() => consumers.nudged([7])).not.toThrow()
    expect(streams).toEqual([event])
    expect(lines.map((l) => [l.level, l.consumer, (l.err as { message: string }).message])).toEqual([
      ['error', 'room sockets', 'a socket broke'],
      ['error', 'webhooks', 'the dispatcher broke'],
      ['error', 'webhooks', 'the dispatcher broke'],
      ['error', 'webhooks', 'the dispatcher broke'],
    ])
  })
})
