import type { Caller } from '../../caller.ts'
import { forbidden, notFound, unauthorized } from '../../errors.ts'
import { directPair, type MemberRole } from '../../store/membership.ts'
import type { RoomRow, Store } from '../../store/store.ts'

/**
 * Rooms kept in memory; a room's kind, owner and pair never change, and rooms are never deleted.
 * Its name, data and status do change (PATCH, post events, on any instance): read them from the store.
 */
const CACHED_ROOMS = 100_000

const notMember = (roomId: number) => forbidden('not_a_member', `Only members may use room ${roomId}.`)

/** A room the caller may use, and the caller's role there (null: an open room's visitor, or a service call). */
export interface Admission {
  room: RoomRow
  role: MemberRole | null
}

/**
 * The one authorization rule for every path into a room (detail, history, REST send, members,
 * the WebSocket handshake): an open room admits anyone; a private or direct room its owner and
 * members, and service calls. Checked before any other work on the room.
 */
export class RoomAccess {
  private readonly rooms = new Map<number, RoomRow>()

  constructor(private readonly store: Store) {}

  /** The room, or a 404 problem. */
  async room(roomId: number): Promise<RoomRow> {
    const cached = this.rooms.get(roomId)
    if (cached) return cached
    const room = await this.store.getRoom(roomId)
    if (!room) throw notFound('room_not_found', `There is no room ${roomId}.`)
    if (this.rooms.size >= CACHED_ROOMS) this.rooms.delete(this.rooms.keys().next().value!)
    this.rooms.set(roomId, room)
    return room
  }

  /** True when the room is known here to be open (anyone may use it): no lookup, no promise. */
  knownOpen(roomId: number): boolean {
    return this.rooms.get(roomId)?.kind === 'open'
  }

  /**
   * The room if the caller may use it: 404 no room, 401 no identity, 403 `not_a_member`, 403
   * `banned` (a user banned from it: an open room's history and detail too, so a client asking why
   * its handshake failed hears the same answer).
   */
  async admit(roomId: number, caller: Caller): Promise<Admission> {
    const room = await this.room(roomId)
    const userId = caller.identity?.userId
    if (room.kind === 'open') {
      if (userId !== undefined && !caller.service) await this.notBanned(room.id, userId)
      return { room, role: null }
    }
    const role = userId === undefined ? null : await this.store.membership.roleOf(room.id, userId)
    if (caller.service) return { room, role }
    if (userId === undefined) throw unauthorized('identity_required', 'This room is for its members; the identity headers are required.')
    if (role !== 'owner' && role !== 'member') throw notMember(roomId)
    await this.notBanned(room.id, userId)
    return { room, role }
  }

  /**
   * `read` of a room the caller may use, answered only if they still may when it is done: admitted
   * before it and, in a private or direct room, still a member after it. A removal commits before
   * anything the room commits after it, so one that the read reached past shows in the check after
   * it: 403 `not_a_member` then, and nothing read is answered.
   */
  async read<T>(roomId: number, caller: Caller, read: (admission: Admission) => Promise<T>): Promise<T> {
    const admission = await this.admit(roomId, caller)
    const result = await read(admission)
    const userId = caller.identity?.userId
    if (admission.room.kind !== 'open' && !caller.service && userId !== undefined && !(await this.isMember(admission.room.id, userId))) throw notMember(roomId)
    return result
  }

  /** 403 `banned` for a user banned from the room (writes are refused again where they commit). */
  private async notBanned(roomId: number, userId: string) {
    if ((await this.store.moderation.sanctionOf(roomId, userId, Date.now()))?.kind === 'ban') throw forbidden('banned', 'You are banned from this room.')
  }

  /**
   * Whether the user may still use a room they were admitted to: a private or direct room while
   * they are its owner or a member, and no room they are banned from (`removed`, `banned`), or `ok`.
   */
  async standing(room: RoomRow, userId: string): Promise<'ok' | 'removed' | 'banned'> {
    if (room.kind !== 'open' && !(await this.isMember(room.id, userId))) return 'removed'
    return (await this.store.moderation.sanctionOf(room.id, userId, Date.now()))?.kind === 'ban' ? 'banned' : 'ok'
  }

  /** True while the user is the owner or a member of the room. */
  async isMember(roomId: number, userId: string): Promise<boolean> {
    const role = await this.store.membership.roleOf(roomId, userId)
    return role === 'owner' || role === 'member'
  }

  /** True when the room is direct and one of its pair has blocked the other. */
  async blocked(room: RoomRow): Promise<boolean> {
    const pair = directPair(room)
    return pair !== null && this.store.membership.blockedEither(pair[0], pair[1])
  }
}
