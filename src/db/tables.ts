import { sql, type SQLWrapper } from 'drizzle-orm'
import * as sqlite from 'drizzle-orm/sqlite-core'

/** How many lanes the webhook outbox has: a room's events go through lane `id % WEBHOOK_LANES`. */
export const WEBHOOK_LANES = 64

/**
 * The column builders of SQLite, and the form every dialect hands `defineTables`: the tables are
 * written once, each database giving its own types. Postgres's (pg-schema.ts) are typed as these:
 * the same names, columns and row shapes, so code written once over either set type-checks once.
 */
export const sqliteColumns = {
  dialect: 'sqlite' as 'sqlite' | 'postgres',
  /** The dialect's own builders of what is the same everywhere: text, keys, indexes, checks. */
  core: sqlite,
  table: sqlite.sqliteTable,
  /** An id the database assigns, ascending. */
  id: (name: string) => sqlite.integer(name).primaryKey({ autoIncrement: true }),
  /** A message's id (Postgres draws it from an identity after the room's lock, see postgres-store.ts). */
  messageId: (name: string) => sqlite.integer(name).primaryKey({ autoIncrement: true }),
  /** A 64-bit integer (ids, times in ms), read as a number: the app keeps them up to Number.MAX_SAFE_INTEGER. */
  int: (name: string) => sqlite.integer(name),
  /** A small integer (counts, flags, lanes, a pid). */
  smallInt: (name: string) => sqlite.integer(name),
}

export type DialectColumns = typeof sqliteColumns

/**
 * The messages that never count as unread: unsent ones, and silent system messages. Written once,
 * for the partial index and the queries that seek on it (a query uses the index only when its
 * condition reads the same).
 */
export const uncounted = (m: { deleted: SQLWrapper; silent: SQLWrapper }) => sql`(${m.deleted} = 1 or ${m.silent} = 1)`

/** The tables of both databases, from the builders of one (see `sqliteColumns`). */
export function defineTables(c: DialectColumns) {
  const { table, id, int, smallInt } = c
  const { text, index, uniqueIndex, primaryKey, check } = c.core

  /**
   * Chat rooms. `kind`: `open` (the seed's: anyone reads and sends; at most one per `post_id`),
   * `private` (its members; `owner_id` manages them) or `direct` (two members, one room per unordered
   * pair and post: `direct_key`). Rooms are never deleted.
   */
  const rooms = table(
    'rooms',
    {
      id: id('id'),
      name: text('name').notNull(),
      postId: int('post_id'),
      createdAt: int('created_at').notNull(),
      kind: text('kind', { enum: ['open', 'private', 'direct'] })
        .notNull()
        .default('open'),
      ownerId: text('owner_id'),
      directKey: text('direct_key'),
      /** The room's newest message and its time, moved with each append (the inbox orders by them). */
      lastMessageId: int('last_message_id'),
      lastMessageAt: int('last_message_at'),
      /**
       * How many messages the room has: the `seq` of its newest (unread counts subtract positions).
       * On Postgres it is the room's message counter, moved under the room's row lock, so per room
       * ids and `seq` values ascend in commit order and `seq` has no gaps.
       */
      lastSeq: int('last_seq').notNull().default(0),
      /**
       * Webhooks: the newest message whose `message.created` event is done (sent, or moved into the
       * outbox to be retried). Messages after it are the room's pending events: the messages table
       * is their log, so an append writes nothing more while webhooks are on.
       */
      webhookMessageId: int('webhook_message_id').notNull().default(0),
      /**
       * Grows by one with every stored change in the room (a message, an edit, an unsend, a
       * reaction added or removed), in the change's transaction: one order of every change, on every
       * instance (Postgres moves it under the room's row lock, like `last_seq`).
       */
      version: int('version').notNull().default(0),
      /** What the app's backend keeps on the room (JSON object, at most ROOM_DATA_BYTES): the post's title, price, picture. */
      data: text('data'),
      /** `archived`: read, never written (a post sold or gone); `active` again when the backend reopens it. */
      status: text('status', { enum: ['active', 'archived'] })
        .notNull()
        .default('active'),
      /** Slow mode: a user may send one message per this many seconds here (0: off). Read under the room's lock by appends. */
      slowModeSeconds: int('slow_mode_seconds').notNull().default(0),
    },
    (t) => [
      // The rooms whose messages wait to be sent, by lane (see WEBHOOK_LANES).
      index('rooms_webhook_behind')
        .on(sql`(${t.id} % ${sql.raw(String(WEBHOOK_LANES))})`, t.id)
        .where(sql`${t.lastMessageId} > ${t.webhookMessageId}`),
      uniqueIndex('rooms_open_post_id_unique').on(t.postId).where(sql`${t.postId} IS NOT NULL AND ${t.kind} = 'open'`),
      uniqueIndex('rooms_direct_key_unique').on(t.directKey).where(sql`${t.directKey} IS NOT NULL`),
      // The rooms about a post, of every kind (?post_id= on the rooms list).
      index('rooms_post_id_id').on(t.postId, t.id).where(sql`${t.postId} IS NOT NULL`),
    ],
  )

  /**
   * Who belongs to a room: the owner and members of private and direct rooms, and the participants
   * of open rooms (who sent a message or set a read marker there). `last_read_id`: their read marker.
   */
  const members = table(
    'members',
    {
      roomId: int('room_id')
        .notNull()
        .references(() => rooms.id),
      userId: text('user_id').notNull(),
      role: text('role', { enum: ['owner', 'member', 'participant'] }).notNull(),
      lastReadId: int('last_read_id').notNull().default(0),
      joinedAt: int('joined_at').notNull(),
      /**
       * Hidden from this user's inbox (나가기) while the room's newest message is at or below this id;
       * null when shown. A newer message brings the room back.
       */
      hiddenThrough: int('hidden_through'),
      /** When this member left a direct room (ms): it stays out of their inbox and the room takes no more messages. */
      leftAt: int('left_at'),
      /** When this user's newest message here was stored (ms): slow mode measures from it. */
      lastSentAt: int('last_sent_at'),
    },
    (t) => [primaryKey({ columns: [t.roomId, t.userId] }), index('members_user_id_room_id').on(t.userId, t.roomId)],
  )

  /** `user_id` has blocked `blocked_id`. */
  const blocks = table(
    'blocks',
    {
      userId: text('user_id').notNull(),
      blockedId: text('blocked_id').notNull(),
      createdAt: int('created_at').notNull(),
    },
    // Who blocked a user: their words are not pushed to them (webhooks' offline_user_ids).
    (t) => [primaryKey({ columns: [t.userId, t.blockedId] }), index('blocks_blocked_id_user_id').on(t.blockedId, t.userId)],
  )

  /** The last nickname, e-mail and picture the gateway forwarded for each user: names for people who are offline. */
  const users = table('users', {
    userId: text('user_id').primaryKey(),
    nickname: text('nickname').notNull(),
    email: text('email').notNull(),
    profileUrl: text('profile_url'),
    updatedAt: int('updated_at').notNull(),
  })

  /**
   * Messages with a snapshot of the sender as the gateway described them when sent.
   * `id` ascends in commit order, which is the order every client sees.
   */
  const messages = table(
    'messages',
    {
      id: c.messageId('id'),
      roomId: int('room_id')
        .notNull()
        .references(() => rooms.id),
      userId: text('user_id').notNull(),
      email: text('email').notNull(),
      nickname: text('nickname').notNull(),
      profileUrl: text('profile_url'),
      body: text('body').notNull(),
      clientMsgId: text('client_msg_id'),
      createdAt: int('created_at').notNull(),
      /** Its position in the room: 1, 2, 3… in id order, no gaps (so counts are subtractions). */
      seq: c.dialect === 'sqlite' ? int('seq').notNull().default(0) : int('seq').notNull(),
      /** The room's version its latest change made (its creation, an edit, an unsend, a reaction). */
      version: int('version').notNull().default(0),
      /** The room's version its creation made: a reader who has that version has seen the message. */
      createdVersion: int('created_version').notNull().default(0),
      /** When its author last edited it (ms), or null. */
      editedAt: int('edited_at'),
      /** 1 once unsent: its text is blanked (the original is in message_history) and its reactions gone. */
      deleted: smallInt('deleted').notNull().default(0),
      /** The message of the same room it answers, or null. */
      replyToId: int('reply_to_id'),
      /** Its reactions summed up as the wire shows them (JSON `[{emoji, count, user_ids}]`), or null for none: reads need no join. */
      reactions: text('reactions'),
      /** Its files and photos (JSON, see store/uploads.ts `StoredAttachment`), or null for none: reads need no join. Cleared when unsent. */
      attachments: text('attachments'),
      /** 1 for a system message: the app's backend speaking in the room (no sender: `user_id` is ''). */
      system: smallInt('system').notNull().default(0),
      /** 1 for a system message that does not count as unread. */
      silent: smallInt('silent').notNull().default(0),
      /** A system message's data (JSON object), or null. */
      data: text('data'),
    },
    (t) => [
      // Messages changed after they were sent, by the version of their latest change: what changed in
      // a room after a version (since_version=, GET …/changes/) beside the messages sent since,
      // which are the room's newest. Partial: a plain send writes no entry (a full index cost a
      // fifth of the stored messages per second).
      index('messages_room_id_changed_version').on(t.roomId, t.version).where(sql`${t.version} <> ${t.createdVersion}`),
      // Unsent messages and silent system messages after a read marker do not count as unread: few, so a seek finds them.
      index('messages_room_id_id_uncounted').on(t.roomId, t.id).where(uncounted(t)),
      // With seq, a room's position at a marker comes from the index alone (unread counts).
      index('messages_room_id_id_seq').on(t.roomId, t.id, t.seq),
      uniqueIndex('messages_client_msg_id_unique').on(t.roomId, t.userId, t.clientMsgId).where(sql`${t.clientMsgId} IS NOT NULL`),
      // Several instances write Postgres: the positions they draw under the room's lock stay unique.
      ...(c.dialect === 'postgres' ? [uniqueIndex('messages_room_id_seq').on(t.roomId, t.seq)] : []),
    ],
  )

  /** Who reacted to a message with which emoji (one row per person and emoji; `messages.reactions` sums them up). */
  const reactions = table(
    'reactions',
    {
      messageId: int('message_id')
        .notNull()
        .references(() => messages.id),
      emoji: text('emoji').notNull(),
      userId: text('user_id').notNull(),
      createdAt: int('created_at').notNull(),
    },
    (t) => [primaryKey({ columns: [t.messageId, t.emoji, t.userId] })],
  )

  /**
   * What changed a room's version without changing a message: a member removed (`evict`), the room
   * itself changed (`update`, with `data` the room's summary as the change left it). Written in the
   * change's transaction, so a receiver that reads a gap in a room's versions back from the database
   * finds it in its place, as it finds messages.
   */
  const roomEvents = table(
    'room_events',
    {
      roomId: int('room_id')
        .notNull()
        .references(() => rooms.id),
      version: int('version').notNull(),
      kind: text('kind', { enum: ['evict', 'ban', 'update'] }).notNull(),
      /** `evict`: who was removed; `ban`: who was banned; `update`: who changed it ('' for the app's backend). */
      userId: text('user_id').notNull(),
      createdAt: int('created_at').notNull(),
      data: text('data'),
    },
    (t) => [primaryKey({ columns: [t.roomId, t.version] })],
  )

  /**
   * The texts a message had, for service calls (GET /chat/v1/admin/messages/{id}/history/): written
   * when it is first edited or unsent (its original, `created`) and at each change (`edited` with the
   * new text, `deleted` with the text it had), purged after DELETED_RETENTION_DAYS.
   */
  const messageHistory = table(
    'message_history',
    {
      id: id('id'),
      messageId: int('message_id').notNull(),
      body: text('body').notNull(),
      at: int('at').notNull(),
      action: text('action', { enum: ['created', 'edited', 'deleted'] }).notNull(),
      /** Who made the change: a user id, or null for the app's backend (a service call). */
      by: text('by'),
    },
    (t) => [index('message_history_message_id').on(t.messageId, t.id), index('message_history_at').on(t.at)],
  )

  /**
   * Files and photos uploaded for messages (the bytes are in the file storage, under keys made from
   * `id`). The send that attaches an upload `claim`s it first (two sends cannot both take it), then
   * links it to its message (`message_id`) in the append's own transaction: an upload with a message
   * is never cleaned up as unattached. `delete_at`: when its files go (an unattached upload's expiry,
   * an unsent message's retention); the row stays a day after its creation, so the daily quota
   * still counts it.
   */
  const uploads = table(
    'uploads',
    {
      id: text('id').primaryKey(),
      userId: text('user_id').notNull(),
      kind: text('kind', { enum: ['image', 'file'] }).notNull(),
      contentType: text('content_type').notNull(),
      size: int('size').notNull(),
      name: text('name').notNull(),
      width: int('width'),
      height: int('height'),
      /** The thumbnail's content type, or null without one. */
      thumbnailType: text('thumbnail_type'),
      createdAt: int('created_at').notNull(),
      /** Past this (ms), an upload not attached yet cannot be, and its files are deleted. */
      expiresAt: int('expires_at').notNull(),
      /** Which send is attaching it (its room and client_msg_id, or a one-off token). */
      claim: text('claim'),
      messageId: int('message_id'),
      roomId: int('room_id'),
      /** When its files are to be deleted (ms), or null while they are kept. */
      deleteAt: int('delete_at'),
      /** 1 once its files are deleted. */
      filesDeleted: smallInt('files_deleted').notNull().default(0),
    },
    (t) => [
      // The daily quota: a user's uploads of the last day.
      index('uploads_user_id_created_at').on(t.userId, t.createdAt),
      // The cleaner: uploads never attached, by expiry; files due for deletion; rows done with.
      index('uploads_unattached_expires_at').on(t.expiresAt).where(sql`${t.messageId} IS NULL AND ${t.deleteAt} IS NULL`),
      index('uploads_due_delete_at').on(t.deleteAt).where(sql`${t.deleteAt} IS NOT NULL AND ${t.filesDeleted} = 0`),
      index('uploads_message_id').on(t.messageId).where(sql`${t.messageId} IS NOT NULL`),
    ],
  )

  /**
   * The webhook outbox: each event is written in the transaction of what it reports, and sent at
   * least once, in order per `key` (a room, or a user), by the instance holding its lane
   * (webhook_lanes). `status`: pending, delivered, dead.
   */
  const webhookEvents = table(
    'webhook_events',
    {
      id: id('id'),
      key: text('key').notNull(),
      type: text('type').notNull(),
      data: text('data').notNull(),
      createdAt: int('created_at').notNull(),
      status: text('status', { enum: ['pending', 'delivered', 'dead'] })
        .notNull()
        .default('pending'),
      attempts: smallInt('attempts').notNull().default(0),
      nextAttemptAt: int('next_attempt_at').notNull(),
      /** Which lane sends it: a hash of `key` (one instance holds a lane at a time). */
      lane: smallInt('lane').notNull().default(0),
      /**
       * Where a room's event stands among its messages: the room's newest message id when it was
       * written. It is sent after that message and before any later one.
       */
      position: int('position').notNull().default(0),
      lastError: text('last_error'),
      finishedAt: int('finished_at'),
    },
    (t) => [index('webhook_events_pending_lane_position').on(t.lane, t.position, t.id).where(sql`${t.status} = 'pending'`), index('webhook_events_dead_id').on(t.id).where(sql`${t.status} = 'dead'`)],
  )

  /** Who sends each lane of the outbox now: `owner` until `until` (a lease it renews). */
  const webhookLanes = table('webhook_lanes', {
    lane: smallInt('lane').primaryKey(),
    owner: text('owner'),
    until: int('until'),
  })

  /** Reports of a message or a user, for moderation: `open` until a person resolves or dismisses them. */
  const reports = table(
    'reports',
    {
      id: id('id'),
      reporterId: text('reporter_id').notNull(),
      messageId: int('message_id'),
      roomId: int('room_id'),
      userId: text('user_id'),
      reason: text('reason').notNull(),
      createdAt: int('created_at').notNull(),
      status: text('status', { enum: ['open', 'resolved', 'dismissed'] })
        .notNull()
        .default('open'),
      /** When and by whom (null: the app's backend) it was resolved or dismissed. */
      closedAt: int('closed_at'),
      closedBy: text('closed_by'),
    },
    (t) => [index('reports_status_id').on(t.status, t.id)],
  )

  /**
   * Who moderates: a user, in one room or (`room_id` 0) in every room. A moderator may unsend any
   * message, mute, ban and set slow mode where they moderate.
   */
  const moderators = table(
    'moderators',
    {
      userId: text('user_id').notNull(),
      roomId: int('room_id').notNull(),
      createdAt: int('created_at').notNull(),
    },
    (t) => [primaryKey({ columns: [t.userId, t.roomId] })],
  )

  /**
   * Mutes and bans of a user in a room. A mute (until `until`, or for good when null) leaves them
   * reading but not writing; a ban ends their place in the room. Appends and changes read them
   * under the room's lock, as they read membership: a mute answered before a send commits wins.
   */
  const sanctions = table(
    'sanctions',
    {
      roomId: int('room_id')
        .notNull()
        .references(() => rooms.id),
      userId: text('user_id').notNull(),
      kind: text('kind', { enum: ['mute', 'ban'] }).notNull(),
      /** When it ends (ms), or null: until lifted. */
      until: int('until'),
      /** Who imposed it (null: the app's backend). */
      by: text('by'),
      createdAt: int('created_at').notNull(),
    },
    (t) => [primaryKey({ columns: [t.roomId, t.userId, t.kind] })],
  )

  /**
   * Word filters, applied to messages, edits and room names before they are stored: `pattern` a
   * word (matched ignoring case) or, with `regex`, a regular expression; `rooms` a JSON array of
   * room ids, or null for every room.
   */
  const wordFilters = table('word_filters', {
    id: id('id'),
    pattern: text('pattern').notNull(),
    regex: smallInt('regex').notNull().default(0),
    action: text('action', { enum: ['refuse', 'mask', 'flag'] }).notNull(),
    rooms: text('rooms'),
    createdAt: int('created_at').notNull(),
  })

  /**
   * Every moderation action: a message edited or unsent by someone other than its author, a mute, a
   * ban, their lifting, a filter change, a report resolved or dismissed. `actor` null: the app's
   * backend; `data`: the action's details (JSON).
   */
  const auditLog = table(
    'audit_log',
    {
      id: id('id'),
      at: int('at').notNull(),
      actor: text('actor'),
      action: text('action').notNull(),
      roomId: int('room_id'),
      userId: text('user_id'),
      messageId: int('message_id'),
      data: text('data'),
    },
    (t) => [index('audit_log_room_id_id').on(t.roomId, t.id), index('audit_log_user_id_id').on(t.userId, t.id)],
  )

  /**
   * One row (id 1) about the database itself. `epoch` is drawn when the migration that creates the
   * table runs, so each new database has its own and keeps it: message ids from another epoch
   * (a replaced or restored database) mean nothing here. `webhooks_on`: 1 while the server last
   * started with webhooks on (the rooms' webhook cursors are current; see SqlOutbox.follow).
   */
  const meta = table(
    'meta',
    {
      id: smallInt('id').primaryKey(),
      epoch: text('epoch').notNull(),
      webhooksOn: smallInt('webhooks_on').notNull().default(0),
      /** How many migrations this database has had, and the release that applied the last of them. */
      schemaVersion: smallInt('schema_version').notNull().default(0),
      migratedBy: text('migrated_by'),
    },
    (t) => [check('meta_one_row', sql`${t.id} = 1`)],
  )

  /**
   * Servers running on this database: each writes its row at start and every few seconds
   * (`seen_at`), and deletes it when it stops. Commands that must not run beside a server
   * (`renew-epoch`) look here; a row not seen for a while is a server that died.
   */
  const instances = table('instances', {
    id: text('id').primaryKey(),
    host: text('host').notNull(),
    pid: smallInt('pid').notNull(),
    version: text('version').notNull(),
    startedAt: int('started_at').notNull(),
    seenAt: int('seen_at').notNull(),
  })

  return { rooms, members, blocks, users, messages, reactions, messageHistory, roomEvents, uploads, webhookEvents, webhookLanes, reports, moderators, sanctions, wordFilters, auditLog, meta, instances }
}
