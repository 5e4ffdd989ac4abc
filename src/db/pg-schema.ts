import { sql } from 'drizzle-orm'
import { bigint, bigserial, check, index, integer, pgTable, primaryKey, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { WEBHOOK_LANES } from './schema.ts'

/**
 * The Postgres schema: the same tables as SQLite's (src/db/schema.ts), plus what several instances
 * writing at once need. `rooms.last_seq` is each room's message counter: a writer locks the room's
 * row, so per room the ids and `seq` values ascend in commit order and `seq` has no gaps.
 * Ids and post ids are 64-bit, as SQLite's integers are; the app keeps them up to
 * `Number.MAX_SAFE_INTEGER`, so `mode: 'number'` loses nothing.
 */
export const rooms = pgTable(
  'rooms',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    name: text('name').notNull(),
    postId: bigint('post_id', { mode: 'number' }),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    lastSeq: bigint('last_seq', { mode: 'number' }).notNull().default(0),
    kind: text('kind', { enum: ['open', 'private', 'direct'] })
      .notNull()
      .default('open'),
    ownerId: text('owner_id'),
    directKey: text('direct_key'),
    /** As in SQLite's schema: the newest message and its time, moved under the room's lock. */
    lastMessageId: bigint('last_message_id', { mode: 'number' }),
    lastMessageAt: bigint('last_message_at', { mode: 'number' }),
    /** As in SQLite's schema: the newest message whose `message.created` event is done. */
    webhookMessageId: bigint('webhook_message_id', { mode: 'number' }).notNull().default(0),
  },
  (t) => [
    index('rooms_webhook_behind')
      .on(sql`(${t.id} % ${sql.raw(String(WEBHOOK_LANES))})`, t.id)
      .where(sql`${t.lastMessageId} > ${t.webhookMessageId}`),
    uniqueIndex('rooms_open_post_id_unique').on(t.postId).where(sql`${t.postId} IS NOT NULL AND ${t.kind} = 'open'`),
    uniqueIndex('rooms_direct_key_unique').on(t.directKey).where(sql`${t.directKey} IS NOT NULL`),
  ],
)

/** As in SQLite's schema: owners and members of private and direct rooms, participants of open ones. */
export const members = pgTable(
  'members',
  {
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id),
    userId: text('user_id').notNull(),
    role: text('role', { enum: ['owner', 'member', 'participant'] }).notNull(),
    lastReadId: bigint('last_read_id', { mode: 'number' }).notNull().default(0),
    joinedAt: bigint('joined_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index('members_user_id_room_id').on(t.userId, t.roomId)],
)

export const blocks = pgTable(
  'blocks',
  {
    userId: text('user_id').notNull(),
    blockedId: text('blocked_id').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.blockedId] }), index('blocks_blocked_id_user_id').on(t.blockedId, t.userId)],
)

export const users = pgTable('users', {
  userId: text('user_id').primaryKey(),
  nickname: text('nickname').notNull(),
  email: text('email').notNull(),
  profileUrl: text('profile_url'),
  updatedAt: bigint('updated_at', { mode: 'number' }).notNull(),
})

export const messages = pgTable(
  'messages',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    roomId: bigint('room_id', { mode: 'number' })
      .notNull()
      .references(() => rooms.id),
    seq: bigint('seq', { mode: 'number' }).notNull(),
    userId: text('user_id').notNull(),
    email: text('email').notNull(),
    nickname: text('nickname').notNull(),
    profileUrl: text('profile_url'),
    body: text('body').notNull(),
    clientMsgId: text('client_msg_id'),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
  },
  (t) => [
    uniqueIndex('messages_room_id_seq').on(t.roomId, t.seq),
    // With seq, a room's position at a marker comes from the index alone (unread counts).
    index('messages_room_id_id_seq').on(t.roomId, t.id, t.seq),
    uniqueIndex('messages_client_msg_id_unique').on(t.roomId, t.userId, t.clientMsgId).where(sql`${t.clientMsgId} IS NOT NULL`),
  ],
)

/** One row (id 1) about the database itself; `epoch` as in SQLite's schema, drawn by the migration. */
export const meta = pgTable(
  'meta',
  {
    id: integer('id').primaryKey(),
    epoch: text('epoch').notNull(),
    webhooksOn: integer('webhooks_on').notNull().default(0),
    schemaVersion: integer('schema_version').notNull().default(0),
    migratedBy: text('migrated_by'),
  },
  (t) => [check('meta_one_row', sql`${t.id} = 1`)],
)

/** As in SQLite's schema: the servers running on this database, each with a heartbeat. */
export const instances = pgTable('instances', {
  id: text('id').primaryKey(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  version: text('version').notNull(),
  startedAt: bigint('started_at', { mode: 'number' }).notNull(),
  seenAt: bigint('seen_at', { mode: 'number' }).notNull(),
})

/** As in SQLite's schema: the webhook outbox. */
export const webhookEvents = pgTable(
  'webhook_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    key: text('key').notNull(),
    type: text('type').notNull(),
    data: text('data').notNull(),
    createdAt: bigint('created_at', { mode: 'number' }).notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'dead'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: bigint('next_attempt_at', { mode: 'number' }).notNull(),
    /** Which lane sends it: a hash of `key` (one instance holds a lane at a time). */
    lane: integer('lane').notNull().default(0),
    /**
     * Where a room's event stands among its messages: the room's newest message id when it was
     * written. It is sent after that message and before any later one.
     */
    position: bigint('position', { mode: 'number' }).notNull().default(0),
    lastError: text('last_error'),
    finishedAt: bigint('finished_at', { mode: 'number' }),
  },
  (t) => [index('webhook_events_pending_lane_position').on(t.lane, t.position, t.id).where(sql`${t.status} = 'pending'`), index('webhook_events_dead_id').on(t.id).where(sql`${t.status} = 'dead'`)],
)

/** Who sends each lane of the outbox now: `owner` until `until` (a lease it renews). */
export const webhookLanes = pgTable('webhook_lanes', {
  lane: integer('lane').primaryKey(),
  owner: text('owner'),
  until: bigint('until', { mode: 'number' }),
})

/** As in SQLite's schema: reports for moderation. */
export const reports = pgTable('reports', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  reporterId: text('reporter_id').notNull(),
  messageId: bigint('message_id', { mode: 'number' }),
  roomId: bigint('room_id', { mode: 'number' }),
  userId: text('user_id'),
  reason: text('reason').notNull(),
  createdAt: bigint('created_at', { mode: 'number' }).notNull(),
})
