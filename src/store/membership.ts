import { roomData, type ListedRoom, type MemberRole, type RoomRow } from '../db/schema.ts'
import { uncounted } from '../db/tables.ts'
import { inArray, sql, type SQLWrapper } from 'drizzle-orm'
import { alias } from 'drizzle-orm/sqlite-core'
import type { Identity } from '../identity.ts'
import type { SqlDatabase, ValueOf } from './sql-database.ts'

export type { MemberRole }

/** A member of a private or direct room, with the last profile the gateway forwarded for them. */
export interface MemberRow {
  userId: string
  role: MemberRole
  lastReadId: number
  joinedAt: number
  /** From the profile cache; null for a user the server has never seen. */
  nickname: string | null
  profileUrl: string | null
}

/** A read marker after it was set: where it is, and how many messages are after it. */
export interface ReadMarker {
  lastReadId: number
  unreadCount: number
  /** The newest message the count saw (the marker when there was none after it): later ones are not in it. */
  countedUpTo: number
  /** False when it stayed where it was (a marker only moves forward). */
  moved: boolean
  /** True when this made the reader a participant of an open room (the room joins their inbox). */
  joined: boolean
}

/**
 * A user's read state in one room: the messages after the marker, counted up to the room's newest
 * message when read. Messages of a room commit in id order (under the room's lock), so every
 * message after `countedUpTo` committed after the count: a live stream adds exactly those.
 */
export interface RoomReadState {
  roomId: number
  kind: RoomRow['kind']
  lastReadId: number
  unreadCount: number
  countedUpTo: number
  /** Hidden by the user (나가기) until a newer message: out of their inbox and badge, still followed for that message. */
  hidden: boolean
}

/** Where an inbox is read as of (the first page's moment), and where the last page ended. */
export interface InboxPage {
  limit: number
  /** Messages up to this id count as the rooms' latest activity; later ones wait for a new first page. */
  asOfId: number
  /** Rooms created after this moment wait for a new first page too. */
  asOfAt: number
  /** The (activity, room) the previous page ended at; the next page starts strictly below it. */
  after: { at: number; roomId: number } | null
  /** Just this room (a stream announcing a room the user gained). */
  onlyRoom?: number
  /** Only the rooms about this post. */
  postId?: number
}

/** One room of a user's inbox, as of the page's moment. */
export interface InboxRow {
  room: ListedRoom
  lastReadId: number
  /** The room's newest message as of the page's moment, if any. */
  lastMessageId: number | null
  /** Its activity: that message's time, else the room's creation. */
  activityAt: number
  /** The messages after the user's marker up to the room's newest one when the page was read (not as of the page's moment). */
  unreadCount: number
}

/** A block: `userId` blocked by the caller, since `createdAt`. */
export interface BlockRow {
  userId: string
  createdAt: number
}

/** The key of a direct room: the unordered pair and the post (a missing post is its own key). */
export function directKey(a: string, b: string, postId: number | null): string {
  const [first, second] = a < b ? [a, b] : [b, a]
  // User ids hold no control characters (identity.ts), so the unit separator cannot occur in them
  // (and Postgres text, unlike SQLite's, cannot hold NUL).
  return `${first}\u001f${second}\u001f${postId ?? ''}`
}

/** The two users of a direct room, read back from its key (null for other rooms). */
export function directPair(room: Pick<RoomRow, 'kind' | 'directKey'>): [string, string] | null {
  if (room.kind !== 'direct' || room.directKey === null) return null
  const [a, b] = room.directKey.split('\u001f')
  return a !== undefined && b !== undefined ? [a, b] : null
}

/**
 * Who belongs to which room, who blocked whom, and the profile cache: the product layer's storage,
 * on the same database as the store (SQLite or Postgres).
 */
export interface Membership {
  /**
   * Creates a private room with its owner (if any) and members, in one transaction; 'blocked'
   * (and nothing created) when one of the members has blocked `addedBy` (null: the app's backend
   * creates it).
   */
  createPrivateRoom(input: { name: string; postId: number | null; ownerId: string | null; members: readonly string[]; addedBy: string | null }): Promise<RoomRow | 'blocked'>
  /**
   * The direct room of two users about a post, created with both as members if there is none.
   * Racing callers, on any instance, get the same room; `created` is true for exactly one.
   */
  directRoom(input: { a: string; b: string; postId: number | null; name: string }): Promise<{ room: RoomRow; created: boolean }>
  /** The direct room of two users about a post, if there is one. */
  findDirectRoom(a: string, b: string, postId: number | null): Promise<RoomRow | undefined>
  /** The user's role in the room (participants of open rooms included), or null. */
  roleOf(roomId: number, userId: string): Promise<MemberRole | null>
  /**
   * Everyone in the room (owner and members, or an open room's participants), first joined first,
   * at most `limit`: who a message is for (webhooks' `offline_user_ids`).
   */
  roster(roomId: number, limit: number): Promise<{ userId: string; joinedAt: number }[]>
  /** The owner and members of a room (not open rooms' participants), owner first, then by joining. */
  members(roomId: number): Promise<MemberRow[]>
  /** `members` of each room given, in one read (an inbox page of direct rooms names each one's pair). */
  membersOfRooms(roomIds: readonly number[]): Promise<Map<number, MemberRow[]>>
  /** Owners and members per room, for the rooms given (rooms with none are left out). */
  memberCounts(roomIds: readonly number[]): Promise<Map<number, number>>
  /**
   * Adds a member, in one transaction with its checks: `not_owner` when `addedBy` (null: the app's
   * backend adds them) is not, or no longer, the room's owner; `blocked` when the user has blocked
   * `addedBy`; `full` when the room already has `max` members.
   */
  addMember(roomId: number, userId: string, max: number, addedBy: string | null): Promise<'added' | 'already' | 'full' | 'blocked' | 'not_owner'>
  /**
   * Removes an owner or member (`absent` when the user was not one), in one transaction with its
   * check: `not_owner` when `removedBy` is someone else than the user (who may leave) and not, or
   * no longer, the room's owner (null: the app's backend). Takes the room's lock (as every write
   * that needs membership does), so a write of theirs either commits before the removal or is
   * refused after it. A removal moves the room's version (answered as `{ version }`): whatever the
   * room commits after it has a later version, so brokers deliver the eviction before it.
   */
  removeMember(roomId: number, userId: string, removedBy: string | null): Promise<{ version: number } | 'absent' | 'not_owner'>
  /**
   * Moves the user's read marker forward to `lastReadId`, clamped to the room's newest message.
   * In an open room a reader becomes a participant; in a private or direct room only a member has
   * a marker: null when the user is not (or no longer) one, checked in the marker's transaction.
   * Sending moves the sender's marker too (the stores do it in the message's transaction), so no
   * message of a user's is ever after their marker, and the unread count is the messages after it.
   */
  markRead(roomId: number, userId: string, lastReadId: number): Promise<ReadMarker | null>
  /** The user's read state in every room they have one in (members and participants), or in one. */
  readStates(userId: string, onlyRoom?: number): Promise<RoomReadState[]>
  /** The badge: unread messages over all the user's rooms, and how many rooms have any. */
  unreadTotal(userId: string): Promise<{ total: number; rooms: number }>
  /** Those of the open rooms given that have more than `cap` participants. */
  crowdedRooms(roomIds: readonly number[], cap: number): Promise<Set<number>>
  /**
   * A page of the user's rooms (members' rooms and open rooms they take part in), latest activity
   * first as of the page's moment: a room's activity only grows, so pages never repeat a room.
   */
  inbox(userId: string, page: InboxPage): Promise<InboxRow[]>
  /** The newest message id now (an inbox's first page reads as of it). */
  newestMessageId(): Promise<number>
  block(userId: string, blockedId: string): Promise<void>
  unblock(userId: string, blockedId: string): Promise<void>
  blocksOf(userId: string): Promise<BlockRow[]>
  /** True when either user has blocked the other. */
  blockedEither(a: string, b: string): Promise<boolean>
  /** The direct rooms of a pair (one per post). */
  directRoomsOf(a: string, b: string): Promise<number[]>
  /** Those in the room who have blocked `userId` (whose words must not be pushed to them). */
  blockersIn(roomId: number, userId: string): Promise<Set<string>>
  /** `blockersIn` for several users at once, by user (a user nobody there blocked is absent). */
  blockersOf(roomId: number, userIds: readonly string[]): Promise<Map<string, Set<string>>>
  /** Remembers the profiles the gateway forwarded (one per user; the latest wins), in one statement. */
  saveProfiles(profiles: readonly Identity[]): Promise<void>
}

export type Tables = SqlDatabase['t']

/** The aliases the queries below give their tables. */
function aliases(t: Tables) {
  return { m: alias(t.members, 'm'), r: alias(t.rooms, 'r'), x: alias(t.messages, 'x'), b: alias(t.blocks, 'b') }
}
type Aliases = ReturnType<typeof aliases>

/**
 * The one membership rule, as data: a user's row counts for a room when it is an owner's or a
 * member's, or a participant's of an open room. Rows are only ever written that way; the rule is
 * also in every query that lists or counts a user's rooms, so no row an older server left (or a
 * bug writes) can show a private room to someone who is not its member.
 */
const countsForRoom = ({ m, r }: Aliases) => sql`(${m.role} <> 'participant' or ${r.kind} = 'open')`

/**
 * Why a direct room takes no more messages, read with the room's row: 1 when one of the two left
 * it, 2 when one of them has blocked the other, else 0 (see `closedRoom`). Only direct rooms are
 * looked at (seeks on their two members and the blocks between them), so an open room with many
 * participants costs nothing here. Blocks lock the pair's direct rooms (`SqlMembership.block`), so
 * a write that reads this under the room's lock sees a block answered before it commits.
 */
export const closedDirectRoom = (t: Pick<Tables, 'members' | 'blocks'>, room: Tables['rooms']) => {
  const pair = sql`(select ${t.members.userId} from ${t.members} where ${t.members.roomId} = ${room.id})`
  return sql<number>`case when ${room.kind} <> 'direct' then 0
    when exists (select 1 from ${t.members} where ${t.members.roomId} = ${room.id} and ${t.members.leftAt} is not null) then 1
    when exists (select 1 from ${t.blocks} where ${t.blocks.userId} in ${pair} and ${t.blocks.blockedId} in ${pair}) then 2
    else 0 end`.mapWith(Number)
}

/** The user has not left the room (a direct room's member who left keeps a row, to read it back, but no place in it). */
const present = ({ m }: Aliases) => sql`${m.leftAt} is null`

/** The user hid the room (나가기) and nothing newer arrived since. */
const hidden = ({ m, r }: Aliases) => sql`(${m.hiddenThrough} is not null and coalesce(${r.lastMessageId}, 0) <= ${m.hiddenThrough})`

/** The room shows in the user's inbox and badge: they have not left it, and it is not hidden. */
const shown = (a: Aliases) => sql`${present(a)} and not ${hidden(a)}`

/**
 * The user's rooms (`r`) beside their membership rows (`m`): one lookup of each room's row, however
 * many rooms the store holds (Postgres would otherwise hash-join a scan of every room; OFFSET 0
 * keeps the lateral subquery a loop).
 */
function roomsOfMembers({ t, dialect }: SqlDatabase, { m, r }: Aliases) {
  if (dialect === 'sqlite') return sql`from ${t.members} ${m} join ${t.rooms} ${r} on ${r.id} = ${m.roomId}`
  const room = alias(t.rooms, 'room')
  return sql`from ${t.members} ${m} join lateral (select * from ${t.rooms} ${room} where ${room.id} = ${m.roomId} offset 0) ${r} on true`
}

/**
 * The inbox query: each of the user's rooms with its newest message as of the page's moment, ordered
 * by activity. A room's newest message is kept on its row (moved with every append), so most rooms
 * cost one lookup of their row, however many rooms the store holds; only a room with messages after
 * the page's moment seeks its newest one up to that moment on the (room_id, id) index.
 */
export function inboxQuery(database: SqlDatabase, value: ValueOf, shape: InboxShape) {
  const { t } = database
  const a = aliases(t)
  const { m, r, x } = a
  const asOf = value('asOfId')
  const newest = (column: SQLWrapper) => sql`(select ${column} from ${t.messages} ${x} where ${x.roomId} = ${r.id} and ${x.id} <= ${asOf} order by ${x.id} desc limit 1)`
  const lastMessageId = sql`case when ${r.lastMessageId} is null or ${r.lastMessageId} <= ${asOf} then ${r.lastMessageId} else ${newest(x.id)} end`
  const activityAt = sql`case when ${r.lastMessageId} is null then ${r.createdAt} when ${r.lastMessageId} <= ${asOf} then ${r.lastMessageAt} else coalesce(${newest(x.createdAt)}, ${r.createdAt}) end`
  const after = shape.after ? sql` where "activityAt" < ${value('afterAt')} or ("activityAt" = ${value('afterAt')} and "id" < ${value('afterRoom')})` : sql``
  const onlyRoom = shape.onlyRoom ? sql` and ${m.roomId} = ${value('onlyRoom')}` : sql``
  const ofPost = shape.post ? sql` and ${r.postId} = ${value('postId')}` : sql``
  // The page's rooms first, then each one's unread count (as of now, in the same statement): only
  // the rooms of the page are counted, however many the user has.
  const paged = sql.identifier('paged')
  const unread = unreadCount(t, x, { id: sql`${paged}."id"`, lastSeq: sql`${paged}."lastSeq"`, newest: sql`${paged}."newestId"` }, sql`${paged}."lastReadId"`)
  return sql`select ${paged}.*, ${unread} as "unreadCount" from (select * from (select ${r.id} as "id", ${r.name} as "name", ${r.postId} as "postId", ${r.createdAt} as "createdAt", ${r.kind} as "kind", ${r.status} as "status", ${r.slowModeSeconds} as "slowModeSeconds", ${r.data} as "data", ${m.lastReadId} as "lastReadId", ${lastMessageId} as "lastMessageId", ${activityAt} as "activityAt", ${r.lastSeq} as "lastSeq", ${r.lastMessageId} as "newestId"
      ${roomsOfMembers(database, a)}
      where ${m.userId} = ${value('userId')} and ${countsForRoom(a)} and ${shown(a)} and ${r.createdAt} <= ${value('asOfAt')}${onlyRoom}${ofPost}) page${after}
    order by "activityAt" desc, "id" desc
    limit ${value('limit')}) ${paged}
    order by "activityAt" desc, "id" desc`
}

/** Which form of the inbox query a page needs (each form is built once). */
export interface InboxShape {
  after: boolean
  onlyRoom: boolean
  post: boolean
}

/** The form of the inbox query a page needs. */
export const inboxShape = (page: InboxPage): InboxShape => ({ after: page.after !== null, onlyRoom: page.onlyRoom !== undefined, post: page.postId !== undefined })

/** An inbox page's values, by the names `inboxQuery` gives them. */
export const inboxValues = (userId: string, page: InboxPage) => ({
  userId,
  asOfId: page.asOfId,
  asOfAt: page.asOfAt,
  limit: page.limit,
  afterAt: page.after?.at,
  afterRoom: page.after?.roomId,
  onlyRoom: page.onlyRoom,
  postId: page.postId,
})

/** Rows of `inboxQuery`, as the drivers hand them over (Postgres gives bigints as strings). */
export type InboxQueryRow = Record<'id' | 'createdAt' | 'lastReadId' | 'activityAt' | 'unreadCount', number | string> & {
  name: string
  postId: number | string | null
  kind: ListedRoom['kind']
  status: ListedRoom['status']
  slowModeSeconds: number | string
  data: string | null
  lastMessageId: number | string | null
}

export const toInboxRow = (row: InboxQueryRow): InboxRow => ({
  room: {
    id: Number(row.id),
    name: row.name,
    postId: row.postId === null ? null : Number(row.postId),
    createdAt: Number(row.createdAt),
    kind: row.kind,
    status: row.status,
    slowModeSeconds: Number(row.slowModeSeconds),
    data: roomData(row.data),
  },
  lastReadId: Number(row.lastReadId),
  lastMessageId: row.lastMessageId === null ? null : Number(row.lastMessageId),
  activityAt: Number(row.activityAt),
  unreadCount: Number(row.unreadCount),
})

/**
 * Unread messages, by position: a room's messages are numbered 1, 2, 3… in id order with no gap
 * (`seq`, given under the room's lock or SQLite's single writer), so the messages after a marker
 * are the room's count (`r.last_seq`) less the position of its newest message at or before the
 * marker, less the unsent ones after it (a seek on a partial index: few are unsent). Two index seeks
 * per room, however many messages are unread; exact, with no counter to drift.
 */
function unreadAfter(t: Tables, { r, x }: Aliases, marker: SQLWrapper | number) {
  return unreadCount(t, x, { id: r.id, lastSeq: r.lastSeq, newest: r.lastMessageId }, marker)
}

/**
 * `unreadAfter` of a room given by its id, count and newest message. A marker at or past the newest
 * message (most rooms of an inbox: read to the end) counts nothing without a seek; a room whose
 * newest message is not on its row (null) is counted.
 */
function unreadCount(t: Tables, x: Aliases['x'], room: { id: SQLWrapper; lastSeq: SQLWrapper; newest: SQLWrapper }, marker: SQLWrapper | number) {
  const unsent = sql`(select count(*) from ${t.messages} ${x} where ${x.roomId} = ${room.id} and ${x.id} > ${marker} and ${uncounted(x)})`
  const counted = sql`(${room.lastSeq} - coalesce((select ${x.seq} from ${t.messages} ${x} where ${x.roomId} = ${room.id} and ${x.id} <= ${marker} order by ${x.id} desc limit 1), 0) - ${unsent})`
  return sql`(case when ${marker} >= ${room.newest} then 0 else ${counted} end)`
}

/** The roster (see `Membership.roster`): the membership rule for one room, first joined first. */
export function rosterQuery(t: Tables, value: ValueOf) {
  const a = aliases(t)
  const { m, r } = a
  return sql`select ${m.userId} as "userId", ${m.joinedAt} as "joinedAt" from ${t.members} ${m} join ${t.rooms} ${r} on ${r.id} = ${m.roomId}
    where ${m.roomId} = ${value('roomId')} and ${countsForRoom(a)} and ${present(a)}
    order by ${m.joinedAt} limit ${value('limit')}`
}

/** Those in the room who blocked `userId`: from the blocks of that user (an index seek), each checked against the room. */
export function blockersInQuery(t: Tables, value: ValueOf) {
  const { m, b } = aliases(t)
  return sql`select ${b.userId} as "userId" from ${t.blocks} ${b}
    where ${b.blockedId} = ${value('userId')} and exists (select 1 from ${t.members} ${m} where ${m.roomId} = ${value('roomId')} and ${m.userId} = ${b.userId})`
}

/** Those in the room who blocked any of the users named (`formsByLength`), by whom they blocked: one seek per user, in one statement. */
export function blockersOfQuery(t: Tables, value: ValueOf, users: readonly string[]) {
  const { m, b } = aliases(t)
  return sql`select ${b.blockedId} as "blockedId", ${b.userId} as "userId" from ${t.blocks} ${b}
    where ${b.blockedId} in (${sql.join(
      users.map((name) => sql`${value(name)}`),
      sql`, `,
    )}) and exists (select 1 from ${t.members} ${m} where ${m.roomId} = ${value('roomId')} and ${m.userId} = ${b.userId})`
}

/**
 * Read states, each in one statement (one snapshot): the count and the newest message it covers
 * agree, whatever commits meanwhile.
 */
export function readStatesQuery(database: SqlDatabase, value: ValueOf, onlyRoom: boolean) {
  const a = aliases(database.t)
  const { m, r } = a
  return sql`select ${m.roomId} as "roomId", ${r.kind} as "kind", ${m.lastReadId} as "lastReadId",
      ${unreadAfter(database.t, a, m.lastReadId)} as "unreadCount",
      coalesce(${r.lastMessageId}, ${m.lastReadId}) as "countedUpTo", case when ${hidden(a)} then 1 else 0 end as "hidden"
    ${roomsOfMembers(database, a)}
    where ${m.userId} = ${value('userId')} and ${countsForRoom(a)} and ${present(a)}${onlyRoom ? sql` and ${m.roomId} = ${value('onlyRoom')}` : sql``}`
}

/** Rows of `readStatesQuery` as the drivers hand them over (Postgres gives bigints as strings). */
export type ReadStateQueryRow = Record<'roomId' | 'lastReadId' | 'unreadCount' | 'countedUpTo' | 'hidden', number | string> & { kind: RoomRow['kind'] }

export const toReadState = (row: ReadStateQueryRow): RoomReadState => ({
  roomId: Number(row.roomId),
  kind: row.kind,
  lastReadId: Number(row.lastReadId),
  unreadCount: Number(row.unreadCount),
  countedUpTo: Math.max(Number(row.countedUpTo), Number(row.lastReadId)),
  hidden: Number(row.hidden) === 1,
})

/** Open rooms with more than `cap` participants, counting no further than `cap + 1` in each. */
export function crowdedRoomsQuery(t: Tables, roomIds: readonly number[], cap: number) {
  const { m, r } = aliases(t)
  return sql`select ${r.id} as "id" from ${t.rooms} ${r}
    where ${inArray(r.id, [...roomIds])} and ${r.kind} = 'open'
      and (select count(*) from (select 1 from ${t.members} ${m} where ${m.roomId} = ${r.id} limit ${cap + 1}) counted) > ${cap}`
}

/** The badge in one statement: each room's count (once: materialized, not expanded twice), summed. */
export function unreadTotalQuery(database: SqlDatabase, value: ValueOf) {
  const a = aliases(database.t)
  return sql`with counts as materialized (select ${unreadAfter(database.t, a, a.m.lastReadId)} as n ${roomsOfMembers(database, a)} where ${a.m.userId} = ${value('userId')} and ${countsForRoom(a)} and ${shown(a)})
    select coalesce(sum(n), 0) as "total", count(case when n > 0 then 1 end) as "rooms" from counts`
}

/** A room's count and newest message, and the messages after `marker` in it, in one statement (values `roomId`, `marker`). */
export function unreadInRoomQuery(t: Tables, value: ValueOf) {
  const a = aliases(t)
  return sql`select ${unreadAfter(t, a, sql`${value('marker')}`)} as "n", ${a.r.lastMessageId} as "newest" from ${t.rooms} ${a.r} where ${a.r.id} = ${value('roomId')}`
}
