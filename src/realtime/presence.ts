/** A user present in a room, as room detail lists them. */
export interface OnlineUserDto {
  user_id: string
  nickname: string
  profile_picture_url: string | null
}

/** Who is in which room, across every instance that shares it. */
export interface Presence {
  /** A user's first socket in the room on this instance opened; true when they were nowhere in it before. */
  join(roomId: number, user: { userId: string; nickname: string; profileUrl: string | null }): Promise<boolean>
  /** A user's last socket in the room on this instance closed; true when they are now nowhere in it. */
  leave(roomId: number, userId: string): Promise<boolean>
  online(roomId: number): Promise<OnlineUserDto[]>
  /** Users online in each room (0 for rooms with nobody). */
  counts(roomIds: readonly number[]): Promise<number[]>
  close(): Promise<void>
}

/** Presence of one instance, in memory: the default. */
export class MemoryPresence implements Presence {
  private readonly rooms = new Map<number, Map<string, { nickname: string; profileUrl: string | null }>>()

  async join(roomId: number, user: { userId: string; nickname: string; profileUrl: string | null }): Promise<boolean> {
    let users = this.rooms.get(roomId)
    if (!users) this.rooms.set(roomId, (users = new Map()))
    const first = !users.has(user.userId)
    users.set(user.userId, { nickname: user.nickname, profileUrl: user.profileUrl })
    return first
  }

  async leave(roomId: number, userId: string): Promise<boolean> {
    const users = this.rooms.get(roomId)
    const gone = users?.delete(userId) ?? false
    if (users?.size === 0) this.rooms.delete(roomId)
    return gone
  }

  async online(roomId: number): Promise<OnlineUserDto[]> {
    return [...(this.rooms.get(roomId) ?? [])].map(([userId, u]) => ({ user_id: userId, nickname: u.nickname, profile_picture_url: u.profileUrl }))
  }

  async counts(roomIds: readonly number[]): Promise<number[]> {
    return roomIds.map((id) => this.rooms.get(id)?.size ?? 0)
  }

  async close(): Promise<void> {}
}
