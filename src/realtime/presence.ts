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

/** Where a join or leave event stands, for the broker (see `Broker.publishEvent`). */
export interface PresenceOrder {
  userId: string
  version: number
  /** True for a join, false for a leave. */
  present: boolean
}

/** Who is in which room, across every instance that shares it. */
export interface Presence {
  /** A user's first socket in the room on this instance opened. */
  join(roomId: number, user: { userId: string; nickname: string; profileUrl: string | null }): Promise<PresenceChange>
  /** A user's last socket in the room on this instance closed. */
  leave(roomId: number, userId: string): Promise<PresenceChange>
  online(roomId: number): Promise<OnlineUserDto[]>
  /** Users online in each room (0 for rooms with nobody). */
  counts(roomIds: readonly number[]): Promise<number[]>
  close(): Promise<void>
}

/** Presence of one instance, in memory: the default. */
export class MemoryPresence implements Presence {
  private readonly rooms = new Map<number, Map<string, { nickname: string; profileUrl: string | null }>>()
  private version = 0

  async join(roomId: number, user: { userId: string; nickname: string; profileUrl: string | null }): Promise<PresenceChange> {
    let users = this.rooms.get(roomId)
    if (!users) this.rooms.set(roomId, (users = new Map()))
    const first = !users.has(user.userId)
    users.set(user.userId, { nickname: user.nickname, profileUrl: user.profileUrl })
    return this.change(first)
  }

  async leave(roomId: number, userId: string): Promise<PresenceChange> {
    const users = this.rooms.get(roomId)
    const gone = users?.delete(userId) ?? false
    if (users?.size === 0) this.rooms.delete(roomId)
    return this.change(gone)
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
