import { sql } from 'drizzle-orm'
import { check, index, integer, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

/** Chat rooms; at most one per `post_id`. Rooms are never deleted. */
export const rooms = sqliteTable(
  'rooms',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    postId: integer('post_id'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [uniqueIndex('rooms_post_id_unique').on(t.postId).where(sql`${t.postId} IS NOT NULL`)],
)

/**
 * Messages with a snapshot of the sender as the gateway described them when sent.
 * `id` ascends in commit order, which is the order every client sees.
 */
export const messages = sqliteTable(
  'messages',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    roomId: integer('room_id')
      .notNull()
      .references(() => rooms.id),
    userId: text('user_id').notNull(),
    email: text('email').notNull(),
    nickname: text('nickname').notNull(),
    profileUrl: text('profile_url'),
    body: text('body').notNull(),
    clientMsgId: text('client_msg_id'),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [
    index('messages_room_id_id').on(t.roomId, t.id),
    uniqueIndex('messages_client_msg_id_unique')
      .on(t.roomId, t.userId, t.clientMsgId)
      .where(sql`${t.clientMsgId} IS NOT NULL`),
  ],
)

/**
 * One row (id 1) about the database itself. `epoch` is drawn when the migration that creates the
 * table runs, so each new database has its own and keeps it: message ids from another epoch
 * (a replaced or restored database) mean nothing here.
 */
export const meta = sqliteTable('meta', { id: integer('id').primaryKey(), epoch: text('epoch').notNull() }, (t) => [check('meta_one_row', sql`${t.id} = 1`)])

export type RoomRow = typeof rooms.$inferSelect
export type MessageRow = typeof messages.$inferSelect
