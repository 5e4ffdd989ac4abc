import { and, eq, getTableColumns, gt, isNull, sql } from 'drizzle-orm'
import type { RoomData, RoomStatus } from '../db/schema.ts'
import { writeEvents, type NewWebhookEvent, type Outbox } from './outbox.ts'
import { first, lock, rows, run, type SqlDatabase } from './sql-database.ts'
import { toRoomRow } from './sql-membership.ts'
import type { RoomRow } from './rows.ts'

/** What a change of a room sets (what it leaves out stays as it is). */
export interface RoomPatch {
  name?: string
  data?: RoomData | null
  status?: RoomStatus
  slowModeSeconds?: number
}

/** The room's summary as clients get it (`chat.room.updated`, webhooks), kept with the change that made it. */
export type RoomSummaryData = Record<string, unknown>

/** A room as a change left it: its row, the version the change made and the summary told of it. */
export interface UpdatedRoom {
  room: RoomRow
  version: number
  summary: RoomSummaryData
}

/** A change of a room, kept where a receiver reading the room's versions back finds it. */
export interface RoomUpdateEvent {
  version: number
  summary: RoomSummaryData
}

/** `room.updated`: the room's summary as the change left it, in the room's order. */
const roomUpdatedEvent = (roomId: number, summary: RoomSummaryData): NewWebhookEvent => ({ key: `room:${roomId}`, type: 'room.updated', data: { room: summary } })

const sameData = (a: RoomData | null, b: RoomData | null) => JSON.stringify(a) === JSON.stringify(b)

/**
 * Changes rooms (name, data, status), each under its row's lock (in ascending id order, as appends
 * lock them), in one transaction: a room whose fields already are so is left alone (no version
 * moves, nothing is heard); each other one gets the next version, a `room_events` row with the
 * summary `summarize` makes of it as changed (what a receiver filling a gap, or a replay, sends) and
 * its `room.updated` webhook event. An archive committed here is seen by every later append and
 * change, which read the status under the same lock.
 */
export function updateRooms(database: SqlDatabase, outbox: Outbox, roomIds: readonly number[], patch: RoomPatch, by: string | null, summarize: (room: RoomRow) => RoomSummaryData): Promise<UpdatedRoom[]> {
  const { t } = database
  const ids = [...new Set(roomIds)].sort((a, b) => a - b)
  return database.transaction(function* (tx) {
    const updated: UpdatedRoom[] = []
    for (const roomId of ids) {
      const [row] = yield* lock(tx.select(getTableColumns(t.rooms)).from(t.rooms).where(eq(t.rooms.id, roomId)))
      if (!row) continue
      const before = toRoomRow(row)
      const after: RoomRow = { ...before, ...patch, version: before.version + 1 }
      if (after.name === before.name && after.status === before.status && after.slowModeSeconds === before.slowModeSeconds && sameData(after.data, before.data)) continue
      yield* run(
        tx
          .update(t.rooms)
          .set({ name: after.name, status: after.status, slowModeSeconds: after.slowModeSeconds, data: after.data === null ? null : JSON.stringify(after.data), version: after.version })
          .where(eq(t.rooms.id, roomId)),
      )
      const summary = summarize(after)
      yield* run(tx.insert(t.roomEvents).values({ roomId, version: after.version, kind: 'update', userId: by ?? '', createdAt: Date.now(), data: JSON.stringify(summary) }))
      yield* writeEvents(t, outbox, tx, [roomUpdatedEvent(roomId, summary)])
      updated.push({ room: after, version: after.version, summary })
    }
    return updated
  })
}

/** Reads a room's latest change after `afterVersion` (a replay sends the room as it is now, once), or null; the statement built once. */
export function latestRoomUpdate({ db, t }: SqlDatabase) {
  const p = sql.placeholder
  const latest = db
    .select({ version: t.roomEvents.version, data: t.roomEvents.data })
    .from(t.roomEvents)
    .where(and(eq(t.roomEvents.roomId, p('roomId')), gt(t.roomEvents.version, p('afterVersion')), eq(t.roomEvents.kind, 'update')))
    .orderBy(sql`${t.roomEvents.version} desc`)
    .limit(1)
    .prepare()
  return async (roomId: number, afterVersion: number): Promise<RoomUpdateEvent | null> => {
    const [row] = await latest.execute({ roomId, afterVersion })
    return row ? { version: row.version, summary: JSON.parse(row.data ?? '{}') as RoomSummaryData } : null
  }
}

/**
 * Hides the room from the user's inbox and badge (나가기) until a message newer than its newest
 * now arrives: 'absent' when the user has no place in it (not a member of a private or direct room,
 * not a participant of an open one), else the id it is hidden through.
 */
export function hideRoom(database: SqlDatabase, roomId: number, userId: string): Promise<'absent' | { through: number }> {
  const { t } = database
  return database.transaction(function* (tx) {
    const room = yield* first(tx.select({ newest: t.rooms.lastMessageId, kind: t.rooms.kind }).from(t.rooms).where(eq(t.rooms.id, roomId)))
    if (!room) return 'absent'
    const through = room.newest ?? 0
    const member = and(eq(t.members.roomId, roomId), eq(t.members.userId, userId), isNull(t.members.leftAt), room.kind === 'open' ? undefined : sql`${t.members.role} <> 'participant'`)
    const hid = yield* rows(tx.update(t.members).set({ hiddenThrough: through }).where(member).returning({ userId: t.members.userId }))
    return hid.length === 0 ? 'absent' : { through }
  })
}

/**
 * The user leaves a direct room: it stays out of their inbox for good, and neither of the two can
 * send there any more (`peer_left`). Under the room's lock, as appends read it: a message either
 * commits before the leave or is refused. 'absent' when they are not one of its two members;
 * 'already' when they left before.
 */
export function leaveDirectRoom(database: SqlDatabase, roomId: number, userId: string, at: number): Promise<'absent' | 'already' | 'left'> {
  const { t } = database
  return database.transaction(function* (tx) {
    const [room] = yield* lock(tx.select({ kind: t.rooms.kind }).from(t.rooms).where(eq(t.rooms.id, roomId)))
    if (room?.kind !== 'direct') return 'absent'
    const member = and(eq(t.members.roomId, roomId), eq(t.members.userId, userId), sql`${t.members.role} <> 'participant'`)
    const row = yield* first(tx.select({ leftAt: t.members.leftAt }).from(t.members).where(member))
    if (!row) return 'absent'
    if (row.leftAt !== null) return 'already'
    yield* run(tx.update(t.members).set({ leftAt: at }).where(member))
    return 'left'
  })
}
