import type { AbuseLimits, Requester } from '../../abuse-limits.ts'
import { requireIdentity, type Caller } from '../../caller.ts'
import { badRequest, conflict, forbidden, notFound, tooMany } from '../../errors.ts'
import { userIdSchema } from '../../identity.ts'
import type { Broker } from '../../realtime/broker.ts'
import { blockedEvent, evictEvent, memberAddedEvent, memberRemovedEvent, userEvent } from '../../realtime/events.ts'
import type { RoomRow, Store } from '../../store/store.ts'
import type { RoomAccess } from '../rooms/access.ts'
import type { MemberDto } from '../rooms/model.ts'
import { toMemberDto, viewerOf } from '../rooms/service.ts'
import type { BlockDto } from './model.ts'

/** Blocks one user may hold: rows any user can add must end somewhere. */
export const MAX_BLOCKS = 1000

/** A user id from a path segment: 400 `invalid_user_id` unless it could be one. */
export function parseUserId(raw: string): string {
  const parsed = userIdSchema.safeParse(raw)
  if (!parsed.success) throw badRequest('invalid_user_id', 'The user id in the path is not one the gateway could forward.', [{ path: 'user_id', message: parsed.error.issues[0]?.message ?? 'invalid' }])
  return parsed.data
}

const notOwner = (what: string) => forbidden('not_owner', `Only the room's owner (or the app's backend) may ${what}.`)

/** Only private rooms have members that change: 409 for the other kinds. */
function requirePrivate(room: RoomRow) {
  if (room.kind === 'open') throw conflict('open_room', 'Open rooms have no members to manage: anyone may read and send.')
  if (room.kind === 'direct') throw conflict('direct_room', "A direct room's two members never change.")
}

/**
 * The members of private rooms: listed to members, added by the owner (or a service call),
 * removed by the owner, by themselves (leaving) or a service call. Each change is told to the
 * room; a removed member's sockets in it close, on every instance. A user who has blocked the
 * owner cannot be added by them; users' changes are limited (MEMBER_CHANGES_PER_MINUTE).
 */
export class MemberService {
  constructor(
    private readonly store: Store,
    private readonly access: RoomAccess,
    private readonly broker: Broker,
    private readonly limits: AbuseLimits,
    private readonly maxMembers: number,
  ) {}

  async list(roomId: number, caller: Caller): Promise<MemberDto[]> {
    return this.access.read(roomId, caller, async ({ room }) => (room.kind === 'open' ? [] : (await this.store.membership.members(room.id)).map((m) => toMemberDto(m, viewerOf(caller)))))
  }

  /** Adds a member; `added` false when they already were one. */
  async add(roomId: number, userId: string, caller: Caller, requester: Requester): Promise<{ member: MemberDto; added: boolean }> {
    const { room, role } = await this.access.admit(roomId, caller)
    requirePrivate(room)
    if (!caller.service && role !== 'owner') throw notOwner('add members')
    this.limit(caller, requester)
    // The app's backend decides for its users; a user may not put someone who blocked them in a
    // room, and is checked again as the owner where the addition commits.
    const addedBy = caller.service ? null : (caller.identity?.userId ?? null)
    const outcome = await this.store.membership.addMember(room.id, userId, this.maxMembers, addedBy)
    if (outcome === 'not_owner') throw notOwner('add members')
    if (outcome === 'full') throw conflict('too_many_members', `This room already has ${this.maxMembers} members, its owner included.`)
    if (outcome === 'blocked') throw forbidden('blocked', 'This user has blocked the caller and cannot be added by them.')
    if (outcome === 'added') {
      this.broker.publish(memberAddedEvent(room.id, userId))
      this.broker.publish(userEvent(userId, { type: 'room', room: room.id }))
    }
    const member = (await this.store.membership.members(room.id)).find((m) => m.userId === userId)
    // Removed again between the two statements: say what was done, with what is known.
    const dto = member ? toMemberDto(member, viewerOf(caller)) : { user_id: userId, nickname: null, profile_picture_url: null, role: 'member' as const, last_read_id: 0, joined_at: new Date().toISOString() }
    return { member: dto, added: outcome === 'added' }
  }

  async remove(roomId: number, userId: string, caller: Caller, requester: Requester): Promise<void> {
    const { room, role } = await this.access.admit(roomId, caller)
    requirePrivate(room)
    const leaving = caller.identity?.userId === userId
    if (!caller.service && !leaving && role !== 'owner') throw notOwner('remove other members')
    this.limit(caller, requester)
    // Checked again where the removal commits: the caller may have left the room meanwhile.
    const outcome = await this.store.membership.removeMember(room.id, userId, caller.service ? null : (caller.identity?.userId ?? null))
    if (outcome === 'not_owner') throw notOwner('remove other members')
    if (outcome === 'absent') throw notFound('member_not_found', `${userId} is not a member of room ${room.id}.`)
    // The room hears it (the removed user's sockets too, before they close), then their sockets
    // close: in the room's version order, before anything the room commits after the removal.
    this.broker.publish(memberRemovedEvent(room.id, userId))
    this.broker.publish(evictEvent(room.id, userId, outcome.version))
    this.broker.publish(userEvent(userId, { type: 'removed', room: room.id }))
  }

  /** 429 past the user's allowance of member changes; the app's backend has none. */
  private limit(caller: Caller, requester: Requester) {
    if (caller.service) return
    const wait = this.limits.memberChange(requester)
    if (wait > 0) throw tooMany('too_many_member_changes', 'Too many members added or removed lately; wait and try again.', wait)
  }
}

/**
 * Blocks between users. A block stops a new direct room between the two and refuses sends in the
 * ones they have, for both, at once on every instance (the rooms' sockets hear it as a control
 * event). The blocked user cannot add the blocker to a private room. In open and private rooms
 * they share, the blocker's inbox and user streams never show the blocked user's messages and
 * webhooks never list the blocker as one to push them to; the room itself (history, its sockets)
 * is unchanged, and clients hide blocked users there (see SECURITY.md).
 */
export class BlockService {
  constructor(
    private readonly store: Store,
    private readonly broker: Broker,
  ) {}

  async block(caller: Caller, userId: string): Promise<void> {
    const { identity } = requireIdentity(caller)
    if (userId === identity.userId) throw badRequest('same_user', 'A user cannot block themself.', [{ path: 'user_id', message: 'is the caller' }])
    const existing = await this.store.membership.blocksOf(identity.userId)
    if (existing.length >= MAX_BLOCKS && !existing.some((b) => b.userId === userId)) throw conflict('too_many_blocks', `A user may block at most ${MAX_BLOCKS} others; unblock someone first.`)
    await this.store.membership.block(identity.userId, userId)
    this.broker.publish(userEvent(identity.userId, { type: 'block', user: userId, blocked: true }))
    await this.tellDirectRooms(identity.userId, userId, true)
  }

  async unblock(caller: Caller, userId: string): Promise<void> {
    const { identity } = requireIdentity(caller)
    await this.store.membership.unblock(identity.userId, userId)
    this.broker.publish(userEvent(identity.userId, { type: 'block', user: userId, blocked: false }))
    // The other may still have blocked this user.
    await this.tellDirectRooms(identity.userId, userId, await this.store.membership.blockedEither(identity.userId, userId))
  }

  async list(caller: Caller): Promise<BlockDto[]> {
    const { identity } = requireIdentity(caller)
    return (await this.store.membership.blocksOf(identity.userId)).map((b) => ({ user_id: b.userId, created_at: new Date(b.createdAt).toISOString() }))
  }

  private async tellDirectRooms(a: string, b: string, blocked: boolean) {
    for (const roomId of await this.store.membership.directRoomsOf(a, b)) this.broker.publish(blockedEvent(roomId, blocked))
  }
}
