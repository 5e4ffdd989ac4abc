import { defineTables, sqliteColumns } from './tables.ts'

export { WEBHOOK_LANES } from './tables.ts'

/** The SQLite schema, from which drizzle-kit generates drizzle/: the tables of tables.ts, in SQLite's types. */
export const { rooms, members, blocks, users, messages, reactions, messageHistory, roomEvents, uploads, webhookEvents, webhookLanes, reports, meta, instances } = defineTables(sqliteColumns)

export type RoomRow = Omit<typeof rooms.$inferSelect, 'lastMessageId' | 'lastMessageAt' | 'lastSeq' | 'webhookMessageId'>
export type RoomKind = RoomRow['kind']
/** What a room listing needs of each room (summaries): less to read and map than the whole row. */
export type ListedRoom = Pick<RoomRow, 'id' | 'name' | 'postId' | 'createdAt' | 'kind'>
export type MemberRole = (typeof members.$inferSelect)['role']
export type MessageRow = typeof messages.$inferSelect
export type InstanceRow = typeof instances.$inferSelect
