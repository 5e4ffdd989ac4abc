import { messageRow, testLinks } from '../../../test/support/message-rows.ts'
import { afterEach, describe, expect, it } from 'bun:test'
import { fakeSession, Topics } from '../../../test/support/fake-sockets.ts'
import { loadConfig } from '../../config.ts'
import { createLogger } from '../../logger.ts'
import { createMetrics } from '../../metrics.ts'
import { CloseCode } from '../../realtime/codec.ts'
import { messageEvent } from '../../realtime/events.ts'
import { createRealtime } from '../../realtime/index.ts'
import { SqliteStore } from '../../store/sqlite-store.ts'
import type { RoomRow } from '../../store/store.ts'
import { MessageService } from '../messages/service.ts'
import { ReadService } from '../reads/service.ts'
import type { RoomAccess } from '../rooms/access.ts'
import { Files } from '../uploads/files.ts'
import { ChatService } from './service.ts'

const logger = createLogger('silent')
const stores: SqliteStore[] = []
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close()
})

/**
 * A chat service over a real store and the real realtime parts, with fake sockets, and a room
 * rule whose membership answer the test gives when it likes (the moment a re-check resolves is
 * what is under test).
 */
async function setUp() {
  const config = loadConfig({ LOG_LEVEL: 'silent', DATABASE_PATH: ':memory:' })
  const store = SqliteStore.open(':memory:')
  stores.push(store)
  const metrics = createMetrics()
  const realtime = createRealtime({ config, store, metrics, logger, links: Files.open(config).links })
  const topics = new Topics()
  realtime.hub.attach(topics.server())
  const room = await store.membership.createPrivateRoom({ name: 'team', postId: null, ownerId: 'owner', members: ['member'], addedBy: 'owner' })
  if (room === 'blocked') throw new Error('unexpected block')
  const answers: ((member: boolean) => void)[] = []
  const access = {
    room: async () => room,
    knownOpen: () => false,
    blocked: async () => false,
    // Whether the member may still use the room, answered by the test (true: a member, false: removed).
    standing: () => new Promise<'ok' | 'removed'>((resolve) => answers.push((member) => resolve(member ? 'ok' : 'removed'))),
  } as unknown as RoomAccess
  const messages = new MessageService(store, access, realtime.broker, metrics)
  const reads = new ReadService(store, access, realtime.broker)
  const chat = new ChatService({
    config,
    hub: realtime.hub,
    broker: realtime.broker,
    watches: realtime.watches,
    presence: realtime.tracker,
    replays: realtime.replays,
    messages,
    access,
    reads,
    limiter: realtime.limiter,
    closer: realtime.closer,
    metrics,
    logger,
    links: testLinks,
  })
  const open = () => {
    const session = fakeSession(topics, room.id, 'member')
    chat.open(session, { identity: session.identity, room, membersOnly: true, blocked: false, since: null, epoch: 'e', reset: false })
    return session
  }
  const message = (id: number, body: string) => realtime.broker.publish(messageEvent(messageRow({ id, roomId: room.id, userId: 'owner', email: 'o@example.com', nickname: 'O', body, createdAt: Date.now(), seq: id })))
  return { room: room as RoomRow, answers, open, message, chat }
}

const bodies = (frames: { type: string; message?: unknown }[]) => frames.filter((f) => f.type === 'chat.message').map((f) => f.message)

describe('a socket of a members-only room', () => {
  it('should hear nothing of the room until its membership is checked again, then what came meanwhile, in order', async () => {
    const { answers, open, message } = await setUp()
    const session = open()
    await Bun.sleep(0)
    expect(answers).toHaveLength(1)
    message(1, 'before the check')
    expect(bodies(session.socket.frames())).toEqual([])
    answers[0]!(true)
    await Bun.sleep(0)
    message(2, 'after the check')
    expect(bodies(session.socket.frames())).toEqual(['before the check', 'after the check'])
  })

  it('should hear nothing at all when the re-check finds it removed, and close with 4403', async () => {
    const { answers, open, message } = await setUp()
    const session = open()
    await Bun.sleep(0)
    message(1, 'members only')
    answers[0]!(false)
    await Bun.sleep(0)
    message(2, 'still members only')
    expect(bodies(session.socket.frames())).toEqual([])
    expect(session.socket.closedWith).toEqual({ code: CloseCode.removed, reason: 'removed' })
  })

  it('should handle no frame once it is closing', async () => {
    const { answers, open, chat } = await setUp()
    const session = open()
    await Bun.sleep(0)
    answers[0]!(true)
    await Bun.sleep(0)
    session.closing = true
    chat.rawFrame(session, JSON.stringify({ type: 'nonsense' }))
    chat.frame(session, { type: 'chat.typing' })
    // Not even a refusal: a closing socket is answered by nothing but its close.
    expect(session.socket.frames()).toEqual([])
    expect(answers).toHaveLength(1)
  })
})
