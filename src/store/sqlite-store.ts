import { Database, type SQLQueryBindings } from 'bun:sqlite'
import { statfsSync } from 'node:fs'
import { dirname } from 'node:path'
import { and, asc, desc, eq, gt, lt, ne, Placeholder, sql } from 'drizzle-orm'
import type { BatchObserver } from '../metrics.ts'
import { members, messages, rooms, type RoomKind } from '../db/schema.ts'
import { migrateSqlite, openSqlite, type SqliteDb } from '../db/sqlite.ts'
import { openDataFile } from './data-file.ts'
import { instanceRows } from './instances.ts'
import { SqlStore } from './sql-store.ts'
import { sqliteDatabase } from './sql-database.ts'
import { StorageProblem } from './storage-problem.ts'
import { SqliteMembership } from './sqlite-membership.ts'
import { roomCreatedEvent } from './outbox.ts'
import type { SqlOutbox } from './sql-outbox.ts'
import { sqliteOutbox, writeSqliteEvents } from './sqlite-outbox.ts'
import { GroupCommit, Refusal, StoreClosedError, type WrittenBatch } from './group-commit.ts'
import { NotAMemberError, unstorableRoom, type AppendResult, type MessagePage, type MessageRow, type NewMessage, type Recovery, type RoomRow, type Store } from './store.ts'

/** The first 16 bytes of every SQLite database file. */
const SQLITE_MAGIC = 'SQLite format 3\0'

/**
 * Below this much free space beside the data file, readiness says `storage_full`: a commit needs
 * room for its WAL frames and a checkpoint for the pages it copies back.
 */
const MIN_FREE_BYTES = 4 * 1024 * 1024

function isUniqueViolation(error: unknown): boolean {
  const code = (e: unknown) => (typeof e === 'object' && e !== null && 'code' in e ? e.code : undefined)
  return code(error) === 'SQLITE_CONSTRAINT_UNIQUE' || code((error as { cause?: unknown } | null)?.cause) === 'SQLITE_CONSTRAINT_UNIQUE'
}

/**
 * The per-message insert, on the hot path. drizzle writes the SQL (the schema stays the one source
 * of truth); bun:sqlite runs it directly, which skips drizzle's per-call placeholder filling and
 * row mapping (about a third of the insert cost under load). Returns the new id, or null when
 * the row already existed.
 */
/** Prepares the insert of a message at its position (`seq`) in the room. */
function prepareInsert(db: SqliteDb): (message: NewMessage, seq: number) => number | null {
  const p = sql.placeholder
  const query = db
    .insert(messages)
    .values({
      roomId: p('roomId'),
      userId: p('userId'),
      email: p('email'),
      nickname: p('nickname'),
      profileUrl: p('profileUrl'),
      body: p('body'),
      clientMsgId: p('clientMsgId'),
      createdAt: p('createdAt'),
      seq: p('seq'),
    })
    .onConflictDoNothing()
    .toSQL()
  // Each parameter is a Param wrapping the named placeholder; their order is the order of the `?`s.
  type Field = keyof NewMessage | 'seq'
  const order = query.params.map((param) => (param as { value: { name: Field } }).value.name)
  const expected: Field[] = ['roomId', 'userId', 'email', 'nickname', 'profileUrl', 'body', 'clientMsgId', 'createdAt', 'seq']
  if (order.join() !== expected.join()) throw new Error(`unexpected insert parameters: ${order.join(', ')}`)
  // run() and the rowid beat RETURNING by a fifth; a conflict (repeated client_msg_id) changes nothing.
  const statement = db.$client.prepare<never, SQLQueryBindings[]>(query.sql)
  return (m, seq) => {
    const { changes, lastInsertRowid } = statement.run(m.roomId, m.userId, m.email, m.nickname, m.profileUrl, m.body, m.clientMsgId, m.createdAt, seq)
    return changes === 0 ? null : Number(lastInsertRowid)
  }
}

/**
 * Where each room of a batch stands: its kind, and its message count (the next message's position
 * is one more), read once per room per batch; at the end, each room's row gets its count and newest
 * message. It also says who may write to each room, read in the batch's own transaction: a member
 * removed before the batch commits is not one here.
 */
function prepareRoomPositions(db: SqliteDb) {
  const p = sql.placeholder
  const read = db.$client.prepare<{ last_seq: number; kind: RoomKind }, [number]>('select last_seq, kind from rooms where id = ?')
  const write = db.$client.prepare<never, [number, number, number, number]>('update rooms set last_seq = ?, last_message_id = ?, last_message_at = ? where id = ?')
  const roleOf = db
    .select({ role: members.role })
    .from(members)
    .where(and(eq(members.roomId, p('roomId')), eq(members.userId, p('userId'))))
    .prepare()
  return () => {
    const rooms = new Map<number, { seq: number; newest: MessageRow | null; open: boolean }>()
    const room = (roomId: number) => {
      let found = rooms.get(roomId)
      if (!found) {
        const row = read.get(roomId)
        // A room that does not exist is left to the insert, which the foreign key refuses.
        rooms.set(roomId, (found = { seq: row?.last_seq ?? 0, newest: null, open: !row || row.kind === 'open' }))
      }
      return found
    }
    return {
      /** The position the room's next message takes. */
      next(roomId: number): number {
        return room(roomId).seq + 1
      },
      /** True when the room is open: anyone may write, and a writer becomes a participant. */
      isOpen(roomId: number): boolean {
        return room(roomId).open
      },
      /** Whether the message's sender may write to its room now: an open room, the app's backend, or a member. */
      admits(m: NewMessage): boolean {
        if (m.viaService || room(m.roomId).open) return true
        const role = roleOf.get({ roomId: m.roomId, userId: m.userId })?.role
        return role === 'owner' || role === 'member'
      },
      /** The message took that position. */
      taken(row: MessageRow): void {
        const taken = room(row.roomId)
        taken.seq++
        taken.newest = row
      },
      /** Writes each room's count and newest message (ids commit in order here: the batch's newest is the room's). */
      save(): void {
        for (const [roomId, { seq, newest }] of rooms) if (newest) write.run(seq, newest.id, newest.createdAt, roomId)
      },
    }
  }
}

/** Builds the prepared statements once; drizzle would otherwise re-prepare on every call. */
function prepare(db: SqliteDb) {
  const p = sql.placeholder
  return {
    insertMessage: prepareInsert(db),
    messageByClientId: db
      .select()
      .from(messages)
      .where(and(eq(messages.roomId, p('roomId')), eq(messages.userId, p('userId')), eq(messages.clientMsgId, p('clientMsgId'))))
      .prepare(),
    roomById: db
      .select()
      .from(rooms)
      .where(eq(rooms.id, p('id')))
      .prepare(),
    roomByPostId: db
      .select()
      .from(rooms)
      .where(and(eq(rooms.postId, p('postId')), eq(rooms.kind, 'open')))
      .prepare(),
    newestMessages: db
      .select()
      .from(messages)
      .where(eq(messages.roomId, p('roomId')))
      .orderBy(desc(messages.id))
      .limit(p('limit'))
      .prepare(),
    messagesBefore: db
      .select()
      .from(messages)
      .where(and(eq(messages.roomId, p('roomId')), lt(messages.id, p('before'))))
      .orderBy(desc(messages.id))
      .limit(p('limit'))
      .prepare(),
    messagesAfter: db
      .select()
      .from(messages)
      .where(and(eq(messages.roomId, p('roomId')), gt(messages.id, p('after'))))
      .orderBy(asc(messages.id))
      .limit(p('limit'))
      .prepare(),
    newestMessagesAfter: db
      .select()
      .from(messages)
      .where(and(eq(messages.roomId, p('roomId')), gt(messages.id, p('after'))))
      .orderBy(desc(messages.id))
      .limit(p('limit'))
      .prepare(),
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
  const query = db
    .insert(members)
    .values({ roomId: p('roomId'), userId: p('userId'), role: 'participant', lastReadId: p('id'), joinedAt: p('at') })
    .onConflictDoUpdate({ target: [members.roomId, members.userId], set: { lastReadId: sql`max(${members.lastReadId}, excluded.last_read_id)` } })
    .toSQL()
  const participate = db.$client.prepare<never, SQLQueryBindings[]>(query.sql)
  // Placeholders name what each row gives; the role is a constant drizzle passes as a parameter.
  type Field = 'roomId' | 'userId' | 'id' | 'at'
  const params: ({ name: Field } | { value: SQLQueryBindings })[] = query.params.map((param) => {
    const inner = (param as { value?: unknown }).value
    return inner instanceof Placeholder ? { name: inner.name as Field } : { value: param as SQLQueryBindings }
  })
  const memberRead = db
    .update(members)
    .set({ lastReadId: sql`max(${members.lastReadId}, ${p('id')})` })
    .where(and(eq(members.roomId, p('roomId')), eq(members.userId, p('userId')), ne(members.role, 'participant')))
    .prepare()
  return (created, isOpen) => {
    const newest = new Map<string, MessageRow>()
    for (const m of created) newest.set(`${m.roomId}\u0000${m.userId}`, m)
    for (const m of newest.values()) {
      const row = { roomId: m.roomId, userId: m.userId, id: m.id, at: m.createdAt }
      if (isOpen(m.roomId)) participate.run(...params.map((p) => ('name' in p ? row[p.name] : p.value)))
      else memberRead.run(row)
    }
  }
}

/**
 * The embedded store. Message inserts are group-committed: every append made in one
 * event-loop turn is written in a single transaction, so one commit serves many messages.
 */
export class SqliteStore extends SqlStore implements Store {
  private readonly statements: ReturnType<typeof prepare>
  protected readonly commits: GroupCommit
  readonly membership: SqliteMembership
  readonly outbox: SqlOutbox
  private closed = false

  constructor(
    private readonly db: SqliteDb,
    private readonly path: string,
    observeBatch?: BatchObserver,
  ) {
    super(sqliteDatabase(db))
    this.statements = prepare(db)
    this.outbox = sqliteOutbox(db)
    this.membership = new SqliteMembership(db, this.outbox)
    const { insertMessage, messageByClientId } = this.statements
    const sendersRead = prepareSendersRead(db)
    const roomPositions = prepareRoomPositions(db)
    // A batch in one transaction; a message that fails alone is caught and refused alone.
    const writeBatch = db.$client.transaction((batch: readonly NewMessage[]): WrittenBatch => {
      const outcomes: (AppendResult | Refusal)[] = []
      const created: MessageRow[] = []
      const positions = roomPositions()
      for (const m of batch) {
        try {
          const seq = positions.next(m.roomId)
          if (!positions.admits(m)) {
            outcomes.push(new Refusal(new NotAMemberError(m.roomId, m.userId)))
            continue
          }
          const id = insertMessage(m, seq)
          if (id !== null) {
            const row: MessageRow = { id, roomId: m.roomId, userId: m.userId, email: m.email, nickname: m.nickname, profileUrl: m.profileUrl, body: m.body, clientMsgId: m.clientMsgId, createdAt: m.createdAt, seq }
            positions.taken(row)
            created.push(row)
            outcomes.push({ message: row, duplicate: false })
            continue
          }
          const earlier = messageByClientId.get(m)
          if (!earlier) throw new Error('message was neither inserted nor found by client_msg_id')
          outcomes.push({ message: earlier, duplicate: true })
        } catch (error) {
          // One bad row (say, a room that does not exist) fails alone; the rest still commit.
          outcomes.push(new Refusal(error))
        }
      }
      sendersRead(created, positions.isOpen)
      positions.save()
      return { outcomes, created }
    })
    this.commits = new GroupCommit(writeBatch, observeBatch, this.writes)
  }

  /** Opens the file, applies migrations and prepares statements. */
  static open(path: string, observeBatch?: BatchObserver): SqliteStore {
    return openDataFile(path, () => {
      const db = openSqlite(path)
      try {
        migrateSqlite(db)
        return new SqliteStore(db, path, observeBatch)
      } catch (error) {
        db.$client.close()
        throw error
      }
    })
  }

  async createRoom(input: { name: string; postId: number | null }): Promise<{ room: RoomRow; created: boolean }> {
    const refused = unstorableRoom(input)
    if (refused) throw refused
    if (input.postId !== null) {
      const existing = this.statements.roomByPostId.get({ postId: input.postId })
      if (existing) return { room: existing, created: false }
    }
    try {
      const room = this.db.transaction((tx) => {
        const [room] = tx.insert(rooms).values({ name: input.name, postId: input.postId, createdAt: Date.now() }).returning().all()
        if (!room) throw new Error('insert into rooms returned no row')
        writeSqliteEvents(this.outbox, tx, [roomCreatedEvent(room, [])])
        return room
      })
      return { room, created: true }
    } catch (error) {
      // Another request created the room for this post between the lookup and the insert.
      const existing = input.postId !== null && isUniqueViolation(error) ? this.statements.roomByPostId.get({ postId: input.postId }) : undefined
      if (existing) return { room: existing, created: false }
      throw error
    }
  }

  async getRoom(id: number): Promise<RoomRow | undefined> {
    return this.statements.roomById.get({ id })
  }

  async roomByPostId(postId: number): Promise<RoomRow | undefined> {
    return this.statements.roomByPostId.get({ postId })
  }

  async listMessages(roomId: number, page: MessagePage): Promise<MessageRow[]> {
    if (page.after !== undefined) return this.statements.messagesAfter.all({ roomId, after: page.after, limit: page.limit })
    const newestFirst = page.before !== undefined ? this.statements.messagesBefore.all({ roomId, before: page.before, limit: page.limit }) : this.statements.newestMessages.all({ roomId, limit: page.limit })
    return newestFirst.reverse()
  }

  async recover(roomId: number, sinceId: number, limit: number): Promise<Recovery> {
    const newestFirst = this.statements.newestMessagesAfter.all({ roomId, after: sinceId, limit: limit + 1 })
    const truncated = newestFirst.length > limit
    if (truncated) newestFirst.pop()
    return { messages: newestFirst.reverse(), truncated }
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
    this.db.$client.close()
  }
}
