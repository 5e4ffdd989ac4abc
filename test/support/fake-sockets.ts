import type { Server, ServerWebSocket } from 'bun'
import type { Identity } from '../../src/identity.ts'
import { openSession, roomTopic, type Session } from '../../src/realtime/session.ts'

// Stand-ins for Bun's sockets and server publish, for unit tests of the realtime parts (what they
// decide); the end-to-end tests run real sockets.

/** Topic subscriptions, as Bun's server keeps them. */
export class Topics {
  private readonly subscribers = new Map<string, Set<FakeSocket>>()

  /** What `server.publish` does: every subscriber gets the frame. */
  publish(topic: string, frame: string, except?: FakeSocket): void {
    for (const socket of this.subscribers.get(topic) ?? []) if (socket !== except) socket.received.push(frame)
  }

  /** @internal */
  set(topic: string, socket: FakeSocket, on: boolean) {
    let set = this.subscribers.get(topic)
    if (!set) this.subscribers.set(topic, (set = new Set()))
    if (on) set.add(socket)
    else set.delete(socket)
  }

  /** A server whose publish reaches these topics. */
  server(): Server<unknown> {
    return { publish: (topic: string, frame: string) => this.publish(topic, frame) } as unknown as Server<unknown>
  }
}

/** A socket that records what it was sent and how it was closed. */
export class FakeSocket {
  readonly received: string[] = []
  readyState = 1
  /** Bytes queued and unsent, as the test sets them. */
  buffered = 0
  closedWith: { code: number; reason: string } | null = null
  terminated = false
  private readonly topics = new Set<string>()

  constructor(private readonly all: Topics) {}

  send(frame: string) {
    this.received.push(frame)
    return frame.length
  }
  subscribe(topic: string) {
    this.topics.add(topic)
    this.all.set(topic, this, true)
  }
  unsubscribe(topic: string) {
    this.topics.delete(topic)
    this.all.set(topic, this, false)
  }
  isSubscribed(topic: string) {
    return this.topics.has(topic)
  }
  /** A socket's own publish: every subscriber but itself. */
  publish(topic: string, frame: string) {
    this.all.publish(topic, frame, this)
    return frame.length
  }
  getBufferedAmount() {
    return this.buffered
  }
  close(code: number, reason: string) {
    this.closedWith = { code, reason }
    this.readyState = 3
  }
  terminate() {
    this.terminated = true
    this.readyState = 3
  }
  /** The frames received, parsed. */
  frames(): { type: string; [key: string]: unknown }[] {
    return this.received.map((f) => JSON.parse(f))
  }
}

/** A session on a fake socket. */
export function fakeSession(topics: Topics, roomId: number, user: string): Session & { socket: FakeSocket & ServerWebSocket<unknown> } {
  const identity: Identity = { userId: user, nickname: user.toUpperCase(), email: `${user}@example.com`, profileUrl: null }
  const socket = new FakeSocket(topics) as unknown as FakeSocket & ServerWebSocket<unknown>
  return openSession(socket, identity, roomId, roomTopic(roomId)) as Session & { socket: FakeSocket & ServerWebSocket<unknown> }
}
