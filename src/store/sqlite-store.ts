import { Database, type SQLQueryBindings } from 'bun:sqlite'
import { statfsSync } from 'node:fs'
import { dirname } from 'node:path'
import { and, eq, inArray, Param, Placeholder, sql } from 'drizzle-orm'
import type { BatchObserver } from '../metrics.ts'
import * as tables from '../db/schema.ts'
import { members, messages, moderators, rooms, sanctions, type MemberRole, type RoomKind, type RoomStatus } from '../db/schema.ts'
import { attachmentsColumn, messageSelection, screenedWrites, toMessageRow, type ChangeRequest, type ChangeResult } from './messages.ts'
import { claimedBy } from './uploads.ts'
import { migrateSqlite, openSqlite, type SqliteDb } from '../db/sqlite.ts'
import { openDataFile } from './data-file.ts'
import { WalCheckpointer } from './checkpointer.ts'
import type { Logger } from '../logger.ts'
import { instanceRows } from './instances.ts'
import { SqlStore } from './sql-store.ts'
import { runAfterCommit, runSqliteSteps, sqliteDatabase } from './sql-database.ts'
import { StorageProblem } from './storage-problem.ts'
import { GroupCommit, Refusal, type WrittenBatch } from './group-commit.ts'
import { SavepointBatch } from './savepoint-batch.ts'
import { StoreClosedError } from './turn-queue.ts'
import { closedRoom, createdRow, NotAMemberError, systemColumns, type AppendResult, type MessageRow, type NewMessage, type RoomClosedError, type Store } from './store.ts'
import { inForce, roomAsAppendsRead, sanctionRefusal, slowModeRefusal, slowModeWait } from './write-rules.ts'

/** The first 16 bytes of every SQLite database file. */
const SQLITE_MAGIC = 'SQLite format 3\0'

/**
 * Below this much free space beside the data file, readiness says `storage_full`: a commit needs
 * room for its WAL frames and a checkpoint for the pages it copies back.
 */
const MIN_FREE_BYTES = 4 * 1024 * 1024

/**
 * A statement drizzle built (the schema stays the one source of truth) that bun:sqlite runs
 * directly, on the hot path: that skips drizzle's per-call placeholder filling and row mapping
 * (about a third of an insert's cost under load). `order` names the statement's placeholders in the
 * order their values are passed, checked once against the order drizzle wrote them in.
 */
function direct(db: SqliteDb, query: { sql: string; params: unknown[] }, order: readonly string[]) {
  const names = query.params.map((param) => {
    const inner = param instanceof Param ? param.value : param
    return inner instanceof Placeholder ? inner.name : `(a constant)`
  })
  if (names.join() !== order.join()) throw new Error(`unexpected statement parameters: ${names.join(', ')} (expected ${order.join(', ')})`)
  return db.$client.prepare<never, SQLQueryBindings[]>(query.sql)
}

/** The insert of a message at its position (`seq`) and version in the room: the new id, or null when the row already existed. */
function prepareInsert(db: SqliteDb): (message: NewMessage, at: Position) => number | null {
  const p = sql.placeholder
  const fields = ['roomId', 'userId', 'email', 'nickname', 'profileUrl', 'body', 'clientMsgId', 'createdAt', 'seq', 'version', 'createdVersion', 'deleted', 'replyToId', 'attachments', 'system', 'silent', 'data'] as const
  const query = db
    .insert(messages)
    .values(Object.fromEntries(fields.map((field) => [field, p(field)])) as Record<(typeof fields)[number], Placeholder>)
    .onConflictDoNothing()
    .toSQL()
  // run() and the rowid beat RETURNING by a fifth; a conflict (repeated client_msg_id) changes nothing.
  const statement = direct(db, query, fields)
  return (m, { seq, version }) => {
    const { system, silent, data } = systemColumns(m)
    const { changes, lastInsertRowid } = statement.run(
      m.roomId,
      m.userId,
      m.email,
      m.nickname,
      m.profileUrl,
      m.body,
      m.clientMsgId,
      m.createdAt,
      seq,
      version,
      version,
      0,
      m.replyTo?.id ?? null,
      attachmentsColumn(m.attachments),
      system,
      silent,
      data,
    )
    return changes === 0 ? null : Number(lastInsertRowid)
  }
}

/** Where a room's next message goes: its position and the room's version it makes. */
interface Position {
  seq: number
  version: number
}

/**
 * Where each room of a batch stands: its kind, its message count (the next message's position
 * is one more) and its version, read once per room per batch; at the end, each room's row gets its
 * count, version and newest message. It also says who may write to each room, read in the batch's
 * own transaction: a member removed before the batch commits is not one here.
 */
function prepareRoomPositions(db: SqliteDb) {
  const p = sql.placeholder
  const read = direct(
    db,
    db
      .select(roomAsAppendsRead(tables))
      .from(rooms)
      .where(eq(rooms.id, p('roomId')))
      .toSQL(),
    ['roomId'],
  )
  const write = direct(
    db,
    db
      .update(rooms)
      .set({ lastMessageId: sql`${p('id')}`, lastMessageAt: sql`${p('at')}`, lastSeq: sql`${p('seq')}`, version: sql`${p('version')}` })
      .where(eq(rooms.id, p('roomId')))
      .toSQL(),
    ['id', 'at', 'seq', 'version', 'roomId'],
  )
  // Read for every message to a private or direct room: its values by position, so no parameter
  // object is filled and no row object mapped per call (drizzle's prepared statements do both).
  const sender = direct(
    db,
    db
      .select({ role: members.role, lastSentAt: members.lastSentAt })
      .from(members)
      .where(and(eq(members.roomId, p('roomId')), eq(members.userId, p('userId'))))
      .toSQL(),
    ['roomId', 'userId'],
  )
  const sanctionsOf = db
    .select({ kind: sanctions.kind, until: sanctions.until })
    .from(sanctions)
    .where(and(eq(sanctions.roomId, p('roomId')), eq(sanctions.userId, p('userId'))))
    .prepare()
  const moderates = db
    .select({ roomId: moderators.roomId })
    .from(moderators)
    .where(and(eq(moderators.userId, p('userId')), inArray(moderators.roomId, [0, p('roomId')])))
    .prepare()
  return () => {
    const positions = new Map<number, { seq: number; version: number; newest: MessageRow | null; open: boolean; closed: RoomClosedError | null; slowModeSeconds: number; sanctioned: boolean; sentAt: Map<string, number> }>()
    const room = (roomId: number) => {
      let found = positions.get(roomId)
      if (!found) {
        const [seq, version, kind, status, direct, slowModeSeconds, sanctioned] = (read.values(roomId)[0] ?? [0, 0, null, 'active', 0, 0, 0]) as [number, number, RoomKind | null, RoomStatus, number, number, number]
        // A room that does not exist is left to the insert, which the foreign key refuses.
        positions.set(roomId, (found = { seq, version, newest: null, open: kind === null || kind === 'open', closed: closedRoom(roomId, status, direct), slowModeSeconds, sanctioned: sanctioned === 1, sentAt: new Map() }))
      }
      return found
    }
    return {
      /** The position and version the room's next message takes. */
      next(roomId: number): Position {
        const { seq, version } = room(roomId)
        return { seq: seq + 1, version: version + 1 }
      },
      /** True when the room is open: anyone may write, and a writer becomes a participant. */
      isOpen(roomId: number): boolean {
        return room(roomId).open
      },
      /**
       * Why the message may not be written to its room now, or null (see write-rules.ts): a room
       * that takes no messages but system ones (archived, left), a muted or banned sender, a sender
       * who is not a member (an open room and the app's backend need none), a sender slow mode
       * holds back (its owner and moderators are not).
       */
      refusal(m: NewMessage): Error | null {
        const r = room(m.roomId)
        if (m.system) return null
        if (r.closed) return r.closed
        if (m.viaService) return null
        if (r.sanctioned) {
          const refused = sanctionRefusal(m.roomId, m.userId, inForce(sanctionsOf.all({ roomId: m.roomId, userId: m.userId }), m.createdAt))
          if (refused) return refused
        }
        if (r.open && r.slowModeSeconds === 0) return null
        const [role, lastSentAt] = (sender.values(m.roomId, m.userId)[0] ?? [null, null]) as [MemberRole | null, number | null]
        if (!r.open && role !== 'owner' && role !== 'member') return new NotAMemberError(m.roomId, m.userId)
        if (r.slowModeSeconds === 0 || role === 'owner') return null
        const wait = slowModeWait(r.slowModeSeconds, r.sentAt.get(m.userId) ?? lastSentAt, m.createdAt)
        return wait > 0 && !moderates.get({ userId: m.userId, roomId: m.roomId }) ? slowModeRefusal(m.roomId, wait) : null
      },
      /** The message took that position. */
      taken(row: MessageRow): void {
        const taken = room(row.roomId)
        taken.seq++
        taken.version++
        taken.newest = row
        if (taken.slowModeSeconds > 0 && !row.system) taken.sentAt.set(row.userId, row.createdAt)
      },
      /** Writes each room's count, version and newest message (ids commit in order here: the batch's newest is the room's). */
      save(): void {
        for (const [roomId, { seq, version, newest }] of positions) if (newest) write.run(newest.id, newest.createdAt, seq, version, roomId)
      },
    }
  }
}

/**
 * Moves each sender's read marker to their newest message in the batch, in the batch's
 * transaction: a sender has read what they sent, and no message of theirs is ever after their
 * marker (which keeps unread counts a subtraction). In an open room the sender becomes a
 * participant; in a private or direct room only an owner's or member's marker moves (the app's
 * backend sending as someone else gives them no place there).
 */
function prepareSendersRead(db: SqliteDb): (created: readonly MessageRow[], isOpen: (roomId: number) => boolean) => void {
  const p = sql.placeholder
  const participate = direct(
    db,
    db
      .insert(members)
      .values({ roomId: p('roomId'), userId: p('userId'), role: sql`'participant'`, lastReadId: p('id'), joinedAt: p('at'), lastSentAt: p('at') })
      .onConflictDoUpdate({
        target: [members.roomId, members.userId],
        set: { lastReadId: sql`max(${members.lastReadId}, excluded.${sql.identifier(members.lastReadId.name)})`, lastSentAt: sql`excluded.${sql.identifier(members.lastSentAt.name)}` },
      })
      .toSQL(),
    ['roomId', 'userId', 'id', 'at', 'at'],
  )
  const memberRead = direct(
    db,
    db
      .update(members)
      .set({ lastReadId: sql`max(${members.lastReadId}, ${p('id')})`, lastSentAt: sql`${p('at')}` })
      .where(and(eq(members.roomId, p('roomId')), eq(members.userId, p('userId')), sql`${members.role} <> 'participant'`))
      .toSQL(),
    ['id', 'at', 'roomId', 'userId'],
  )
  return (created, isOpen) => {
    const newest = new Map<string, MessageRow>()
    // A system message has no sender to move a marker for.
    for (const m of created) if (!m.system) newest.set(`${m.roomId}\u0000${m.userId}`, m)
    for (const m of newest.values()) {
      if (isOpen(m.roomId)) participate.run(m.roomId, m.userId, m.id, m.createdAt, m.createdAt)
      else memberRead.run(m.id, m.createdAt, m.roomId, m.userId)
    }
  }
}

/**
 * The embedded store. Message inserts are group-committed: every append made in one
 * event-loop turn is written in a single transaction, so one commit serves many messages.
 */
export class SqliteStore extends SqlStore implements Store {
  protected readonly commits: GroupCommit
  /** Message changes of one turn, committed together (each in a savepoint). */
  private readonly changeBatch: SavepointBatch
  /** Checkpoints the WAL on a thread of its own (a file's store; an in-memory one has no WAL). */
  private readonly checkpointer: WalCheckpointer | null
  private closed = false

  constructor(
    private readonly db: SqliteDb,
    private readonly path: string,
    observeBatch?: BatchObserver,
    logger?: Pick<Logger, 'warn' | 'info'>,
  ) {
    super(sqliteDatabase(db))
    const insertMessage = prepareInsert(db)
    const p = sql.placeholder
    const { columns, q, joinQuote } = messageSelection(tables)
    const messageByClientId = db
      .select(columns)
      .from(messages)
      .leftJoin(q, joinQuote)
      .where(and(eq(messages.roomId, p('roomId')), eq(messages.userId, p('userId')), eq(messages.clientMsgId, p('clientMsgId'))))
      .prepare()
    const sendersRead = prepareSendersRead(db)
    const linkUploads = db
      .update(tables.uploads)
      .set({ messageId: sql`${p('messageId')}`, roomId: sql`${p('roomId')}` })
      .where(claimedBy(tables, p('claim')))
      .prepare()
    const roomPositions = prepareRoomPositions(db)
    // A batch in one transaction; a message that fails alone is caught and refused alone.
    const writeBatch = db.$client.transaction((batch: readonly NewMessage[], after: (() => void)[]): WrittenBatch => {
      const outcomes: (AppendResult | Refusal)[] = []
      const created: MessageRow[] = []
      const positions = roomPositions()
      for (const m of batch) {
        try {
          const at = positions.next(m.roomId)
          const refused = positions.refusal(m)
          if (refused) {
            outcomes.push(new Refusal(refused))
            continue
          }
          const id = insertMessage(m, at)
          if (id !== null) {
            const row = createdRow(m, id, at.seq, at.version)
            if (m.claim) linkUploads.run({ messageId: id, roomId: m.roomId, claim: m.claim })
            if (m.screened) runSqliteSteps(db, screenedWrites(tables, this.outbox, db, row, m.screened), after)
            positions.taken(row)
            created.push(row)
            outcomes.push({ message: row, duplicate: false })
            continue
          }
          const earlier = messageByClientId.get(m)
          if (!earlier) throw new Error('message was neither inserted nor found by client_msg_id')
          outcomes.push({ message: toMessageRow(earlier), duplicate: true })
        } catch (error) {
          // One bad row (say, a room that does not exist) fails alone; the rest still commit.
          outcomes.push(new Refusal(error))
        }
      }
      sendersRead(created, positions.isOpen)
      positions.save()
      return { outcomes, created }
    })
    this.commits = new GroupCommit(
      (batch) => {
        const after: (() => void)[] = []
        const written = writeBatch(batch, after)
        this.checkpointer?.wrote()
        runAfterCommit(after)
        return written
      },
      observeBatch,
      this.writes,
    )
    this.changeBatch = new SavepointBatch(db, () => this.checkpointer?.wrote())
    this.checkpointer = path === ':memory:' ? null : new WalCheckpointer(path, db.$client, logger)
  }

  protected override runChange(request: ChangeRequest): Promise<ChangeResult> {
    return this.changeBatch.run(this.changeBody(request))
  }

  /** Opens the file, applies migrations and prepares statements; `logger` hears of a checkpointer that failed. */
  static open(path: string, observeBatch?: BatchObserver, logger?: Pick<Logger, 'warn' | 'info'>): SqliteStore {
    return openDataFile(path, () => {
      const db = openSqlite(path)
      try {
        migrateSqlite(db)
        return new SqliteStore(db, path, observeBatch, logger)
      } catch (error) {
        db.$client.close()
        throw error
      }
    })
  }

  /**
   * The open connection answers from its cache (and the WAL) even after the file is damaged,
   * replaced or removed, so readiness also reads the file's header and opens it afresh.
   */
  async check(): Promise<void> {
    if (this.closed) throw new StoreClosedError()
    this.db.$client.query('SELECT 1').get()
    if (this.path === ':memory:') return
    let probe: Database | undefined
    try {
      const header = await Bun.file(this.path).slice(0, SQLITE_MAGIC.length).text()
      if (header !== SQLITE_MAGIC) throw new Error('the file does not start with the SQLite header')
      probe = new Database(this.path, { readonly: true, create: false })
      probe.query('SELECT count(*) FROM sqlite_master').get()
    } catch (error) {
      throw new Error(`database file ${this.path} is not readable: ${error instanceof Error ? error.message : String(error)}`)
    } finally {
      probe?.close()
    }
    await this.checkWritable()
  }

  /**
   * Throws StorageProblem while storage cannot write: too little free space on the data file's file
   * system, or the last write failed for a reason a probe write (re)confirms.
   */
  private async checkWritable(): Promise<void> {
    if (this.path === ':memory:') return
    const { bavail, bsize } = statfsSync(dirname(this.path))
    const free = Number(bavail) * Number(bsize)
    if (free < MIN_FREE_BYTES) {
      this.writes.failed(new StorageProblem('storage_full', `${free} bytes free beside ${this.path}`))
      throw this.writes.problem
    }
    await this.writes.recheck(() => instanceRows.probe(this.database))
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.commits.close()
    await this.changeBatch.close()
    await this.checkpointer?.stop()
    this.db.$client.close()
  }
}
