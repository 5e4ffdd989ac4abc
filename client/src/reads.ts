import type { MemberFrame, Message, RoomDetail, RoomKind } from './types.ts'

/**
 * How far each member of a private or direct room has read: room detail's `last_read_id`s, moved
 * by `chat.read` frames and by the member's own messages (sending moves the sender's marker to
 * the message, with no `chat.read`). A marker only moves forward, so they are merged by taking
 * the larger, whichever came first.
 */
export class ReadMarkers {
  /** Each member's last read message id. */
  readonly markers = new Map<string, number>()
  /** Unknown until room detail has been read. */
  private kind: RoomKind | null = null

  /** The room's kind and members as room detail has them; true if what `unreadBy` answers may have changed. */
  learn({ kind, members }: Pick<RoomDetail, 'kind' | 'members'>): boolean {
    const before = `${this.kind} ${[...this.markers].join()}`
    this.kind = kind
    const heard = new Map(this.markers)
    this.markers.clear()
    for (const m of members) this.markers.set(m.user_id, Math.max(m.last_read_id, heard.get(m.user_id) ?? 0))
    return `${kind} ${[...this.markers].join()}` !== before
  }

  /** A `chat.read` frame, or a message the user sent; true if it moved a marker. */
  read(userId: string, lastReadId: number): boolean {
    if (lastReadId <= (this.markers.get(userId) ?? 0)) return false
    this.markers.set(userId, lastReadId)
    return true
  }

  /** A member joined (nothing read yet) or left. */
  member(frame: MemberFrame): void {
    if (frame.type === 'chat.member.removed') this.markers.delete(frame.user_id)
    else if (!this.markers.has(frame.user_id)) this.markers.set(frame.user_id, 0)
  }

  /** How many members other than its sender have not read `message`; null in open rooms, or before the members are known. */
  unreadBy(message: Pick<Message, 'id' | 'user_id'>): number | null {
    if (this.kind === null || this.kind === 'open') return null
    let count = 0
    for (const [user, lastRead] of this.markers) if (user !== message.user_id && lastRead < message.id) count++
    return count
  }
}
