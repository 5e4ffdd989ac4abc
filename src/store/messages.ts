import { and, eq, getTableColumns, inArray, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/sqlite-core'
import { messageChangedEvent, messageFlaggedEvent, writeEvents, type Outbox } from './outbox.ts'
import { run, type QueryBuilder, type SqlDatabase, type Transaction } from './sql-database.ts'
import { closedRoom, NotAMemberError, type MessageRow, type ReactionSum, type Screened } from './rows.ts'
import { inForce, sanctionedRoom, sanctionRefusal } from './write-rules.ts'
import { closedDirectRoom } from './membership.ts'
import { unsentFilesStatement, type StoredAttachment } from './uploads.ts'

type Tables = SqlDatabase['t']

/** How many people a reaction names (`user_ids`); `count` says how many there are in all. */
const REACTION_NAMES = 10

/**
 * What reads select of a message: its own columns and, joined as `q`, the message it answers
 * (read with it, so an unsent original shows as unsent in every reply at once).
 */
export function messageSelection(t: Tables) {
  const q = alias(t.messages, 'q')
  const columns = { ...getTableColumns(t.messages), quoteUserId: q.userId, quoteNickname: q.nickname, quoteBody: q.body, quoteDeleted: q.deleted }
  return { q, columns, joinQuote: eq(q.id, t.messages.replyToId) }
}

/** A message's row as `messageSelection` reads it (the quote's columns null without one). */
export type StoredMessage = typeof import('../db/schema.ts').messages.$inferSelect & { quoteUserId: string | null; quoteNickname: string | null; quoteBody: string | null; quoteDeleted: number | null }

/** A stored message as the rest of the server sees it. */
export function toMessageRow(row: StoredMessage): MessageRow {
  return {
    id: row.id,
    roomId: row.roomId,
    userId: row.userId,
    email: row.email,
    nickname: row.nickname,
    profileUrl: row.profileUrl,
    body: row.body,
    clientMsgId: row.clientMsgId,
    createdAt: row.createdAt,
    seq: row.seq,
    version: row.version,
    createdVersion: row.createdVersion,
    editedAt: row.editedAt,
    deleted: row.deleted === 1,
    replyTo: row.replyToId === null || row.quoteUserId === null ? null : { id: row.replyToId, userId: row.quoteUserId, nickname: row.quoteNickname ?? '', body: row.quoteBody ?? '', deleted: row.quoteDeleted === 1 },
    reactions: row.reactions === null ? [] : (JSON.parse(row.reactions) as ReactionSum[]),
    attachments: row.attachments === null ? [] : (JSON.parse(row.attachments) as StoredAttachment[]),
    system: row.system === 1,
    silent: row.silent === 1,
    data: row.data === null ? null : (JSON.parse(row.data) as Record<string, unknown>),
  }
}

/** A message's attachments as its column keeps them (null for none). */
export const attachmentsColumn = (attachments: readonly StoredAttachment[] | undefined) => (attachments && attachments.length > 0 ? JSON.stringify(attachments) : null)

/** A change someone asks of a message. */
export type MessageChange = { type: 'edit'; body: string } | { type: 'unsend' } | { type: 'react'; emoji: string; add: boolean }

/** A change that was made: what the room hears (`chat.message.updated`, `chat.message.deleted`, `chat.reaction`). */
export type MadeChange = { type: 'edited' } | { type: 'deleted' } | { type: 'reaction'; emoji: string; userId: string; added: boolean }

/** Who asks for a change, where, and by which rules. */
export interface ChangeRequest {
  roomId: number
  messageId: number
  /** The user asking (for a service call, the user it names). */
  by: string
  /** A service call (the app's backend): not held to membership, windows or authorship of unsends. */
  service: boolean
  change: MessageChange
  /** What moderation made of an edit's text (see `Screened`). */
  screened?: Screened
  at: number
  rules: ChangeRules
}

export interface ChangeRules {
  editWindowMs: number
  unsendWindowMs: number
  /** Distinct emojis a message may carry. */
  maxReactions: number
  /** How long an unsent message's files are kept before they are deleted. */
  fileRetentionMs: number
}

/** Why a change was refused (its REST status and `chat.error` code). */
export type ChangeRefusal = 'message_not_found' | 'not_author' | 'edit_window_closed' | 'unsend_window_closed' | 'deleted' | 'too_many_reactions'

export class ChangeRefused extends Error {
  constructor(readonly code: ChangeRefusal) {
    super(code)
    this.name = 'ChangeRefused'
  }
}

/** What a change did: the message as it is now, and the change made (null when it was so already: nothing stored, nothing to hear). */
export interface ChangeResult {
  message: MessageRow
  made: MadeChange | null
}

/**
 * The statements of changes, built once per database (see `SqlDatabase.statement`): a change is a
 * handful of small statements, and building them anew each time cost several times their running.
 */
export function prepareChanges(database: SqlDatabase) {
  const { t } = database
  const p = sql.placeholder
  const { columns, q, joinQuote } = messageSelection(t)
  const { messages, reactions, messageHistory } = t
  const reaction = and(eq(reactions.messageId, p('messageId')), eq(reactions.emoji, p('emoji')))
  return {
    room: database.statement(
      (tx) =>
        tx
          .select({ version: t.rooms.version, kind: t.rooms.kind, status: t.rooms.status, direct: closedDirectRoom(t, t.rooms), sanctioned: sanctionedRoom(t, t.rooms) })
          .from(t.rooms)
          .where(eq(t.rooms.id, p('roomId'))),
      'lock',
    ),
    role: database.statement(
      (tx) =>
        tx
          .select({ role: t.members.role })
          .from(t.members)
          .where(and(eq(t.members.roomId, p('roomId')), eq(t.members.userId, p('userId')))),
      'rows',
    ),
    message: database.statement(
      (tx) =>
        tx
          .select(columns)
          .from(messages)
          .leftJoin(q, joinQuote)
          .where(and(eq(messages.id, p('messageId')), eq(messages.roomId, p('roomId')))),
      'rows',
    ),
    roomVersion: database.statement(
      (tx) =>
        tx
          .update(t.rooms)
          .set({ version: sql`${p('version')}` })
          .where(eq(t.rooms.id, p('roomId'))),
      'run',
    ),
    edited: database.statement(
      (tx) =>
        tx
          .update(messages)
          .set({ body: sql`${p('body')}`, editedAt: sql`${p('at')}`, version: sql`${p('version')}` })
          .where(eq(messages.id, p('messageId'))),
      'run',
    ),
    unsent: database.statement(
      (tx) =>
        tx
          .update(messages)
          .set({ body: '', deleted: 1, reactions: null, attachments: null, version: sql`${p('version')}` })
          .where(eq(messages.id, p('messageId'))),
      'run',
    ),
    reacted: database.statement(
      (tx) =>
        tx
          .update(messages)
          .set({ reactions: sql`${p('reactions')}`, version: sql`${p('version')}` })
          .where(eq(messages.id, p('messageId'))),
      'run',
    ),
    unsentFiles: unsentFilesStatement(database),
    forgetReactions: database.statement((tx) => tx.delete(reactions).where(eq(reactions.messageId, p('messageId'))), 'run'),
    addReaction: database.statement(
      (tx) =>
        tx
          .insert(reactions)
          .values({ messageId: p('messageId'), emoji: p('emoji'), userId: p('userId'), createdAt: p('at') })
          .onConflictDoNothing()
          .returning({ userId: reactions.userId }),
      'rows',
    ),
    takeReaction: database.statement(
      (tx) =>
        tx
          .delete(reactions)
          .where(and(reaction, eq(reactions.userId, p('userId'))))
          .returning({ userId: reactions.userId }),
      'rows',
    ),
    firstReactors: database.statement((tx) => tx.select({ userId: reactions.userId }).from(reactions).where(reaction).orderBy(reactions.createdAt, reactions.userId).limit(REACTION_NAMES), 'rows'),
    kept: database.statement(
      (tx) =>
        tx
          .select({ id: messageHistory.id })
          .from(messageHistory)
          .where(eq(messageHistory.messageId, p('messageId')))
          .limit(1),
      'rows',
    ),
    keep: database.statement((tx) => tx.insert(messageHistory).values({ messageId: p('messageId'), body: p('body'), at: p('at'), action: p('action'), by: p('by') }), 'run'),
    sanctions: database.statement(
      (tx) =>
        tx
          .select({ kind: t.sanctions.kind, until: t.sanctions.until })
          .from(t.sanctions)
          .where(and(eq(t.sanctions.roomId, p('roomId')), eq(t.sanctions.userId, p('userId')))),
      'rows',
    ),
    moderates: database.statement(
      (tx) =>
        tx
          .select({ roomId: t.moderators.roomId })
          .from(t.moderators)
          .where(and(eq(t.moderators.userId, p('userId')), inArray(t.moderators.roomId, [0, p('roomId')])))
          .limit(1),
      'rows',
    ),
    audit: database.statement((tx) => tx.insert(t.auditLog).values({ at: p('at'), actor: p('actor'), action: p('action'), roomId: p('roomId'), userId: p('userId'), messageId: p('messageId') }), 'run'),
  }
}

export type ChangeStatements = ReturnType<typeof prepareChanges>

/**
 * Changes a message in one transaction, written once for both databases: the room's row locked
 * first (Postgres: appends, member removals and other changes take turns on it), the membership
 * and the rules checked there, the room's version moved by one, the message written with it, the
 * original kept (message_history) and the webhook event written. A refusal throws before anything
 * is written.
 */
export function changeMessage(database: SqlDatabase, statements: ChangeStatements, outbox: Outbox, request: ChangeRequest): Promise<ChangeResult> {
  return database.transaction(changeSteps(database, statements, outbox, request))
}

/** The body of a message's change (see `changeMessage`): for a transaction of its own, or a savepoint in a batch of them (sqlite-store.ts). */
export function changeSteps(database: SqlDatabase, statements: ChangeStatements, outbox: Outbox, request: ChangeRequest): Transaction<ChangeResult> {
  const { t } = database
  const s = statements
  const { roomId, messageId, by, service, change, at, rules, screened } = request
  return function* (tx) {
    const [room] = yield* s.room({ roomId })
    if (!room) throw new ChangeRefused('message_not_found')
    const role = room.kind === 'open' ? null : ((yield* s.role({ roomId, userId: by }))[0]?.role ?? null)
    if (!service && room.kind !== 'open' && role !== 'owner' && role !== 'member') throw new NotAMemberError(roomId, by)
    // An archived room, or a direct room one of the two left, is read, not written (the app's backend still may).
    const closed = service ? null : closedRoom(roomId, room.status, room.direct)
    if (closed) throw closed
    // Muted or banned: read, not written (see write-rules.ts).
    const sanctioned = service || room.sanctioned === 0 ? null : sanctionRefusal(roomId, by, inForce(yield* s.sanctions({ roomId, userId: by }), at))
    if (sanctioned) throw sanctioned
    const [found] = yield* s.message({ messageId, roomId })
    if (!found) throw new ChangeRefused('message_not_found')
    const message = toMessageRow(found)
    const authored = message.userId === by
    const version = room.version + 1
    let changed: MessageRow
    let made: MadeChange
    let kept: { action: 'edited' | 'deleted'; body: string } | null = null
    switch (change.type) {
      case 'edit':
        if (!authored) throw new ChangeRefused('not_author')
        if (message.deleted) throw new ChangeRefused('deleted')
        if (!service && at - message.createdAt > rules.editWindowMs) throw new ChangeRefused('edit_window_closed')
        if (change.body === message.body) return { message, made: null }
        yield* s.edited({ body: change.body, at, version, messageId })
        changed = { ...message, body: change.body, editedAt: at, version }
        made = { type: 'edited' }
        // Masked: the history keeps the text as written.
        kept = { action: 'edited', body: screened?.original ?? change.body }
        break
      case 'unsend':
        if (message.deleted) return { message, made: null }
        // Its author within the window; anyone's, at any age: the app's backend, a private room's
        // owner, the room's moderators (read here, in the unsend's transaction).
        if (!service && role !== 'owner') {
          if (authored) {
            if (at - message.createdAt > rules.unsendWindowMs) throw new ChangeRefused('unsend_window_closed')
          } else if ((yield* s.moderates({ userId: by, roomId })).length === 0) throw new ChangeRefused('not_author')
        }
        yield* s.forgetReactions({ messageId })
        yield* s.unsent({ version, messageId })
        if (message.attachments.length > 0) yield* s.unsentFiles({ messageId, deleteAt: at + rules.fileRetentionMs })
        changed = { ...message, body: '', deleted: true, reactions: [], attachments: [], version }
        made = { type: 'deleted' }
        kept = { action: 'deleted', body: message.body }
        break
      case 'react': {
        if (message.deleted) throw new ChangeRefused('deleted')
        const reactions = yield* react(s, message, by, change.emoji, change.add, at, rules.maxReactions)
        if (reactions === null) return { message, made: null }
        yield* s.reacted({ reactions: reactions.length === 0 ? null : JSON.stringify(reactions), version, messageId })
        changed = { ...message, reactions, version }
        made = { type: 'reaction', emoji: change.emoji, userId: by, added: change.add }
        break
      }
    }
    yield* s.roomVersion({ version, roomId })
    if (kept) {
      // The original is written at the first change: until then the message itself holds it.
      if ((yield* s.kept({ messageId })).length === 0) yield* s.keep({ messageId, body: message.body, at: message.createdAt, action: 'created', by: message.userId })
      yield* s.keep({ messageId, body: kept.body, at, action: kept.action, by: service && !authored ? null : by })
      const flagged = screened && screened.reasons.length > 0 ? [messageFlaggedEvent(changed, screened, false)] : []
      yield* writeEvents(t, outbox, tx, [messageChangedEvent(made.type === 'deleted' ? 'message.deleted' : 'message.updated', changed), ...flagged])
      // A moderation action: someone unsent another's message.
      if (!authored) yield* s.audit({ at, actor: service ? null : by, action: made.type === 'deleted' ? 'message.unsent' : 'message.edited', roomId, userId: message.userId, messageId })
    }
    return { message: changed, made }
  }
}

/**
 * Steps: what moderation made of a message just stored, in its append's transaction: the text as
 * written when it was masked (kept as its history's first entry, as an edit keeps an original) and
 * its `message.flagged` event.
 */
export function* screenedWrites(t: Tables, outbox: Outbox, tx: QueryBuilder, message: MessageRow, screened: Screened) {
  if (screened.original !== null) yield* run(tx.insert(t.messageHistory).values({ messageId: message.id, body: screened.original, at: message.createdAt, action: 'created', by: message.userId }))
  if (screened.reasons.length > 0) yield* writeEvents(t, outbox, tx, [messageFlaggedEvent(message, screened, true)])
}

/**
 * A step: adds or takes back `userId`'s `emoji`, and gives the message's reactions summed up
 * anew, or null when nothing changed (added twice, or taken back without being there). Under the
 * room's lock, so counts stay exact however many react at once; the first names are read again
 * only when one of them took theirs back.
 */
function* react(s: ChangeStatements, message: MessageRow, userId: string, emoji: string, add: boolean, at: number, maxReactions: number) {
  const sums = message.reactions.map((r) => ({ ...r, userIds: [...r.userIds] }))
  const sum = sums.find((r) => r.emoji === emoji)
  const key = { messageId: message.id, emoji, userId }
  if (add) {
    if (!sum && sums.length >= maxReactions) throw new ChangeRefused('too_many_reactions')
    if ((yield* s.addReaction({ ...key, at })).length === 0) return null
    if (sum) {
      sum.count++
      if (sum.userIds.length < REACTION_NAMES) sum.userIds.push(userId)
    } else sums.push({ emoji, count: 1, userIds: [userId] })
    return sums
  }
  if ((yield* s.takeReaction(key)).length === 0) return null
  if (!sum) return sums
  sum.count--
  if (sum.count === 0) return sums.filter((r) => r !== sum)
  if (sum.userIds.includes(userId)) sum.userIds = (yield* s.firstReactors({ messageId: message.id, emoji })).map((r) => r.userId)
  return sums
}

/** The texts a message had (service calls), oldest first; empty for a message never changed. */
export async function messageHistory({ db, t }: SqlDatabase, messageId: number) {
  return db
    .select({ body: t.messageHistory.body, at: t.messageHistory.at, action: t.messageHistory.action, by: t.messageHistory.by })
    .from(t.messageHistory)
    .where(eq(t.messageHistory.messageId, messageId))
    .orderBy(t.messageHistory.id)
}

/** Forgets the kept texts of messages last changed before `before` (a message's texts go together); how many rows. */
export async function purgeHistory({ db, t }: SqlDatabase, before: number): Promise<number> {
  const h = t.messageHistory
  const stale = db.select({ id: h.messageId }).from(h).groupBy(h.messageId).having(sql`max(${h.at}) < ${before}`)
  const gone = await db.delete(h).where(sql`${h.messageId} in ${stale}`).returning({ id: h.id })
  return gone.length
}
