import type { AbuseLimits, Requester } from '../../abuse-limits.ts'
import { requireIdentity, requireService, type Caller } from '../../caller.ts'
import { badRequest, forbidden, tooMany, unprocessable } from '../../errors.ts'
import { toMessageDto, type AttachmentLinks } from '../../realtime/codec.ts'
import type { Presence } from '../../realtime/presence.ts'
import type { MemberRow } from '../../store/membership.ts'
import type { ListedRoom, RoomRow, Store } from '../../store/store.ts'
import type { RoomAccess } from './access.ts'
import type { Identity } from '../../identity.ts'
import type { CreateRoomBody, DirectRoomBody, ListRoomsQuery, MemberDto, PeerDto, RoomDetail, RoomSummary, UpdateRoomBody } from './model.ts'
import type { Broker } from '../../realtime/broker.ts'
import { roomUpdatedEvent, userEvent } from '../../realtime/events.ts'
import type { RoomData } from '../../db/schema.ts'
import type { RoomPatch, UpdatedRoom } from '../../store/room-updates.ts'
import type { Screening } from '../moderation/screening.ts'
import { standingIn } from '../moderation/service.ts'

const NO_COUNTS: Promise<ReadonlyMap<number, number>> = Promise.resolve(new Map())

/** Messages a room detail carries. */
const DETAIL_MESSAGES = 50

/** Who looks at a member list: a user (by id), or the app's backend. */
/** A page of room summaries and the query of the page after it (null on the last page). */
export interface RoomList {
  rooms: RoomSummary[]
  next: ListRoomsQuery | null
}

export interface Viewer {
  userId: string | null
  service: boolean
  /**
   * The viewer's identity as the request at hand forwards it: their own entry shows it, since the
   * profile cache is written a moment after the request (on a user's first request it is empty).
   */
  identity?: Identity | null
}

export const viewerOf = (caller: Caller): Viewer => ({ userId: caller.identity?.userId ?? null, service: caller.service, identity: caller.identity })

/**
 * A member as `viewer` sees them. The profile the gateway last forwarded for a member shows once
 * they have taken part in the room (sent, or read: their marker moved) or when they own it; before
 * that only to themselves and to the app's backend. Naming a user in a room (adding them, or asking
 * for a direct room with them) tells nobody their name or picture: a user id is no key to a profile.
 */
export function toMemberDto(row: MemberRow, viewer: Viewer): MemberDto {
  const own = viewer.userId === row.userId
  const shown = row.role === 'owner' || row.lastReadId > 0 || viewer.service || own
  const profile = own && viewer.identity?.userId === row.userId ? viewer.identity : row
  return {
    user_id: row.userId,
    nickname: shown ? profile.nickname : null,
    profile_picture_url: shown ? profile.profileUrl : null,
    role: row.role === 'owner' ? 'owner' : 'member',
    last_read_id: row.lastReadId,
    joined_at: new Date(row.joinedAt).toISOString(),
  }
}

/**
 * The other member of a direct room, as `viewer` sees them (the rule of `toMemberDto`); null for
 * other kinds, service calls and anyone who is not one of the two.
 */
export function peerOf(room: Pick<ListedRoom, 'kind'>, members: readonly MemberRow[], viewer: Viewer): PeerDto | null {
  if (room.kind !== 'direct' || viewer.service || !members.some((m) => m.userId === viewer.userId)) return null
  const other = members.find((m) => m.userId !== viewer.userId)
  if (!other) return null
  const { user_id, nickname, profile_picture_url } = toMemberDto(other, viewer)
  return { user_id, nickname, profile_picture_url }
}

/** A room's summary, as listings show it. */
export function roomSummary(room: ListedRoom, host: string, onlineCount: number, memberCount: number | null, peer: PeerDto | null): RoomSummary {
  return {
    id: room.id,
    name: room.name,
    post_id: room.postId,
    chat_url: `${host}/ws/chat/${room.id}/chat/`,
    created_at: new Date(room.createdAt).toISOString(),
    online_count: onlineCount,
    kind: room.kind,
    member_count: memberCount,
    status: room.status,
    slow_mode_seconds: room.slowModeSeconds,
    data: room.data,
    peer,
  }
}

/** A room just made, or the one that already was (`created` false). */
export interface Created {
  room: RoomDetail
  created: boolean
}

/** Room creation (every kind), listing and detail, with who is online from presence. */
export class RoomService {
  constructor(
    private readonly store: Store,
    private readonly access: RoomAccess,
    private readonly presence: Presence,
    private readonly limits: AbuseLimits,
    private readonly broker: Broker,
    private readonly maxMembers: number,
    private readonly links: AttachmentLinks,
    /** Word filters on room names. */
    private readonly screening: Pick<Screening, 'roomName'>,
  ) {}

  /** Each of the users gained the room: their streams hear it. */
  private announce(roomId: number, userIds: Iterable<string>) {
    for (const userId of userIds) this.broker.publish(userEvent(userId, { type: 'room', room: roomId }))
  }

  /**
   * `POST /chat/v1/create-room/`. Open rooms: the existing one for the same `post_id`, or a new
   * one. Private rooms: always new, owned by the caller (a service call names the owner). Direct
   * rooms here are for service calls; users go through `direct`. Only a room that is really new
   * counts toward the requester's creation limit (429 past it); service calls have none.
   */
  async create(body: CreateRoomBody, host: string, requester: Requester, caller: Caller): Promise<Created> {
    if (body.data !== undefined) requireService(caller, "set a room's data")
    const made = await this.createRoom({ ...body, name: await this.screening.roomName(null, body.name) }, host, requester, caller)
    return body.data === undefined ? made : this.withData(made, body.data, host, caller)
  }

  /** A room just made or found, given the data a service call sent with it (a change like any: versioned, heard, a webhook). */
  private async withData(made: Created, data: RoomData, host: string, caller: Caller): Promise<Created> {
    const changed = await this.change([made.room.id], { data }, caller.identity?.userId ?? null, host)
    if (changed.length === 0) return made
    return { room: await this.detailOf(changed[0]!.room, host, caller), created: made.created }
  }

  private async createRoom(body: CreateRoomBody, host: string, requester: Requester, caller: Caller): Promise<Created> {
    if (body.kind === 'direct') {
      requireService(caller, 'create a direct room for two other users (users call /chat/v1/direct-room/)')
      const pair = [...new Set(body.members ?? [])]
      if (pair.length !== 2) throw unprocessable('A direct room has exactly two members.', [{ path: 'members', message: 'must name exactly two different users' }])
      return this.direct(pair[0]!, pair[1]!, body.post_id ?? null, body.name, host, requester, caller)
    }
    if (body.kind === 'private') return { room: await this.detailOf(await this.createPrivate(body, requester, caller), host, caller), created: true }
    if (body.members !== undefined || body.owner !== undefined) {
      throw unprocessable('Open rooms have no owner or members.', [{ path: body.members !== undefined ? 'members' : 'owner', message: 'only for private and direct rooms' }])
    }
    const postId = body.post_id ?? null
    const existing = postId === null ? undefined : await this.store.roomByPostId(postId)
    if (existing) return this.found(existing, host, caller)
    this.limitCreation(requester, caller)
    const { room, created } = await this.store.createRoom({ name: body.name, postId })
    return created ? { room: await this.detailOf(room, host, caller), created } : this.found(room, host, caller)
  }

  /**
   * A room that already was, found by its post or its pair rather than by its id: shown only to a
   * caller the room admits (`RoomAccess.admit`), as reading it by id would be. A user banned from
   * an open room, or no longer a member of a direct one, hears the same refusal here.
   */
  private async found(room: RoomRow, host: string, caller: Caller): Promise<Created> {
    return { room: await this.access.read(room.id, caller, () => this.detailOf(room, host, caller)), created: false }
  }

  /**
   * `POST /chat/v1/direct-room/`: the caller's direct room with another user about a post, new
   * (created) or found. 400 with oneself; 403 `blocked` when either has blocked the other.
   */
  async directWith(body: DirectRoomBody, host: string, requester: Requester, caller: Caller): Promise<Created> {
    const { identity } = requireIdentity(caller)
    if (body.user_id === identity.userId) throw badRequest('same_user', 'A direct room needs another user than the caller.', [{ path: 'user_id', message: 'is the caller' }])
    if (body.data !== undefined) requireService(caller, "set a room's data")
    const made = await this.direct(identity.userId, body.user_id, body.post_id ?? null, await this.screening.roomName(null, body.name ?? ''), host, requester, caller)
    return body.data === undefined ? made : this.withData(made, body.data, host, caller)
  }

  /**
   * `PATCH /chat/v1/room/{id}/`: a service call changes the name, data or status; the owner of a
   * private room may rename it (403 `not_owner` for anyone else, 403 `service_call_required` for
   * data and status). Answers the room's detail as changed.
   */
  async update(roomId: number, body: UpdateRoomBody, host: string, caller: Caller): Promise<RoomDetail> {
    const { room } = await this.access.admit(roomId, caller)
    const { slow_mode_seconds: slowModeSeconds, ...fields } = body
    if (!caller.service) {
      if (body.data !== undefined || body.status !== undefined) requireService(caller, "change a room's data or status")
      const userId = requireIdentity(caller).identity.userId
      const owner = room.kind === 'private' && room.ownerId === userId
      if (body.name !== undefined && !owner) throw forbidden('not_owner', "Only the owner of a private room (or the app's backend) may rename it.")
      if (slowModeSeconds !== undefined && !owner && !(await this.store.moderation.moderates(userId, roomId)))
        throw forbidden('not_moderator', "Only the room's moderators, a private room's owner or the app's backend may set slow mode.")
    }
    const name = fields.name === undefined ? undefined : await this.screening.roomName(roomId, fields.name)
    const patch: RoomPatch = { ...fields, ...(name === undefined ? {} : { name }), ...(slowModeSeconds === undefined ? {} : { slowModeSeconds }) }
    const [changed] = await this.change([roomId], patch, caller.identity?.userId ?? null, host)
    return this.detailOf(changed?.room ?? (await this.store.getRoom(roomId)) ?? room, host, caller)
  }

  /**
   * Changes rooms (see store/room-updates.ts) and tells each room's sockets (`chat.room.updated`, in
   * the room's order), the streams following it and, through the outbox, webhooks (`room.updated`).
   * The summary they hear is the room's as a service call sees it (no `peer`), with who was online
   * and the members as read just before. Returns the rooms changed.
   */
  async change(roomIds: readonly number[], patch: RoomPatch, by: string | null, host: string): Promise<UpdatedRoom[]> {
    const [online, members] = await Promise.all([this.presence.counts(roomIds), this.store.membership.memberCounts(roomIds)])
    const onlineOf = new Map(roomIds.map((id, i) => [id, online[i] ?? 0]))
    const summarize = (room: RoomRow) => roomSummary(room, host, onlineOf.get(room.id) ?? 0, room.kind === 'open' ? null : (members.get(room.id) ?? 0), null)
    const changed = await this.store.updateRooms(roomIds, patch, by, summarize)
    for (const { room, summary, version } of changed) this.broker.publish(roomUpdatedEvent(room.id, summary, version))
    return changed
  }

  /**
   * Open rooms and, with identity, the caller's private and direct rooms: newest first (below
   * `before`), or oldest first above `after`. `next` is the query of the following page while one exists.
   */
  async list(page: ListRoomsQuery, host: string, caller: Caller): Promise<RoomList> {
    const found = await this.store.listRooms({ limit: page.limit + 1, before: page.before, after: page.after, postId: page.post_id, userId: caller.identity?.userId ?? null })
    const rows = found.slice(0, page.limit)
    const last = rows.at(-1)
    const next: ListRoomsQuery | null =
      found.length > page.limit && last ? (page.after !== undefined ? { limit: page.limit, after: last.id, post_id: page.post_id } : { limit: page.limit, before: last.id, post_id: page.post_id }) : null
    return { rooms: await this.summaries(rows, host, caller), next }
  }

  private async summaries(rows: ListedRoom[], host: string, caller: Caller): Promise<RoomSummary[]> {
    const viewer = viewerOf(caller)
    const withMembers = rows.filter((row) => row.kind !== 'open').map((row) => row.id)
    // Only a user sees a peer, and only in their own direct rooms (the listing holds no one else's).
    const direct = viewer.service || viewer.userId === null ? [] : rows.filter((row) => row.kind === 'direct').map((row) => row.id)
    const [online, members, pairOf] = await Promise.all([
      this.presence.counts(rows.map((row) => row.id)),
      withMembers.length === 0 ? NO_COUNTS : this.store.membership.memberCounts(withMembers),
      this.store.membership.membersOfRooms(direct),
    ])
    return rows.map((row, i) => roomSummary(row, host, online[i] ?? 0, row.kind === 'open' ? null : (members.get(row.id) ?? 0), peerOf(row, pairOf.get(row.id) ?? [], viewer)))
  }

  async detail(roomId: number, host: string, caller: Caller): Promise<RoomDetail> {
    // Read again: its name, data and status may have changed since it was cached (see RoomAccess).
    return this.access.read(roomId, caller, async ({ room }) => this.detailOf((await this.store.getRoom(roomId)) ?? room, host, caller))
  }

  private async createPrivate(body: CreateRoomBody, requester: Requester, caller: Caller): Promise<RoomRow> {
    let ownerId: string | null
    if (caller.service) ownerId = body.owner ?? caller.identity?.userId ?? null
    else {
      if (body.owner !== undefined) requireService(caller, 'name the owner of a private room')
      ownerId = requireIdentity(caller).identity.userId
    }
    const members = new Set(body.members ?? [])
    if (ownerId !== null) members.add(ownerId)
    if (members.size > this.maxMembers) throw unprocessable(`A private room has at most ${this.maxMembers} members, its owner included.`, [{ path: 'members', message: `at most ${this.maxMembers} with the owner` }])
    this.limitCreation(requester, caller)
    // The app's backend decides for its users; a user may not put someone who blocked them in a room.
    const room = await this.store.membership.createPrivateRoom({ name: body.name, postId: body.post_id ?? null, ownerId, members: [...members], addedBy: caller.service ? null : ownerId })
    if (room === 'blocked') throw forbidden('blocked', 'A user on the member list has blocked the caller and cannot be added by them.')
    this.announce(room.id, members)
    return room
  }

  private async direct(a: string, b: string, postId: number | null, name: string, host: string, requester: Requester, caller: Caller): Promise<Created> {
    const { membership } = this.store
    if (await membership.blockedEither(a, b)) throw forbidden('blocked', 'One of the two has blocked the other; they cannot have a direct room.')
    const existing = await membership.findDirectRoom(a, b, postId)
    if (existing) return this.found(existing, host, caller)
    this.limitCreation(requester, caller)
    const { room, created } = await membership.directRoom({ a, b, postId, name })
    if (!created) return this.found(room, host, caller)
    this.announce(room.id, [a, b])
    return { room: await this.detailOf(room, host, caller), created }
  }

  private limitCreation(requester: Requester, caller: Caller) {
    if (caller.service) return
    const wait = this.limits.roomCreation(requester)
    if (wait > 0) throw tooMany('too_many_rooms', 'Too many rooms created from here lately; wait and try again.', wait)
  }

  private async detailOf(room: RoomRow, host: string, viewer: Caller): Promise<RoomDetail> {
    // Read before the messages: a client that reconnects with since_version= from it may hear a
    // change again, never miss one.
    const version = await this.store.lastVersion(room.id)
    const [recent, online, epoch, members, moderation] = await Promise.all([
      this.store.listMessages(room.id, { limit: DETAIL_MESSAGES }),
      this.presence.online(room.id),
      this.store.epoch(),
      room.kind === 'open' ? Promise.resolve([]) : this.store.membership.members(room.id),
      standingIn(this.store, room, viewer, Date.now()),
    ])
    const seenBy = viewerOf(viewer)
    return {
      ...roomSummary(room, host, online.length, room.kind === 'open' ? null : members.length, peerOf(room, members, seenBy)),
      epoch,
      version,
      online_users: online,
      chat_messages: recent.map((row) => toMessageDto(row, this.links)),
      members: members.map((m) => toMemberDto(m, seenBy)),
      moderation,
    }
  }
}
