import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'bun:test'
import { SQL } from 'bun'
import { Database } from 'bun:sqlite'
import { DrizzleQueryError } from 'drizzle-orm/errors'
import fc from 'fast-check'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrationSql, pgJournal, pgMigrations, pgMigrationSql, sqliteJournal, sqliteMigrations } from '../src/db/migrations.ts'
import { rooms } from '../src/db/schema.ts'
import { migrateSqlite, openSqlite } from '../src/db/sqlite.ts'
import { openPostgres } from '../src/db/postgres.ts'
import { messagesByClientId, PostgresStore } from '../src/store/postgres-store.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import { isStorageOutage, UnstorableTextError, type MessageRow, type NewMessage, type Store } from '../src/store/store.ts'
import type { BatchObserver } from '../src/metrics.ts'
import { createDatabase } from './support/cluster.ts'

const message = (roomId: number, body: string, clientMsgId: string | null = null, userId = 'u1'): NewMessage => ({
  roomId,
  userId,
  email: `${userId}@example.com`,
  nickname: userId.toUpperCase(),
  profileUrl: null,
  body,
  clientMsgId,
  createdAt: Date.now(),
})

/** Each store, opened fresh per test, and reopenable on the same data. */
interface Backend {
  name: string
  setup(): Promise<void>
  /** `observeBatch` hears the size of each group commit. */
  open(observeBatch?: BatchObserver): Promise<Store>
  teardown(): Promise<void>
}

function sqliteBackend(): Backend {
  let dir = ''
  return {
    name: 'SQLite',
    async setup() {
      dir = mkdtempSync(join(tmpdir(), 'chat-store-'))
    },
    async open(observeBatch) {
      return SqliteStore.open(join(dir, 'chat.db'), observeBatch)
    },
    async teardown() {
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

function postgresBackend(): Backend {
  let db: Awaited<ReturnType<typeof createDatabase>>
  return {
    name: 'Postgres',
    async setup() {
      db = await createDatabase()
    },
    open(observeBatch) {
      return PostgresStore.open(db.url, observeBatch)
    },
    async teardown() {
      await db.drop()
    },
  }
}

for (const makeBackend of [sqliteBackend, postgresBackend]) {
  const backend = makeBackend()
  describe(`${backend.name} store`, () => {
    let store: Store
    beforeEach(async () => {
      await backend.setup()
      store = await backend.open()
    })
    afterEach(async () => {
      await store.close().catch(() => {})
      await backend.teardown()
    })

    it('should create rooms idempotently per post_id, even when racing', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, () => store.createRoom({ name: 'race', postId: 7 })))
      expect(results.filter((r) => r.created)).toHaveLength(1)
      expect(new Set(results.map((r) => r.room.id)).size).toBe(1)
      expect((await store.createRoom({ name: 'no post', postId: null })).created).toBe(true)
      expect((await store.listRooms({ limit: 10 })).map((r) => r.name)).toEqual(['no post', 'race'])
    })

    it('should group-commit appends made together, in ascending id order', async () => {
      const batches: number[] = []
      await store.close()
      store = await backend.open((size) => batches.push(size))
      const { room } = await store.createRoom({ name: 'r', postId: null })
      const results = await Promise.all(Array.from({ length: 100 }, (_, i) => store.appendMessage(message(room.id, `m${i}`))))
      expect(batches.length).toBeLessThanOrEqual(2)
      expect(batches.reduce((a, b) => a + b, 0)).toBe(100)
      expect(results.map((r) => r.message.body)).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`))
      const ids = results.map((r) => r.message.id)
      expect(ids).toEqual([...ids].sort((a, b) => a - b))
    })

    it('should fail only the appends to an unknown room and commit the others', async () => {
      const { room } = await store.createRoom({ name: 'r', postId: null })
      const outcomes = await Promise.allSettled([store.appendMessage(message(room.id, 'good 1')), store.appendMessage(message(999, 'no such room')), store.appendMessage(message(room.id, 'good 2'))])
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect((await store.listMessages(room.id, { limit: 10 })).map((m) => m.body)).toEqual(['good 1', 'good 2'])
    })

    it('should refuse a message whose text it cannot store, alone, whichever column holds it', async () => {
      const { room } = await store.createRoom({ name: 'good', postId: null })
      const { room: other } = await store.createRoom({ name: 'bad', postId: null })
      const unstorable: Partial<NewMessage>[] = [
        { body: 'nul \u0000 in the text' },
        { nickname: 'N\u0000' },
        { email: 'e\u0000@example.com' },
        { profileUrl: '/p\u0000.png' },
        { clientMsgId: 'c\u0000' },
        { userId: 'u\u0000' },
        { body: 'a lone \ud800 surrogate' },
        { clientMsgId: 'lone \udc00' },
      ]
      // One batch: other users' messages in another room around each bad one.
      const appends = unstorable.flatMap((fields, i) => [store.appendMessage(message(room.id, `good ${i}`, `k${i}`, `user${i}`)), store.appendMessage({ ...message(other.id, 'bad', `k${i}`), ...fields })])
      appends.push(store.appendMessage(message(other.id, 'good in the same room')))
      const outcomes = await Promise.allSettled(appends)
      expect(outcomes.map((o) => o.status)).toEqual([...unstorable.flatMap(() => ['fulfilled', 'rejected'] as const), 'fulfilled'])
      const fields = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason instanceof UnstorableTextError && o.reason.field] : []))
      expect(fields).toEqual(['message', 'nickname', 'email', 'profile_url', 'client_msg_id', 'user_id', 'message', 'client_msg_id'])
      expect((await store.listMessages(room.id, { limit: 50 })).map((m) => m.body)).toEqual(unstorable.map((_, i) => `good ${i}`))
      expect((await store.listMessages(other.id, { limit: 50 })).map((m) => m.body)).toEqual(['good in the same room'])
      for (const name of ['nul \u0000', 'lone \ud83d']) await expect(store.createRoom({ name, postId: null })).rejects.toBeInstanceOf(UnstorableTextError)
      expect(await store.listRooms({ limit: 10 })).toHaveLength(2)
    })

    it('should store the rest of a batch when the database refuses a message the store did not foresee', async () => {
      const { room } = await store.createRoom({ name: 'r', postId: null })
      const { room: other } = await store.createRoom({ name: 'other', postId: null })
      const outcomes = await Promise.allSettled([
        store.appendMessage(message(room.id, 'first')),
        store.appendMessage(message(other.id, 'other room')),
        store.appendMessage({ ...message(room.id, 'no time'), createdAt: Number.NaN }),
        store.appendMessage(message(room.id, 'last')),
      ])
      expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
      expect((await store.listMessages(room.id, { limit: 10 })).map((m) => m.body)).toEqual(['first', 'last'])
      expect((await store.listMessages(other.id, { limit: 10 })).map((m) => m.body)).toEqual(['other room'])
    })

    it('should store any batch of odd text exactly as given, or refuse the messages it cannot keep, alone', async () => {
      // Characters of every kind, now and then a NUL or half a surrogate pair.
      const char = fc.oneof({ arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 20 }, { arbitrary: fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff'), weight: 1 })
      const text = fc.oneof(fc.string({ unit: char, maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.constantFrom('', ' ', '😀', '안녕', 'e\u0301', '\u202e', 'x'.repeat(5000)))
      const sender = fc.oneof(fc.constantFrom('u1', 'u2'), text)
      const clientId = fc.option(fc.oneof(fc.constantFrom('a', 'b'), text), { nil: null })
      const draft = fc.record({ room: fc.nat(2), userId: sender, nickname: text, email: text, profileUrl: fc.option(text, { nil: null }), body: text, clientMsgId: clientId })
      const keeps = (t: string | null) => t === null || (!t.includes('\u0000') && t.isWellFormed())
      await fc.assert(
        fc.asyncProperty(fc.array(draft, { minLength: 1, maxLength: 12 }), async (drafts) => {
          // Rooms 0 and 1 exist; 2 stands for one that does not.
          const roomIds = [(await store.createRoom({ name: 'a', postId: null })).room.id, (await store.createRoom({ name: 'b', postId: null })).room.id, 999_999]
          const sent: NewMessage[] = drafts.map((d) => ({
            roomId: roomIds[d.room]!,
            userId: d.userId,
            email: d.email,
            nickname: d.nickname,
            profileUrl: d.profileUrl,
            body: d.body,
            clientMsgId: d.clientMsgId,
            createdAt: 1_700_000_000_000,
          }))
          const outcomes = await Promise.allSettled(sent.map((m) => store.appendMessage(m)))
          const first = new Map<string, MessageRow>()
          const stored: MessageRow[][] = [[], []]
          for (const [i, outcome] of outcomes.entries()) {
            const m = sent[i]!
            const storable = drafts[i]!.room < 2 && [m.userId, m.email, m.nickname, m.profileUrl, m.body, m.clientMsgId].every(keeps)
            expect(outcome.status).toBe(storable ? 'fulfilled' : 'rejected')
            if (outcome.status !== 'fulfilled') continue
            const key = m.clientMsgId === null ? null : JSON.stringify([m.roomId, m.userId, m.clientMsgId])
            const earlier = key === null ? undefined : first.get(key)
            expect(outcome.value.duplicate).toBe(earlier !== undefined)
            if (earlier) {
              expect(outcome.value.message).toEqual(earlier)
              continue
            }
            expect(outcome.value.message).toMatchObject(m)
            if (key !== null) first.set(key, outcome.value.message)
            stored[drafts[i]!.room]!.push(outcome.value.message)
          }
          // What the room gives back is what was sent, in the order sent.
          for (const room of [0, 1]) {
            const history = await store.listMessages(roomIds[room]!, { limit: 200 })
            expect(history.map(({ seq: _, ...row }) => row)).toEqual(stored[room]!.map(({ seq: _, ...row }) => row))
          }
        }),
        { numRuns: 40 },
      )
    }, 30_000)

    it('should store a repeated client_msg_id once, within a batch and across batches', async () => {
      const { room } = await store.createRoom({ name: 'r', postId: null })
      const [a, b, other] = await Promise.all([store.appendMessage(message(room.id, 'x', 'k')), store.appendMessage(message(room.id, 'y', 'k')), store.appendMessage(message(room.id, 'z', 'k', 'u2'))])
      expect(a!.duplicate).toBe(false)
      expect(b).toEqual({ message: a!.message, duplicate: true })
      expect(other!.duplicate).toBe(false)
      const later = await store.appendMessage(message(room.id, 'again', 'k'))
      expect(later).toEqual({ message: a!.message, duplicate: true })
      expect((await store.listMessages(room.id, { limit: 10 })).map((m) => m.body)).toEqual(['x', 'z'])
    })

    it('should page history and recover the newest after an id', async () => {
      const { room } = await store.createRoom({ name: 'r', postId: null })
      const ids = (await Promise.all(Array.from({ length: 30 }, (_, i) => store.appendMessage(message(room.id, `m${i}`))))).map((r) => r.message.id)
      expect((await store.listMessages(room.id, { limit: 5 })).map((m) => m.id)).toEqual(ids.slice(25))
      expect((await store.listMessages(room.id, { limit: 5, before: ids[10]! })).map((m) => m.id)).toEqual(ids.slice(5, 10))
      expect((await store.listMessages(room.id, { limit: 5, after: ids[10]! })).map((m) => m.id)).toEqual(ids.slice(11, 16))
      const recovery = await store.recover(room.id, ids[19]!, 4)
      expect(recovery.truncated).toBe(true)
      // It also says how far the room had come: its version (30 messages, 30 changes).
      expect(recovery.version).toBe(30)
      expect(recovery.messages.map((m) => m.id)).toEqual(ids.slice(26))
      expect((await store.recover(room.id, ids[25]!, 10)).truncated).toBe(false)
    })

    it('should commit pending appends when closed, and keep them across a reopen', async () => {
      const { room } = await store.createRoom({ name: 'kept', postId: 5 })
      const pending = store.appendMessage(message(room.id, 'last words'))
      await store.close()
      expect((await pending).message.body).toBe('last words')
      store = await backend.open()
      expect((await store.listMessages(room.id, { limit: 5 })).map((m) => m.body)).toEqual(['last words'])
      expect((await store.createRoom({ name: 'again', postId: 5 })).created).toBe(false)
    })

    it('should keep its storage epoch across a reopen, while another new database gets another', async () => {
      const epoch = await store.epoch()
      expect(epoch).toMatch(/^([0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/)
      expect(await store.epoch()).toBe(epoch)
      await store.close()
      store = await backend.open()
      expect(await store.epoch()).toBe(epoch)
      const another = makeBackend()
      await another.setup()
      const other = await another.open()
      try {
        expect(await other.epoch()).not.toBe(epoch)
      } finally {
        await other.close()
        await another.teardown()
      }
    })

    it('should answer its readiness check', async () => {
      await store.check()
      await store.close()
      await expect(store.check()).rejects.toThrow()
    })
  })
}

describe('Postgres store with several writers', () => {
  let db: Awaited<ReturnType<typeof createDatabase>>
  beforeAll(async () => {
    db = await createDatabase()
  })
  afterAll(() => db.drop())

  it('should give each room gapless seqs that ascend with ids, whichever instance commits', async () => {
    const stores = await Promise.all([PostgresStore.open(db.url), PostgresStore.open(db.url), PostgresStore.open(db.url)])
    const { room } = await stores[0]!.createRoom({ name: 'shared', postId: null })
    const { room: other } = await stores[0]!.createRoom({ name: 'other', postId: null })
    await Promise.all(stores.flatMap((s, n) => Array.from({ length: 60 }, (_, i) => s.appendMessage(message(i % 3 === 0 ? other.id : room.id, `${n}:${i}`)))))
    for (const roomId of [room.id, other.id]) {
      const rows = await stores[1]!.listMessages(roomId, { limit: 200 })
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1))
      expect(await stores[2]!.lastVersion(roomId)).toBe(rows.length)
      expect(rows.map((r) => r.version)).toEqual(rows.map((_, i) => i + 1))
    }
    await Promise.all(stores.map((s) => s.close()))
  })
})

describe('Postgres client_msg_id lookup', () => {
  it('should find earlier messages through the (room_id, user_id, client_msg_id) index, not by scanning the room', async () => {
    const db = await createDatabase()
    const store = await PostgresStore.open(db.url)
    const pg = openPostgres(db.url)
    try {
      const { room } = await store.createRoom({ name: 'busy', postId: null })
      const { room: other } = await store.createRoom({ name: 'other', postId: null })
      // A busy room: 60,000 messages from 500 users, each with a client_msg_id.
      await pg.$client.unsafe(`INSERT INTO messages (room_id, seq, user_id, email, nickname, body, client_msg_id, created_at)
        SELECT ${room.id}, i, 'user' || (i % 500), 'e@example.com', 'N', 'message ' || i, 'cid-' || i, 0 FROM generate_series(1, 60000) i`)
      await pg.$client.unsafe(`UPDATE rooms SET last_seq = 60000 WHERE id = ${room.id}`)
      await pg.$client.unsafe('ANALYZE messages')

      const query = messagesByClientId(pg, room.id, ['user10', 'user11', 'user10'], ['cid-10', 'cid-12', 'cid-99999']).toSQL()
      const [
        {
          'QUERY PLAN': [{ Plan: plan }],
        },
      ] = (await pg.$client.unsafe(`EXPLAIN (FORMAT JSON) ${query.sql}`, query.params)) as [{ 'QUERY PLAN': [{ Plan: PlanNode }] }]
      const nodes = planNodes(plan)
      expect(nodes.filter((n) => n['Node Type'].includes('Seq Scan') && n['Relation Name'] === 'messages')).toEqual([])
      const lookups = nodes.filter((n) => n['Index Name'] === 'messages_client_msg_id_unique')
      expect(lookups.length).toBeGreaterThan(0)
      for (const n of lookups) expect(n['Index Cond']).toMatch(/room_id.*user_id.*client_msg_id/)

      // Only the pair's own user: user11 sent no cid-12.
      expect((await messagesByClientId(pg, room.id, ['user10', 'user11'], ['cid-10', 'cid-12'])).map((m) => m.body)).toEqual(['message 10'])
      // Through the store: a repeat is answered with the stored message, another room is its own.
      const repeat = await store.appendMessage(message(room.id, 'again', 'cid-10', 'user10'))
      expect(repeat).toMatchObject({ duplicate: true, message: { body: 'message 10' } })
      expect((await store.appendMessage(message(other.id, 'elsewhere', 'cid-10', 'user10'))).duplicate).toBe(false)
    } finally {
      await store.close()
      await pg.$client.close()
      await db.drop()
    }
  })
})

interface PlanNode {
  'Node Type': string
  'Relation Name'?: string
  'Index Name'?: string
  'Index Cond'?: string
  Plans?: PlanNode[]
}
const planNodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(planNodes)]

describe('Postgres migrations', () => {
  it('should upgrade a database made by the first migration to 64-bit ids, keeping its rows', async () => {
    const db = await createDatabase()
    const sql = new SQL(db.url, { max: 1 })
    // The database as the first release left it: 0000_init applied, a room and a message stored.
    const init = pgMigrations()[0]!
    await sql.unsafe('CREATE SCHEMA drizzle')
    await sql.unsafe('CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)')
    for (const statement of init.sql) if (statement.trim()) await sql.unsafe(statement)
    await sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${init.hash}, ${init.folderMillis})`
    await sql`INSERT INTO rooms (name, post_id, created_at) VALUES ('old', 7, 0)`
    await sql`INSERT INTO messages (room_id, seq, user_id, email, nickname, body, created_at) VALUES (1, 1, 'u1', 'u1@example.com', 'U1', 'old message', 0)`
    await sql`UPDATE rooms SET last_seq = 1`

    const store = await PostgresStore.open(db.url)
    try {
      expect(await store.getRoom(1)).toMatchObject({ id: 1, name: 'old', postId: 7 })
      expect((await store.listMessages(1, { limit: 5 })).map((m) => m.body)).toEqual(['old message'])
      // The room's newest message was put on its row: the inbox and the counts see the old message.
      expect(await store.membership.markRead(1, 'reader', 0)).toMatchObject({ lastReadId: 0, unreadCount: 1 })
      const [entry] = await store.membership.inbox('reader', { asOfId: Number.MAX_SAFE_INTEGER, asOfAt: Number.MAX_SAFE_INTEGER, after: null, limit: 5 })
      expect(entry).toMatchObject({ room: { id: 1 }, lastMessageId: 1 })
      expect(await store.epoch()).toMatch(/^[0-9a-f-]{36}$/)
      expect((await store.createRoom({ name: 'largest', postId: Number.MAX_SAFE_INTEGER })).room.postId).toBe(Number.MAX_SAFE_INTEGER)
      await sql`SELECT setval('rooms_id_seq', ${2 ** 40})`
      const { room } = await store.createRoom({ name: 'past int4', postId: null })
      expect(room.id).toBe(2 ** 40 + 1)
      expect((await store.appendMessage(message(room.id, 'new message'))).message.roomId).toBe(room.id)
    } finally {
      await store.close()
      await sql.close()
      await db.drop()
    }
  })
})

describe('SQLite migrations', () => {
  it('should give a database made by the first migration a storage epoch, keeping its rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-store-'))
    const path = join(dir, 'chat.db')
    // The file as the first release left it: 0000_init applied, a room and a message stored.
    const old = new Database(path)
    const init = sqliteMigrations()[0]!
    old.run('CREATE TABLE __drizzle_migrations (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric)')
    for (const statement of init.sql) if (statement.trim()) old.run(statement)
    old.run('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)', [init.hash, init.folderMillis])
    old.run("INSERT INTO rooms (name, post_id, created_at) VALUES ('old', 7, 0)")
    old.run("INSERT INTO messages (room_id, user_id, email, nickname, body, created_at) VALUES (1, 'u1', 'u1@example.com', 'U1', 'old message', 0)")
    // Two more rooms' messages interleaved, so positions are numbered per room.
    old.run("INSERT INTO rooms (name, post_id, created_at) VALUES ('other', 8, 1)")
    for (const [room, body] of [
      [2, 'a'],
      [1, 'second'],
      [2, 'b'],
      [1, 'third'],
    ] as const)
      old.run('INSERT INTO messages (room_id, user_id, email, nickname, body, created_at) VALUES (?, ?, ?, ?, ?, 5)', [room, 'u2', 'u2@example.com', 'U2', body])
    old.close()

    let store = SqliteStore.open(path)
    const epoch = await store.epoch()
    expect(epoch).toMatch(/^[0-9a-f]{32}$/)
    expect((await store.listMessages(1, { limit: 5 })).map((m) => m.body)).toEqual(['old message', 'second', 'third'])
    // The later migrations numbered each room's messages and kept each room's newest on its row:
    // unread counts and the inbox are right for what the old file held, and for what comes after.
    const first = (await store.listMessages(1, { limit: 5 }))[0]!
    expect(await store.membership.markRead(1, 'reader', first.id)).toMatchObject({ lastReadId: first.id, unreadCount: 2 })
    expect(await store.membership.markRead(2, 'reader', 0)).toMatchObject({ unreadCount: 2 })
    await store.appendMessage({ ...message(1, 'after the upgrade'), userId: 'u3' })
    expect(await store.membership.unreadTotal('reader')).toEqual({ total: 5, rooms: 2 })
    const inbox = await store.membership.inbox('reader', { asOfId: Number.MAX_SAFE_INTEGER, asOfAt: Number.MAX_SAFE_INTEGER, after: null, limit: 5 })
    expect(inbox.map((r) => r.room.id)).toEqual([1, 2])
    await store.close()
    store = SqliteStore.open(path)
    expect(await store.epoch()).toBe(epoch)
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
})

describe('SQLite specifics', () => {
  it('should open the file in WAL mode with synchronous=NORMAL and foreign keys on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-store-'))
    const store = SqliteStore.open(join(dir, 'chat.db'))
    const client = (store as unknown as { db: { $client: Database } }).db.$client
    expect(client.query('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' })
    expect(client.query('PRAGMA synchronous').get()).toEqual({ synchronous: 1 })
    expect(client.query('PRAGMA foreign_keys').get()).toEqual({ foreign_keys: 1 })
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })
})

describe('embedded migrations', () => {
  const sqlFiles = (folder: string) =>
    readdirSync(join(import.meta.dir, '..', folder))
      .filter((f) => f.endsWith('.sql'))
      .map((f) => f.replace(/\.sql$/, ''))
      .sort()

  it('should embed every migration drizzle-kit generated, and nothing else', () => {
    expect(sqliteJournal.entries.map((e) => e.tag).sort()).toEqual(sqlFiles('drizzle'))
    expect(Object.keys(migrationSql).sort()).toEqual(sqlFiles('drizzle'))
    expect(pgJournal.entries.map((e) => e.tag).sort()).toEqual(sqlFiles('drizzle-pg'))
    expect(Object.keys(pgMigrationSql).sort()).toEqual(sqlFiles('drizzle-pg'))
  })
})

describe('isStorageOutage', () => {
  const postgres = (code: string, errno?: string) => new SQL.PostgresError('failed', { code, errno } as ConstructorParameters<typeof SQL.PostgresError>[1])
  const wrapped = (cause: Error) => new DrizzleQueryError('select 1', [], cause)
  /** The SQLiteError bun:sqlite throws when `run` fails (drizzle's bun-sqlite driver passes it on unwrapped). */
  const sqliteFailure = (run: (db: ReturnType<typeof openSqlite>, other: Database) => void): unknown => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-store-'))
    const db = openSqlite(join(dir, 'chat.db'))
    migrateSqlite(db)
    const other = new Database(join(dir, 'chat.db'))
    try {
      run(db, other)
      throw new Error('expected a failure')
    } catch (error) {
      return error
    } finally {
      other.close()
      db.$client.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }

  it("should see connection failures through drizzle's wrapper", () => {
    for (const code of [
      'ERR_POSTGRES_CONNECTION_CLOSED',
      'ERR_POSTGRES_CONNECTION_REFUSED',
      'ERR_POSTGRES_CONNECTION_FAILED',
      'ERR_POSTGRES_CONNECTION_TIMEOUT',
      'ERR_POSTGRES_IDLE_TIMEOUT',
      'ERR_POSTGRES_LIFETIME_TIMEOUT',
    ]) {
      expect({ code, outage: isStorageOutage(wrapped(postgres(code))) }).toEqual({ code, outage: true })
      expect(isStorageOutage(postgres(code))).toBe(true)
    }
    expect(isStorageOutage(wrapped(Object.assign(new Error('connect'), { code: 'ECONNREFUSED' })))).toBe(true)
    const busy = sqliteFailure((db, other) => {
      other.run('BEGIN IMMEDIATE')
      db.$client.run('PRAGMA busy_timeout = 0')
      db.insert(rooms).values({ name: 'r', postId: null, createdAt: 0 }).run()
    })
    expect(busy).toMatchObject({ code: 'SQLITE_BUSY' })
    expect(isStorageOutage(busy)).toBe(true)
    expect(isStorageOutage(wrapped(busy as Error))).toBe(true)
  })

  it('should see a server going away or refusing connections by its SQLSTATE', () => {
    for (const errno of ['57P01', '57P02', '57P03', '08006', '08001', '08003', '53300']) {
      expect({ errno, outage: isStorageOutage(wrapped(postgres('ERR_POSTGRES_SERVER_ERROR', errno))) }).toEqual({ errno, outage: true })
    }
  })

  it('should not take a refused statement for an outage', () => {
    for (const errno of ['23505', '22021', '22003', '42P01', '57014']) expect(isStorageOutage(wrapped(postgres('ERR_POSTGRES_SERVER_ERROR', errno)))).toBe(false)
    expect(isStorageOutage(wrapped(postgres('ERR_POSTGRES_SYNTAX_ERROR')))).toBe(false)
    const unique = sqliteFailure((db) => {
      for (let i = 0; i < 2; i++) db.insert(rooms).values({ name: 'r', postId: 1, createdAt: 0 }).run()
    })
    expect(unique).toMatchObject({ code: 'SQLITE_CONSTRAINT_UNIQUE' })
    expect(isStorageOutage(wrapped(unique as Error))).toBe(false)
    expect(isStorageOutage(new Error('plain'))).toBe(false)
    expect(isStorageOutage(null)).toBe(false)
    const loop: Error & { cause?: unknown } = new Error('loop')
    loop.cause = loop
    expect(isStorageOutage(loop)).toBe(false)
  })
})
