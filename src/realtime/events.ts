import type { MadeChange } from '../store/messages.ts'
import type { MessageRow } from '../store/store.ts'
import type { RoomSummaryData } from '../store/room-updates.ts'
import { encodeMemberFrame, encodeReadFrame, encodeRoomUpdatedFrame, encodeTypingFrame } from './codec.ts'

/**
 * What happens in a room, on its way to the room's sockets on every instance. Every kind takes the
 * same path: a service produces it, the broker carries it (and orders messages), the hub delivers
 * it. Adding a kind of event: see ARCHITECTURE.md.
 */
export type RoomEvent = MessageEvent | SignalEvent | ControlEvent

/**
 * A committed change of a message: its creation (no `change`), or an edit, an unsend or a reaction
 * (`change`), with the message as that change left it. Every one has its room's `message.version`:
 * brokers deliver them in version order, replays skip those they sent.
 */
export interface MessageEvent {
  kind: 'message'
  room: number
  message: MessageRow
  change?: MadeChange
  /** What the contact guard found in it (CONTACT_GUARD=warn): the room's other sockets hear a `chat.notice` after it. */
  notice?: readonly string[]
}

/**
 * Anything else the room hears (typing, joins and leaves, read markers, member changes), already
 * encoded as the frame sockets get. `except` is the session that caused it and does not get it back.
 */
export interface SignalEvent {
  kind: 'signal'
  room: number
  frame: string
  except?: string
  /**
   * What the frame states the latest value of (a user's read marker, which only moves forward):
   * a broker may then say it again should it fail to carry it, unless a newer one went out meanwhile.
   */
  latest?: string
}

/**
 * What the room's sockets must change: `evict` closes that user's sockets in the room (4403,
 * removed from it); `blocked` says whether sends in a direct room are refused now; `frame` is a
 * change of the room itself, which they hear in the room's order.
 */
export interface ControlEvent {
  kind: 'control'
  room: number
  evict?: string
  /** The eviction is a ban: its sockets close with the reason `banned`. */
  banned?: boolean
  blocked?: boolean
  /** A frame every socket of the room hears in the room's order: the room itself changed (`chat.room.updated`). */
  frame?: string
  /**
   * The room's version the change made (a removal moves it): brokers deliver the event in the
   * room's version order, before whatever the room committed after it.
   */
  version?: number
}

/**
 * What one user's streams (`WS /ws/chat/inbox/`) must hear that no room carries: their own read
 * marker moved (with the unread count it left, exact for the messages up to `countedUpTo`), a room
 * they gained (made a member, or took part in an open room), a room they lost or hid.
 */
export type UserRoomChange =
  | { type: 'read'; room: number; lastReadId: number; unreadCount: number; countedUpTo: number }
  | { type: 'room'; room: number }
  | { type: 'removed'; room: number }
  /**
   * The user hid the room (나가기) through message `through`: out of their list and badge until a
   * newer message, which their streams still follow (one heard before this change brought it back already).
   */
  | { type: 'hidden'; room: number; through: number }

/** Everything a user's streams hear on their own channel: changes about a room, and their blocks (`user` blocked, or unblocked). */
export type UserChange = UserRoomChange | { type: 'block'; user: string; blocked: boolean }

/** A change for one user, to their streams on every instance. */
export interface UserEvent {
  kind: 'user'
  user: string
  change: UserChange
}

/** Everything a broker carries. */
export type RealtimeEvent = RoomEvent | UserEvent

/** Where a broker hands the events of the rooms and users this instance has sockets for (EventConsumers). */
export interface EventSink {
  delivered(event: RealtimeEvent): void
  /** Events wait in these webhook lanes (stored on some instance): the instance holding one looks at it now. */
  nudged(lanes: readonly number[]): void
}

export const messageEvent = (message: MessageRow, change?: MadeChange): MessageEvent => (change ? { kind: 'message', room: message.roomId, message, change } : { kind: 'message', room: message.roomId, message })

/** A message with what the contact guard found in it (see MessageEvent.notice). */
export const noticedEvent = (event: MessageEvent, notice: readonly string[] | null): MessageEvent => (notice === null || notice.length === 0 ? event : { ...event, notice })

export const signalEvent = (room: number, frame: string, except?: string): SignalEvent => (except === undefined ? { kind: 'signal', room, frame } : { kind: 'signal', room, frame, except })

/** A user's read marker moved: to every socket of the room. */
export const readEvent = (room: number, userId: string, lastReadId: number): SignalEvent => ({ kind: 'signal', room, frame: encodeReadFrame(userId, lastReadId), latest: `read:${userId}` })

/** Someone became a member of a private room. */
export const memberAddedEvent = (room: number, userId: string) => signalEvent(room, encodeMemberFrame('chat.member.added', userId))

/** Someone is no longer a member: the room hears it (their own sockets included, before they close). */
export const memberRemovedEvent = (room: number, userId: string) => signalEvent(room, encodeMemberFrame('chat.member.removed', userId))

/** A user was removed from the room, or banned from it (at the room's `version`): their sockets in it close. */
export function evictEvent(room: number, userId: string, version?: number, banned = false): ControlEvent {
  const event: ControlEvent = version === undefined ? { kind: 'control', room, evict: userId } : { kind: 'control', room, evict: userId, version }
  return banned ? { ...event, banned } : event
}

/** The room's name, data or status changed (at the room's `version`): its sockets hear it in its order. */
export const roomUpdatedEvent = (room: number, summary: RoomSummaryData, version: number): ControlEvent & { version: number } => ({ kind: 'control', room, frame: encodeRoomUpdatedFrame(summary, version), version })

/** The pair of a direct room blocked (or unblocked) each other: sends there are refused (or taken). */
export const blockedEvent = (room: number, blocked: boolean): ControlEvent => ({ kind: 'control', room, blocked })

/** Someone is typing: to the room's other sockets. */
export const typingEvent = (room: number, userId: string, nickname: string, session: string) => signalEvent(room, encodeTypingFrame(userId, nickname), session)

export const userEvent = (user: string, change: UserChange): UserEvent => ({ kind: 'user', user, change })
