import { sql } from 'drizzle-orm'
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

/** How many lanes the webhook outbox has: a room's events go through lane `id % WEBHOOK_LANES`. */
export const WEBHOOK_LANES = 64

/**
 * Chat rooms. `kind`: `open` (the seed's: anyone reads and sends; at most one per `post_id`),
 * `private` (its members; `owner_id` manages them) or `direct` (two members, one room per unordered
 * pair and post: `direct_key`). Rooms are never deleted.
 */
export const rooms = sqliteTable(
  'rooms',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    name: text('name').notNull(),
    postId: integer('post_id'),
    createdAt: integer('created_at').notNull(),
    kind: text('kind', { enum: ['open', 'private', 'direct'] })
      .notNull()
      .default('open'),
    ownerId: text('owner_id'),
    directKey: text('direct_key'),
    /** The room's newest message and its time, moved with each append (the inbox orders by them). */
    lastMessageId: integer('last_message_id'),
    lastMessageAt: integer('last_message_at'),
    /** How many messages the room has: the `seq` of its newest (unread counts subtract positions). */
    lastSeq: integer('last_seq').notNull().default(0),
    /**
     * Webhooks: the newest message whose `message.created` event is done (sent, or moved into the
     * outbox to be retried). Messages after it are the room's pending events: the messages table
     * is their log, so an append writes nothing more while webhooks are on.
     */
    webhookMessageId: integer('webhook_message_id').notNull().default(0),
  },
  (t) => [
    // The rooms whose messages wait to be sent, by lane (see WEBHOOK_LANES).
    index('rooms_webhook_behind')
      .on(sql`(${t.id} % ${sql.raw(String(WEBHOOK_LANES))})`, t.id)
      .where(sql`${t.lastMessageId} > ${t.webhookMessageId}`),
    uniqueIndex('rooms_open_post_id_unique').on(t.postId).where(sql`${t.postId} IS NOT NULL AND ${t.kind} = 'open'`),
    uniqueIndex('rooms_direct_key_unique').on(t.directKey).where(sql`${t.directKey} IS NOT NULL`),
  ],
)

/**
 * Who belongs to a room: the owner and members of private and direct rooms, and the participants
 * of open rooms (who sent a message or set a read marker there). `last_read_id`: their read marker.
 */
export const members = sqliteTable(
  'members',
  {
    roomId: integer('room_id')
      .notNull()
      .references(() => rooms.id),
    userId: text('user_id').notNull(),
    role: text('role', { enum: ['owner', 'member', 'participant'] }).notNull(),
    lastReadId: integer('last_read_id').notNull().default(0),
    joinedAt: integer('joined_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index('members_user_id_room_id').on(t.userId, t.roomId)],
)

/** `user_id` has blocked `blocked_id`. */
export const blocks = sqliteTable(
  'blocks',
  {
    userId: text('user_id').notNull(),
    blockedId: text('blocked_id').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  // Who blocked a user: their words are not pushed to them (webhooks' offline_user_ids).
  (t) => [primaryKey({ columns: [t.userId, t.blockedId] }), index('blocks_blocked_id_user_id').on(t.blockedId, t.userId)],
)

/** The last nickname, e-mail and picture the gateway forwarded for each user: names for people who are offline. */
export const users = sqliteTable('users', {
  userId: text('user_id').primaryKey(),
  nickname: text('nickname').notNull(),
  email: text('email').notNull(),
  profileUrl: text('profile_url'),
  updatedAt: integer('updated_at').notNull(),
})

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
    /** Its position in the room: 1, 2, 3… in id order, no gaps (so counts are subtractions). */
    seq: integer('seq').notNull().default(0),
  },
  (t) => [
    // With seq, a room's position at a marker comes from the index alone (unread counts).
    index('messages_room_id_id_seq').on(t.roomId, t.id, t.seq),
    uniqueIndex('messages_client_msg_id_unique').on(t.roomId, t.userId, t.clientMsgId).where(sql`${t.clientMsgId} IS NOT NULL`),
  ],
)

/**
 * The webhook outbox: each event is written in the transaction of what it reports, and sent at
 * least once, in order per `key` (a room, or a user), by whichever instance claims it
 * (`claimed_by` until `claimed_until`). `status`: pending, delivered, dead.
 */
export const webhookEvents = sqliteTable(
  'webhook_events',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    key: text('key').notNull(),
    type: text('type').notNull(),
    data: text('data').notNull(),
    createdAt: integer('created_at').notNull(),
    status: text('status', { enum: ['pending', 'delivered', 'dead'] })
      .notNull()
      .default('pending'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: integer('next_attempt_at').notNull(),
    /** Which lane sends it: a hash of `key` (one instance holds a lane at a time). */
    lane: integer('lane').notNull().default(0),
    /**
     * Where a room's event stands among its messages: the room's newest message id when it was
     * written. It is sent after that message and before any later one.
     */
    position: integer('position').notNull().default(0),
    lastError: text('last_error'),
    finishedAt: integer('finished_at'),
  },
  (t) => [index('webhook_events_pending_lane_position').on(t.lane, t.position, t.id).where(sql`${t.status} = 'pending'`), index('webhook_events_dead_id').on(t.id).where(sql`${t.status} = 'dead'`)],
)

/** Who sends each lane of the outbox now: `owner` until `until` (a lease it renews). */
export const webhookLanes = sqliteTable('webhook_lanes', {
  lane: integer('lane').primaryKey(),
  owner: text('owner'),
  until: integer('until'),
})

/** Reports of a message or a user, for moderation. */
export const reports = sqliteTable('reports', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  reporterId: text('reporter_id').notNull(),
  messageId: integer('message_id'),
  roomId: integer('room_id'),
  userId: text('user_id'),
  reason: text('reason').notNull(),
  createdAt: integer('created_at').notNull(),
})

/**
 * One row (id 1) about the database itself. `epoch` is drawn when the migration that creates the
 * table runs, so each new database has its own and keeps it: message ids from another epoch
 * (a replaced or restored database) mean nothing here. `webhooks_on`: 1 while the server last
 * started with webhooks on (the rooms' webhook cursors are current; see SqlOutbox.follow).
 */
export const meta = sqliteTable(
  'meta',
  {
    id: integer('id').primaryKey(),
    epoch: text('epoch').notNull(),
    webhooksOn: integer('webhooks_on').notNull().default(0),
    /** How many migrations this database has had, and the release that applied the last of them. */
    schemaVersion: integer('schema_version').notNull().default(0),
    migratedBy: text('migrated_by'),
  },
  (t) => [check('meta_one_row', sql`${t.id} = 1`)],
)

/**
 * Servers running on this database: each writes its row at start and every few seconds
 * (`seen_at`), and deletes it when it stops. Commands that must not run beside a server
 * (`renew-epoch`) look here; a row not seen for a while is a server that died.
 */
export const instances = sqliteTable('instances', {
  id: text('id').primaryKey(),
  host: text('host').notNull(),
  pid: integer('pid').notNull(),
  version: text('version').notNull(),
  startedAt: integer('started_at').notNull(),
  seenAt: integer('seen_at').notNull(),
})

export type RoomRow = Omit<typeof rooms.$inferSelect, 'lastMessageId' | 'lastMessageAt' | 'lastSeq' | 'webhookMessageId'>
export type RoomKind = RoomRow['kind']
/** What a room listing needs of each room (summaries): less to read and map than the whole row. */
export type ListedRoom = Pick<RoomRow, 'id' | 'name' | 'postId' | 'createdAt' | 'kind'>
export type MemberRole = (typeof members.$inferSelect)['role']
export type MessageRow = typeof messages.$inferSelect
export type InstanceRow = typeof instances.$inferSelect
