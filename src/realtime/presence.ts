import { encodePresenceFrame } from './codec.ts'
import { signalEvent, type SignalEvent } from './events.ts'

/** A user present in a room, as room detail lists them. */
export interface OnlineUserDto {
  user_id: string
  nickname: string
  profile_picture_url: string | null
}

/** What a join or leave did to the room. */
export interface PresenceChange {
  /** True when the user was nowhere in the room before (join) or is nowhere in it now (leave): announce it. */
  changed: boolean
  /**
   * The change's place among the room's presence changes, rising (0 when nothing changed). The
   * event carries it, so that a receiver can drop one older than what it has already seen.
   */
  version: number
}

/**
 * Who is in which room, across every instance that shares it. A change is announced to the room
 * by the presence that decided it (`chat.user.join` / `chat.user.leave`), so that the decision and
 * its announcement cannot part.
 */
export interface Presence {
  /**
   * A user's first socket in the room on this instance opened. When the user was nowhere in the
   * room before, the room hears the join, but for the socket `except` (the one that joined).
   */
  join(roomId: number, user: { userId: string; nickname: string; profileUrl: string | null }, except?: string): Promise<PresenceChange>
  /** A user's last socket in the room on this instance closed. When they are now nowhere in it, the room hears the leave. */
  leave(roomId: number, userId: string): Promise<PresenceChange>
  online(roomId: number): Promise<OnlineUserDto[]>
  /** Users online in each room (0 for rooms with nobody). */
  counts(roomIds: readonly number[]): Promise<number[]>
  close(): Promise<void>
}

/**
 * A join or leave on its way to a room's sockets, naming the user it is about: none of that user's
 * own sockets gets it (the hub skips them), be it a join re-announced after an outage or a leave
 * another instance's sweep decided while their instance could not reach Redis.
 */
export interface PresenceSignal extends SignalEvent {
  about: string
}

export const presenceSignal = (room: number, frame: string, about: string, except?: string): PresenceSignal => ({ ...signalEvent(room, frame, except), about })

/** Hands an announcement to the room: the frame, and the socket it skips. */
export type Announce = (roomId: number, frame: string, except?: string) => void

/** A user as presence is told of them. */
type PresentUser = Parameters<Presence['join']>[1]

/** Presence of one instance, in memory: the default. It announces through the in-process broker. */
export class MemoryPresence implements Presence {
  /** Per room, its users as `join` was given them (the caller's object, not a copy: the tracker hands over the socket's identity). */
  private readonly rooms = new Map<number, Map<string, PresentUser>>()
  private version = 0

  constructor(private readonly announce: Announce) {}

  async join(roomId: number, user: PresentUser, except?: string): Promise<PresenceChange> {
    let users = this.rooms.get(roomId)
    if (!users) this.rooms.set(roomId, (users = new Map()))
    const first = !users.has(user.userId)
    users.set(user.userId, user)
    if (first) this.announce(roomId, encodePresenceFrame('chat.user.join', user.userId, user.nickname), except)
    return this.change(first)
  }

  async leave(roomId: number, userId: string): Promise<PresenceChange> {
    const users = this.rooms.get(roomId)
    const user = users?.get(userId)
    users?.delete(userId)
    if (users?.size === 0) this.rooms.delete(roomId)
    if (user) this.announce(roomId, encodePresenceFrame('chat.user.leave', userId, user.nickname))
    return this.change(user !== undefined)
  }

  async online(roomId: number): Promise<OnlineUserDto[]> {
    return [...(this.rooms.get(roomId) ?? [])].map(([userId, u]) => ({ user_id: userId, nickname: u.nickname, profile_picture_url: u.profileUrl }))
  }

  async counts(roomIds: readonly number[]): Promise<number[]> {
    return roomIds.map((id) => this.rooms.get(id)?.size ?? 0)
  }

  async close(): Promise<void> {}

  private change(changed: boolean): PresenceChange {
    return { changed, version: changed ? ++this.version : 0 }
  }
}
