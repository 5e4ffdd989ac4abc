import { and, eq, getTableColumns, sql } from 'drizzle-orm'
import { alias } from 'drizzle-orm/sqlite-core'
import { messageChangedEvent, writeEvents, type Outbox } from './outbox.ts'
import { first, lock, rows, run, type QueryBuilder, type SqlDatabase } from './sql-database.ts'
import { roleIn } from './sql-membership.ts'
import { NotAMemberError, type MessageRow, type ReactionSum } from './store.ts'

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
  }
}

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
  at: number
  rules: ChangeRules
}

export interface ChangeRules {
  editWindowMs: number
  unsendWindowMs: number
  /** Distinct emojis a message may carry. */
  maxReactions: number
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
 * Changes a message in one transaction, written once for both databases: the room's row locked
 * first (Postgres: appends, member removals and other changes take turns on it), the membership
 * and the rules checked there, the room's version moved by one, the message written with it, the
 * original kept (message_history) and the webhook event written. A refusal throws before anything
 * is written.
 */
export function changeMessage(database: SqlDatabase, outbox: Outbox, request: ChangeRequest): Promise<ChangeResult> {
  const { t } = database
  const { columns, q, joinQuote } = messageSelection(t)
  const { roomId, messageId, by, service, change, at, rules } = request
  return database.transaction(function* (tx) {
    const [room] = yield* lock(tx.select({ version: t.rooms.version, kind: t.rooms.kind }).from(t.rooms).where(eq(t.rooms.id, roomId)))
    if (!room) throw new ChangeRefused('message_not_found')
    const role = room.kind === 'open' ? null : yield* roleIn(t, tx, roomId, by)
    if (!service && room.kind !== 'open' && role !== 'owner' && role !== 'member') throw new NotAMemberError(roomId, by)
    const found = yield* first(
      tx
        .select(columns)
        .from(t.messages)
        .leftJoin(q, joinQuote)
        .where(and(eq(t.messages.id, messageId), eq(t.messages.roomId, roomId))),
    )
    if (!found) throw new ChangeRefused('message_not_found')
    const message = toMessageRow(found)
    const authored = message.userId === by
    let set: Partial<typeof t.messages.$inferInsert>
    let made: MadeChange
    let kept: { action: 'edited' | 'deleted'; body: string } | null = null
    switch (change.type) {
      case 'edit':
        if (!authored) throw new ChangeRefused('not_author')
        if (message.deleted) throw new ChangeRefused('deleted')
        if (!service && at - message.createdAt > rules.editWindowMs) throw new ChangeRefused('edit_window_closed')
        if (change.body === message.body) return { message, made: null }
        set = { body: change.body, editedAt: at }
        made = { type: 'edited' }
        kept = { action: 'edited', body: change.body }
        break
      case 'unsend':
        if (message.deleted) return { message, made: null }
        if (!service && role !== 'owner') {
          if (!authored) throw new ChangeRefused('not_author')
          if (at - message.createdAt > rules.unsendWindowMs) throw new ChangeRefused('unsend_window_closed')
        }
        set = { body: '', deleted: 1, reactions: null }
        made = { type: 'deleted' }
        kept = { action: 'deleted', body: message.body }
        yield* run(tx.delete(t.reactions).where(eq(t.reactions.messageId, messageId)))
        break
      case 'react': {
        if (message.deleted) throw new ChangeRefused('deleted')
        const reactions = yield* react(t, tx, message, by, change.emoji, change.add, at, rules.maxReactions)
        if (reactions === null) return { message, made: null }
        set = { reactions: reactions.length === 0 ? null : JSON.stringify(reactions) }
        made = { type: 'reaction', emoji: change.emoji, userId: by, added: change.add }
        break
      }
    }
    const version = room.version + 1
    yield* run(tx.update(t.rooms).set({ version }).where(eq(t.rooms.id, roomId)))
    yield* run(
      tx
        .update(t.messages)
        .set({ ...set, version })
        .where(eq(t.messages.id, messageId)),
    )
    const changed: MessageRow = { ...message, ...(set.body === undefined ? {} : { body: set.body }), ...(set.editedAt ? { editedAt: set.editedAt } : {}), version, deleted: message.deleted || set.deleted === 1 }
    if (set.reactions !== undefined) changed.reactions = set.reactions === null ? [] : (JSON.parse(set.reactions) as ReactionSum[])
    if (kept) {
      // The original is written at the first change: until then the message itself holds it.
      const history = yield* first(tx.select({ id: t.messageHistory.id }).from(t.messageHistory).where(eq(t.messageHistory.messageId, messageId)).limit(1))
      const entries: (typeof t.messageHistory.$inferInsert)[] = [{ messageId, body: kept.body, at, action: kept.action, by: service && !authored ? null : by }]
      if (!history) entries.unshift({ messageId, body: message.body, at: message.createdAt, action: 'created', by: message.userId })
      yield* run(tx.insert(t.messageHistory).values(entries))
      yield* writeEvents(t, outbox, tx, [messageChangedEvent(made.type === 'deleted' ? 'message.deleted' : 'message.updated', changed)])
    }
    return { message: changed, made }
  })
}

/**
 * A step: adds or takes back `userId`'s `emoji`, and gives the message's reactions summed up
 * anew, or null when nothing changed (added twice, or taken back without being there). Under the
 * room's lock, so counts stay exact however many react at once; the first names are read again
 * only when one of them took theirs back.
 */
function* react(t: Tables, tx: QueryBuilder, message: MessageRow, userId: string, emoji: string, add: boolean, at: number, maxReactions: number) {
  const sums = message.reactions.map((r) => ({ ...r, userIds: [...r.userIds] }))
  const sum = sums.find((r) => r.emoji === emoji)
  const key = and(eq(t.reactions.messageId, message.id), eq(t.reactions.emoji, emoji), eq(t.reactions.userId, userId))
  if (add) {
    if (!sum && sums.length >= maxReactions) throw new ChangeRefused('too_many_reactions')
    const added = yield* rows(tx.insert(t.reactions).values({ messageId: message.id, emoji, userId, createdAt: at }).onConflictDoNothing().returning({ userId: t.reactions.userId }))
    if (added.length === 0) return null
    if (sum) {
      sum.count++
      if (sum.userIds.length < REACTION_NAMES) sum.userIds.push(userId)
    } else sums.push({ emoji, count: 1, userIds: [userId] })
    return sums
  }
  const removed = yield* rows(tx.delete(t.reactions).where(key).returning({ userId: t.reactions.userId }))
  if (removed.length === 0 || !sum) return removed.length === 0 ? null : sums
  sum.count--
  if (sum.count === 0) return sums.filter((r) => r !== sum)
  if (sum.userIds.includes(userId)) {
    const first = yield* rows(
      tx
        .select({ userId: t.reactions.userId })
        .from(t.reactions)
        .where(and(eq(t.reactions.messageId, message.id), eq(t.reactions.emoji, emoji)))
        .orderBy(t.reactions.createdAt, t.reactions.userId)
        .limit(REACTION_NAMES),
    )
    sum.userIds = first.map((r) => r.userId)
  }
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
