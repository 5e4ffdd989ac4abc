import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { migrationSql, sqliteJournal } from '../src/db/migrations.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import type { MessageRow, NewMessage } from '../src/store/store.ts'

let dir: string
let store: SqliteStore
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'chat-store-'))
  store = SqliteStore.open(join(dir, 'chat.db'))
})
afterEach(async () => {
  await store.close().catch(() => {})
  rmSync(dir, { recursive: true, force: true })
})

const message = (roomId: number, body: string, clientMsgId: string | null = null): NewMessage => ({
  roomId,
  userId: 'u1',
  email: 'u1@example.com',
  nickname: 'U1',
  profileUrl: null,
  body,
  clientMsgId,
  createdAt: Date.now(),
})

describe('SQLite store', () => {
  it('should open the file in WAL mode with synchronous=NORMAL and foreign keys on', async () => {
    await store.close()
    const db = new Database(join(dir, 'chat.db'))
    expect(db.query('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' })
    db.close()
    store = SqliteStore.open(join(dir, 'chat.db'))
    const client = (store as unknown as { db: { $client: Database } }).db.$client
    expect(client.query('PRAGMA synchronous').get()).toEqual({ synchronous: 1 })
    expect(client.query('PRAGMA foreign_keys').get()).toEqual({ foreign_keys: 1 })
  })

  it('should group-commit appends made in one turn into one batch, in ascending id order', async () => {
    const { room } = await store.createRoom({ name: 'r', postId: null })
    const batches: MessageRow[][] = []
    store.onCommit((rows) => batches.push([...rows]))
    const results = await Promise.all(Array.from({ length: 100 }, (_, i) => store.appendMessage(message(room.id, `m${i}`))))
    expect(batches).toHaveLength(1)
    expect(batches[0]!.map((r) => r.body)).toEqual(results.map((r) => r.message.body))
    const ids = results.map((r) => r.message.id)
    expect(ids).toEqual([...ids].sort((a, b) => a - b))
  })

  it('should fail only the bad row of a batch and commit the others', async () => {
    const { room } = await store.createRoom({ name: 'r', postId: null })
    const outcomes = await Promise.allSettled([
      store.appendMessage(message(room.id, 'good 1')),
      store.appendMessage(message(999, 'no such room')),
      store.appendMessage(message(room.id, 'good 2')),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect((await store.listMessages(room.id, { limit: 10 })).map((m) => m.body)).toEqual(['good 1', 'good 2'])
  })

  it('should treat a repeated client_msg_id in the same batch as a duplicate of the first', async () => {
    const { room } = await store.createRoom({ name: 'r', postId: null })
    const [a, b] = await Promise.all([store.appendMessage(message(room.id, 'x', 'k')), store.appendMessage(message(room.id, 'y', 'k'))])
    expect(a!.duplicate).toBe(false)
    expect(b).toEqual({ message: a!.message, duplicate: true })
  })

  it('should commit pending appends when closed', async () => {
    const { room } = await store.createRoom({ name: 'r', postId: null })
    const pending = store.appendMessage(message(room.id, 'last words'))
    await store.close()
    expect((await pending).message.body).toBe('last words')
    store = SqliteStore.open(join(dir, 'chat.db'))
    expect((await store.listMessages(room.id, { limit: 5 })).map((m) => m.body)).toEqual(['last words'])
  })

  it('should apply migrations once, so reopening keeps the data', async () => {
    await store.createRoom({ name: 'kept', postId: 5 })
    await store.close()
    store = SqliteStore.open(join(dir, 'chat.db'))
    expect((await store.createRoom({ name: 'again', postId: 5 })).created).toBe(false)
  })
})

describe('embedded migrations', () => {
  it('should embed every migration drizzle-kit generated, and nothing else', () => {
    const files = readdirSync(join(import.meta.dir, '..', 'drizzle'))
      .filter((f) => f.endsWith('.sql'))
      .map((f) => f.replace(/\.sql$/, ''))
      .sort()
    expect(sqliteJournal.entries.map((e) => e.tag).sort()).toEqual(files)
    expect(Object.keys(migrationSql).sort()).toEqual(files)
  })
})
