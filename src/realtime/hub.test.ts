import { messageRow, testLinks } from '../../test/support/message-rows.ts'
import { describe, expect, it } from 'bun:test'
import type { ServerWebSocket } from 'bun'
import { createLogger } from '../logger.ts'
import { createMetrics } from '../metrics.ts'
import { FakeSocket, fakeSession, Topics } from '../../test/support/fake-sockets.ts'
import { Closer } from './closing.ts'
import { blockedEvent, evictEvent, messageEvent, signalEvent } from './events.ts'
import { Hub } from './hub.ts'
import { presenceSignal } from './presence.ts'
import { sessionId, type StreamSocket, userTopic } from './session.ts'
import { SlowConsumers } from './slow-consumers.ts'
import type { MessageRow } from '../store/store.ts'

const logger = createLogger('silent')
function makeHub() {
  const metrics = createMetrics()
  const closer = new Closer(metrics, logger)
  const slow = new SlowConsumers(1 << 20, closer, metrics, logger)
  const topics = new Topics()
  const hub = new Hub(metrics, slow, closer, testLinks)
  hub.attach(topics.server())
  return { hub, topics, metrics }
}
/** A user stream socket on a fake socket. */
function fakeStream(topics: Topics, user: string): StreamSocket & { socket: FakeSocket & ServerWebSocket<unknown> } {
  const socket = new FakeSocket(topics) as unknown as FakeSocket & ServerWebSocket<unknown>
  const identity = { userId: user, nickname: user.toUpperCase(), email: `${user}@example.com`, profileUrl: null }
  return { identity, host: 'chat.example.com', socket, topic: userTopic(user), closing: false }
}
const openSockets = async (metrics: ReturnType<typeof createMetrics>) => (await metrics.openSockets.get()).values[0]?.value
const row = (id: number, roomId = 1): MessageRow => messageRow({ id, roomId })
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
    hub.deliver(signalEvent(1, '{"type":"chat.typing","user_id":"a","nickname":"A"}', sessionId(a)))
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
    hub.deliver(presenceSignal(1, '{"type":"chat.user.join","username":"V","user_id":"v"}', 'v', sessionId(joining)))
    hub.deliver(presenceSignal(1, '{"type":"chat.user.leave","username":"Z","user_id":"z"}', 'z'))
    const heard = (s: typeof own1) => s.socket.frames().map((f) => `${f.type.slice('chat.user.'.length)} ${f.user_id}`)
    expect([own1, own2].map(heard)).toEqual([
      ['join v', 'leave z'],
      ['join v', 'leave z'],
    ])
    expect(heard(joining)).toEqual(['join u', 'leave z'])
    expect(heard(other)).toEqual(['join u', 'join v', 'leave z'])
    hub.release(replaying)
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
    hub.release(replaying, (change) => change.created && change.id <= 4)
    expect(replaying.socket.frames().map((f) => f.id ?? f.type)).toEqual([5, 'chat.user.join'])
    hub.deliver(messageEvent(row(6)))
    expect(ids(replaying.socket.frames())).toEqual([5, 6])
  })

  it('should not make live a socket closed while it was replaying', () => {
    const { hub, topics } = makeHub()
    const s = fakeSession(topics, 1, 'r')
    hub.add(s)
    hub.hold(s)
    s.closing = true // what closing does
    hub.release(s)
    expect(s.socket.isSubscribed('room:1')).toBe(false)
  })
})

describe('Hub: user stream sockets', () => {
  it("should count a user's stream sockets with their room sockets, and tell the first and the last", async () => {
    const { hub, topics, metrics } = makeHub()
    const [s1, s2, other] = [fakeStream(topics, 'a'), fakeStream(topics, 'a'), fakeStream(topics, 'b')]
    hub.add(fakeSession(topics, 1, 'a'))
    expect([hub.openStream(s1), hub.openStream(s2), hub.openStream(other)]).toEqual([true, false, true])
    expect([hub.socketsOfUser('a'), hub.socketsOfUser('b'), hub.socketsInRoom(1), hub.all().length]).toEqual([3, 1, 1, 4])
    expect([...hub.streamsOf('a')]).toEqual([s1, s2])
    expect(await openSockets(metrics)).toBe(4)
    expect(hub.closeStream(s1)).toBe(false)
    expect(hub.closeStream(s1)).toBe(false)
    expect(hub.closeStream(s2)).toBe(true)
    expect([hub.socketsOfUser('a'), hub.streamsOf('a').size, await openSockets(metrics)]).toEqual([1, 0, 2])
  })

  it("should send a frame to the user's stream sockets only, and close only those", () => {
    const { hub, topics } = makeHub()
    const [s1, s2, other] = [fakeStream(topics, 'a'), fakeStream(topics, 'a'), fakeStream(topics, 'b')]
    const room = fakeSession(topics, 1, 'a')
    hub.add(room)
    hub.subscribe(room)
    for (const s of [s1, s2, other]) hub.openStream(s)
    hub.sendToStreams('a', '{"type":"inbox.ready"}')
    expect([s1, s2, other, room].map((s) => s.socket.received.length)).toEqual([1, 1, 0, 0])
    hub.closeStreams('a', 1013, 'reconnect')
    expect([s1, s2].map((s) => s.socket.closedWith)).toEqual([
      { code: 1013, reason: 'reconnect' },
      { code: 1013, reason: 'reconnect' },
    ])
    expect([other.socket.closedWith, room.socket.closedWith]).toEqual([null, null])
    expect(s1.socket.isSubscribed(userTopic('a'))).toBe(false)
  })

  it('should close a stream socket that cannot keep up with what it was sent', async () => {
    const { hub, topics } = makeHub()
    const [slow, fast] = [fakeStream(topics, 'a'), fakeStream(topics, 'a')]
    for (const s of [slow, fast]) hub.openStream(s)
    slow.socket.buffered = 9 << 20 // far over the limit: closed at once
    hub.sendToStreams('a', '{"type":"inbox.ready"}')
    await Promise.resolve()
    // Closing: its close frame waits behind the queue (closing.ts).
    expect([slow.closing, fast.closing]).toEqual([true, false])
    slow.socket.buffered = 0
  })

  it('should close every socket of both kinds at shutdown, and one that opens after', () => {
    const { hub, topics } = makeHub()
    const [room, stream] = [fakeSession(topics, 1, 'a'), fakeStream(topics, 'a')]
    hub.add(room)
    hub.openStream(stream)
    hub.closeAll(1001, 'server shutting down')
    expect([room.socket.closedWith, stream.socket.closedWith]).toEqual([
      { code: 1001, reason: 'server shutting down' },
      { code: 1001, reason: 'server shutting down' },
    ])
    const [lateRoom, lateStream] = [fakeSession(topics, 2, 'b'), fakeStream(topics, 'b')]
    hub.add(lateRoom)
    expect(hub.closeIfShutDown(lateRoom)).toBe(true)
    hub.openStream(lateStream)
    expect([lateRoom.socket.closedWith?.code, lateStream.socket.closedWith?.code]).toEqual([1001, 1001])
  })

  it('should close nothing that opens before shutdown', () => {
    const { hub, topics } = makeHub()
    const [room, stream] = [fakeSession(topics, 1, 'a'), fakeStream(topics, 'a')]
    hub.add(room)
    hub.openStream(stream)
    expect(hub.closeIfShutDown(room)).toBe(false)
    expect([room.socket.closedWith, stream.socket.closedWith, stream.closing]).toEqual([null, null, false])
  })
})
