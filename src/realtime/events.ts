import type { MessageRow } from '../store/store.ts'
import { encodeTypingFrame } from './codec.ts'

/**
 * What happens in a room, on its way to the room's sockets on every instance. Every kind takes the
 * same path: a service produces it, the broker carries it (and orders messages), the hub delivers
 * it. Adding a kind of event: see ARCHITECTURE.md.
 */
export type RoomEvent = MessageEvent | SignalEvent

/** A committed message. Brokers order messages by `seq`; replays skip them by `id`. */
export interface MessageEvent {
  kind: 'message'
  room: number
  message: MessageRow
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
}

/** Where a broker hands the events of the rooms this instance has sockets in (the hub). */
export type EventSink = (event: RoomEvent) => void

export const messageEvent = (message: MessageRow): MessageEvent => ({ kind: 'message', room: message.roomId, message })

export const signalEvent = (room: number, frame: string, except?: string): SignalEvent => (except === undefined ? { kind: 'signal', room, frame } : { kind: 'signal', room, frame, except })

/** Someone is typing: to the room's other sockets. */
export const typingEvent = (room: number, userId: string, nickname: string, session: string) => signalEvent(room, encodeTypingFrame(userId, nickname), session)
