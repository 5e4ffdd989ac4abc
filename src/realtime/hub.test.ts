import { describe, expect, it } from 'bun:test'
import { createLogger } from '../logger.ts'
import { createMetrics } from '../metrics.ts'
import { fakeSession, Topics } from '../../test/support/fake-sockets.ts'
import { Closer } from './closing.ts'
import { blockedEvent, evictEvent, messageEvent, signalEvent } from './events.ts'
import { Hub } from './hub.ts'
import { presenceSignal } from './presence.ts'
import { SlowConsumers } from './slow-consumers.ts'
import type { MessageRow } from '../store/store.ts'

const logger = createLogger('silent')
function makeHub() {
  const metrics = createMetrics()
  const closer = new Closer(metrics, logger)
  const slow = new SlowConsumers(1 << 20, closer, metrics, logger)
  const topics = new Topics()
  const hub = new Hub(metrics, slow, closer)
  hub.attach(topics.server())
  return { hub, topics }
}
const row = (id: number, roomId = 1): MessageRow => ({ id, roomId, userId: 'u', email: 'u@example.com', nickname: 'U', profileUrl: null, body: `m${id}`, clientMsgId: null, createdAt: 0 })
const ids = (frames: { type: string; id?: unknown }[]) => frames.filter((f) => f.type === 'chat.message').map((f) => f.id)

describe('Hub', () => {
  it('should count sockets per room and user, and forget each socket once', () => {
    const { hub, topics } = makeHub()
    const [a1, a2, b] = [fakeSession(topics, 1, 'a'), fakeSession(topics, 1, 'a'), fakeSession(topics, 2, 'b')]
    for (const s of [a1, a2, b]) hub.add(s)
    expect([hub.socketsInRoom(1), hub.socketsInRoom(2), hub.socketsOfUser('a')]).toEqual([2, 1, 2])
    expect(hub.remove(a1)).toBe(true)
    expect(hub.socketsInRoom(1)).toBe(1)
    expect(hub.remove(a2)).toBe(true)
    expect(hub.socketsInRoom(1)).toBe(0)
    expect(hub.remove(a2)).toBe(false)
    expect([hub.socketsInRoom(1), hub.socketsOfUser('a'), hub.all().length]).toEqual([0, 0, 1])
  })

  it("should deliver a room's events to its live sockets only, and skip the one an event names", () => {
    const { hub, topics } = makeHub()
    const [a, b, other] = [fakeSession(topics, 1, 'a'), fakeSession(topics, 1, 'b'), fakeSession(topics, 2, 'c')]
    for (const s of [a, b, other]) {
      hub.add(s)
      hub.subscribe(s)
    }
    hub.deliver(messageEvent(row(1)))
    hub.deliver(signalEvent(1, '{"type":"chat.typing","user_id":"a","nickname":"A"}', a.id))
    expect(ids(a.socket.frames())).toEqual([1])
    expect(a.socket.frames().map((f) => f.type)).toEqual(['chat.message'])
    expect(b.socket.frames().map((f) => f.type)).toEqual(['chat.message', 'chat.typing'])
    expect(other.socket.received).toEqual([])
  })

  it("should close only the evicted user's sockets in that room with 4403, and mark a room's sockets blocked or not", () => {
    const { hub, topics } = makeHub()
    const [gone1, gone2, stays, elsewhere] = [fakeSession(topics, 1, 'gone'), fakeSession(topics, 1, 'gone'), fakeSession(topics, 1, 'stays'), fakeSession(topics, 2, 'gone')]
    for (const s of [gone1, gone2, stays, elsewhere]) {
      hub.add(s)
      hub.subscribe(s)
    }
    hub.deliver(evictEvent(1, 'gone'))
    expect([gone1, gone2].map((s) => s.socket.closedWith)).toEqual([
      { code: 4403, reason: 'removed' },
      { code: 4403, reason: 'removed' },
    ])
    expect([stays.socket.closedWith, elsewhere.socket.closedWith]).toEqual([null, null])
    hub.deliver(blockedEvent(1, true))
    expect([stays.blocked, elsewhere.blocked]).toEqual([true, false])
    hub.deliver(blockedEvent(1, false))
    expect(stays.blocked).toBe(false)
  })

  it("should give a user's join or leave to every socket of the room but that user's own, and the one it names", () => {
    const { hub, topics } = makeHub()
    const [own1, own2, joining, other, replaying] = [fakeSession(topics, 1, 'u'), fakeSession(topics, 1, 'u'), fakeSession(topics, 1, 'v'), fakeSession(topics, 1, 'w'), fakeSession(topics, 1, 'x')]
    for (const s of [own1, own2, joining, other]) {
      hub.add(s)
      hub.subscribe(s)
    }
    hub.add(replaying)
    hub.hold(replaying)
    hub.deliver(presenceSignal(1, '{"type":"chat.user.join","username":"U","user_id":"u"}', 'u'))
    hub.deliver(presenceSignal(1, '{"type":"chat.user.join","username":"V","user_id":"v"}', 'v', joining.id))
    hub.deliver(presenceSignal(1, '{"type":"chat.user.leave","username":"Z","user_id":"z"}', 'z'))
    const heard = (s: typeof own1) => s.socket.frames().map((f) => `${f.type.slice('chat.user.'.length)} ${f.user_id}`)
    expect([own1, own2].map(heard)).toEqual([
      ['join v', 'leave z'],
      ['join v', 'leave z'],
    ])
    expect(heard(joining)).toEqual(['join u', 'leave z'])
    expect(heard(other)).toEqual(['join u', 'join v', 'leave z'])
    hub.release(replaying, 0)
    expect(heard(replaying)).toEqual(['join u', 'join v', 'leave z'])
  })

  it("should hold a replaying socket's events and release them without what the replay sent", () => {
    const { hub, topics } = makeHub()
    const replaying = fakeSession(topics, 1, 'r')
    hub.add(replaying)
    hub.hold(replaying)
    for (const id of [3, 4, 5]) hub.deliver(messageEvent(row(id)))
    hub.deliver(signalEvent(1, '{"type":"chat.user.join","username":"X","user_id":"x"}'))
    expect(replaying.socket.received).toEqual([])
    // The replay sent messages up to 4.
    hub.release(replaying, 4)
    expect(replaying.socket.frames().map((f) => f.id ?? f.type)).toEqual([5, 'chat.user.join'])
    hub.deliver(messageEvent(row(6)))
    expect(ids(replaying.socket.frames())).toEqual([5, 6])
  })

  it('should not make live a socket closed while it was replaying', () => {
    const { hub, topics } = makeHub()
    const s = fakeSession(topics, 1, 'r')
    hub.add(s)
    hub.hold(s)
    s.backlog = null // what closing does
    hub.release(s, 0)
    expect(s.socket.isSubscribed('room:1')).toBe(false)
  })
})
