import type { ServerWebSocket } from 'bun'
import type { Identity } from '../identity.ts'
import type { SocketLimits } from './rate-limits.ts'

/**
 * What every socket the server holds has, room socket or user stream: who it is, and what closing
 * (closing.ts) and the slow-consumer check (slow-consumers.ts) keep about it.
 */
export interface Connection {
  readonly identity: Identity
  readonly socket: ServerWebSocket<unknown>
  /** The pub/sub topic it hears live events on, if any (unsubscribed first when it closes). */
  readonly topic: string | null
  /** True once the server has begun closing it (closing.ts). */
  closing: boolean
}

/**
 * A live frame waiting for a replay to end: for a message's creation or change, its id, the room's
 * version it made and whether it created the message (what the replay may have sent already).
 */
export interface Waiting {
  frame: string
  change: { id: number; version: number; created: boolean } | null
}

/**
 * One open chat socket in a room: who, where, and what the realtime parts keep about it, its
 * message rate limit among them (rate-limits.ts), all in this one record.
 */
export interface Session extends Connection, SocketLimits {
  /** Its number among this process's sessions: `sessionId` makes the id events name it by. */
  readonly seq: number
  readonly roomId: number
  readonly topic: string
  /** When it last had a typing notice relayed. */
  lastTypingAt: number
  /** In a direct room: true while one of the pair has blocked the other (sends are refused). */
  blocked: boolean
  /** Until when (ms) a write of this socket's user was refused as muted: their typing is not relayed meanwhile. */
  mutedUntil: number
}

/**
 * One open user stream socket (`WS /ws/chat/inbox/`): it hears its user's topic; `host` is the
 * server its client reached, which the room summaries it is sent name.
 */
export interface StreamSocket extends Connection {
  readonly topic: string
  readonly host: string
}

/** Session ids are this process's random prefix and the session's number: unique across instances, and short. */
const PREFIX = `${crypto.randomUUID().slice(0, 8)}.`
let opened = 0

/**
 * A new session for a socket that just opened; `topic` is the room's (see `Hub.topicOf`). Its
 * prototype is `prototype`: a route whose socket keeps the session as its data gives the socket's
 * callbacks, found there by Bun's (modules/chat/fast-path.ts), so the socket needs no data object
 * besides the session.
 */
export function openSession(socket: ServerWebSocket<unknown>, identity: Identity, roomId: number, topic: string, blocked = false, prototype: object = Object.prototype): Session {
  // The rate limit's fields start at zero: a full bucket, no refusals (rate-limits.ts). A prototype
  // given in the literal keeps the fields inline: 112 B, as without.
  const session = { __proto__: prototype, seq: ++opened, identity, roomId, topic, socket, bucketFullAt: 0, refusals: 0, windowStart: 0, lastTypingAt: 0, closing: false, blocked, mutedUntil: 0 }
  return session
}

/**
 * The id an event names a session by (the one it skips): unique across instances. Made when an
 * event needs it rather than kept as a string with every session.
 */
export const sessionId = (session: Session) => `${PREFIX}${session.seq.toString(36)}`

/** The number of the session of this process that the id names; -1 for an id of another process. */
export const localSessionSeq = (id: string) => (id.startsWith(PREFIX) ? Number.parseInt(id.slice(PREFIX.length), 36) : -1)

/** The pub/sub topic of a room's sockets on this instance. */
export const roomTopic = (roomId: number) => `room:${roomId}`

/** The pub/sub topic of a user's stream sockets on this instance. */
export const userTopic = (userId: string) => `inbox:${userId}`
