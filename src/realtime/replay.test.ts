import { describe, expect, it } from 'bun:test'
import { createLogger } from '../logger.ts'
import { createMetrics } from '../metrics.ts'
import type { Changes, MessageRow, Recovery } from '../store/store.ts'
import { messageRow, testLinks } from '../../test/support/message-rows.ts'
import { fakeSession, Topics } from '../../test/support/fake-sockets.ts'
import { Closer } from './closing.ts'
import { messageEvent } from './events.ts'
import { Hub } from './hub.ts'
import { Replays } from './replay.ts'
import { SlowConsumers } from './slow-consumers.ts'
import type { Session } from './session.ts'

const logger = createLogger('silent')
const row = (id: number, seq?: number): MessageRow => messageRow({ id, ...(seq === undefined ? {} : { seq }) })

/** A replay over a recovery (or changes) the test gives, and a broker whose live delivery the test lets pass. */
function setup(recovery: Recovery | Error, changes?: Changes) {
  const metrics = createMetrics()
  const topics = new Topics()
  const closer = new Closer(metrics, logger)
  const slow = new SlowConsumers(1 << 20, closer, metrics, logger)
  const hub = new Hub(metrics, slow, closer, testLinks)
  hub.attach(topics.server())
  const waited: number[] = []
  const delivered = Promise.withResolvers<void>()
  // What the replay asked, in order: its reads, and (in a test's admission) whether the user may still use the room.
  const asked: string[] = []
  const store = {
    recover: async () => {
      asked.push('read')
      return recovery instanceof Error ? Promise.reject(recovery) : recovery
    },
    changesAfter: async () => changes ?? Promise.reject(new Error('no changes given')),
  }
  const broker = {
    whenDelivered: (_room: number, version: number) => {
      waited.push(version)
      return delivered.promise
    },
  }
  return { hub, topics, waited, asked, deliveredUpTo: () => delivered.resolve(), replays: new Replays(store, broker, hub, slow, 500, logger, testLinks) }
}
/** The socket's user may still use the room. */
const admitted = async () => true
const shape = (frames: { type: string; id?: unknown; count?: unknown }[]) => frames.map((f) => (f.type === 'chat.message' ? f.id : f.type === 'chat.recovered' ? `recovered ${f.count}` : f.type))

describe('Replays', () => {
  it('should send what was missed, then chat.recovered, then what came meanwhile, without doubles', async () => {
    const { hub, topics, replays, waited, deliveredUpTo } = setup({ messages: [row(11, 1), row(12, 2)], truncated: false, version: 3 })
    const s = fakeSession(topics, 1, 'late')
    hub.add(s)
    replays.begin(s)
    // Live while the replay reads: 12 (which the replay also read) and 13 (which it did not).
    hub.deliver(messageEvent(row(12, 2)))
    hub.deliver(messageEvent(row(13, 3)))
    const done = replays.run(s, { id: 10 }, 'epoch-1', () => {}, admitted)
    await Bun.sleep(5)
    // It waits for this instance to have delivered the room up to what was committed (version 3).
    expect(waited).toEqual([3])
    expect(shape(s.socket.frames())).toEqual([11, 12, 'recovered 2'])
    deliveredUpTo()
    await done
    expect(shape(s.socket.frames())).toEqual([11, 12, 'recovered 2', 13])
    hub.deliver(messageEvent(row(14, 4)))
    expect(shape(s.socket.frames()).at(-1)).toBe(14)
  })

  it('should wait for what was committed even when nothing was missed', async () => {
    const { hub, topics, replays, waited, deliveredUpTo } = setup({ messages: [], truncated: false, version: 7 })
    const s = fakeSession(topics, 1, 'moved')
    hub.add(s)
    replays.begin(s)
    const done = replays.run(s, { id: 40 }, 'e', () => {}, admitted)
    await Bun.sleep(5)
    expect(waited).toEqual([7])
    // The message the client had (40) arrives here late: the backlog drops it.
    hub.deliver(messageEvent(row(40, 7)))
    deliveredUpTo()
    await done
    expect(shape(s.socket.frames())).toEqual(['recovered 0'])
  })

  it('should send nothing it read when the user may no longer use the room, asked after the read', async () => {
    const { hub, topics, replays, waited, asked } = setup({ messages: [row(11, 1), row(12, 2)], truncated: false, version: 3 })
    const s = fakeSession(topics, 1, 'removed-meanwhile')
    hub.add(s)
    replays.begin(s)
    // A removal committed before the read shows in the read (12 was stored after it) and in a check made after it.
    await replays.run(
      s,
      { id: 10 },
      'e',
      () => {},
      async () => {
        asked.push('admitted?')
        return false
      },
    )
    expect(asked).toEqual(['read', 'admitted?'])
    expect(s.socket.frames()).toEqual([])
    expect(waited).toEqual([])
  })

  it('should report a failed read and still make the socket live', async () => {
    const { hub, topics, replays } = setup(new Error('database is away'))
    const s = fakeSession(topics, 1, 'unlucky')
    hub.add(s)
    replays.begin(s)
    const failed: Session[] = []
    await replays.run(s, { id: 5 }, 'e', (session) => failed.push(session), admitted)
    expect(failed).toEqual([s])
    hub.deliver(messageEvent(row(6)))
    expect(shape(s.socket.frames())).toEqual([6])
  })

  it('should replay each changed message once in its latest form after since_version=, then only newer changes', async () => {
    // The client had version 5 (messages 1–5). Since then: 3 edited (v6), 6 sent (v7), 2 unsent (v8), 3 reacted to (v9).
    const edited = messageRow({ id: 3, version: 9, createdVersion: 3, body: 'fixed', editedAt: 1, reactions: [{ emoji: '👍', count: 1, userIds: ['v'] }] })
    const sent = messageRow({ id: 6, version: 7, createdVersion: 7 })
    const unsent = messageRow({ id: 2, version: 8, createdVersion: 2, body: '', deleted: true })
    const { hub, topics, replays, waited, deliveredUpTo } = setup(new Error('since= not used'), { messages: [sent, unsent, edited], room: null, truncated: false, version: 9 })
    const s = fakeSession(topics, 1, 'back')
    hub.add(s)
    replays.begin(s)
    // Live meanwhile: the reaction (v9, which the replay read too) and a new message (v10).
    hub.deliver(messageEvent(edited, { type: 'reaction', emoji: '👍', userId: 'v', added: true }))
    hub.deliver(messageEvent(messageRow({ id: 7, version: 10 })))
    const done = replays.run(s, { version: 5 }, 'e', () => {}, admitted)
    await Bun.sleep(5)
    expect(waited).toEqual([9])
    deliveredUpTo()
    await done
    const frames = s.socket.frames() as { type: string; id?: number; message?: { id: number; message: string }; version?: number }[]
    expect(frames.map((f) => `${f.type} ${f.id ?? f.message?.id ?? ''} ${f.version ?? ''}`.trim())).toEqual([
      'chat.message 6 7',
      'chat.message.deleted 2 8',
      'chat.message.updated 3 9',
      'chat.recovered  9',
      'chat.message 7 10',
    ])
    expect(frames[2]!.message!.message).toBe('fixed')
  })
})
