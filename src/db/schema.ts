import { defineTables, sqliteColumns } from './tables.ts'

export { WEBHOOK_LANES } from './tables.ts'

/** The SQLite schema, from which drizzle-kit generates drizzle/: the tables of tables.ts, in SQLite's types. */
export const { rooms, members, blocks, users, messages, reactions, messageHistory, roomEvents, uploads, webhookEvents, webhookLanes, reports, moderators, sanctions, wordFilters, auditLog, meta, instances } =
  defineTables(sqliteColumns)

/** What the app's backend keeps on a room (its `data`), parsed. */
export type RoomData = Record<string, unknown>

export type RoomRow = Omit<typeof rooms.$inferSelect, 'lastMessageId' | 'lastMessageAt' | 'lastSeq' | 'webhookMessageId' | 'data'> & { data: RoomData | null }
export type RoomKind = RoomRow['kind']
export type RoomStatus = RoomRow['status']
/** What a room listing needs of each room (summaries): less to read and map than the whole row. */
export type ListedRoom = Pick<RoomRow, 'id' | 'name' | 'postId' | 'createdAt' | 'kind' | 'status' | 'slowModeSeconds' | 'data'>

/** A room's `data` column read back (null for none). */
export const roomData = (column: string | null): RoomData | null => (column === null ? null : (JSON.parse(column) as RoomData))
export type MemberRole = (typeof members.$inferSelect)['role']
export type MessageRow = typeof messages.$inferSelect
export type InstanceRow = typeof instances.$inferSelect
