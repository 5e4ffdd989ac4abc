import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WalCheckpointer } from '../src/store/checkpointer.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import type { NewMessage } from '../src/store/store.ts'
import { until } from './support/wait.ts'

// SQLite's checkpoints (copying the WAL back into the database file, syncing both) run on a thread
// of their own, not inside the commits of the thread that serves chat. SQLite-only by nature.

const message = (roomId: number, i: number): NewMessage => ({
  roomId,
  userId: `u${i % 10}`,
  email: `u${i % 10}@example.com`,
  nickname: `판매자${i % 10}`,
  profileUrl: null,
  body: `의자 아직 있나요? ${i} ${'가'.repeat(200)}`,
  clientMsgId: null,
  createdAt: Date.now(),
})

const autocheckpoint = (store: SqliteStore) => (store as unknown as { db: { $client: Database } }).db.$client.query('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }

describe('the SQLite checkpointer', () => {
  let dir: string
  let path: string
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'chat-checkpoint-'))
    path = join(dir, 'chat.db')
  })
  afterEach(() => rmSync(dir, { recursive: true, force: true }))

  it('should copy committed pages into the database file on its own thread, the server checkpointing only past its bound', async () => {
    const store = SqliteStore.open(path)
    try {
      const { room } = await store.createRoom({ name: '중고 의자', postId: null })
      const before = statSync(path).size
      // About 1,500 pages of WAL: past SQLite's default of 1,000, below the server's bound of 10,000.
      for (let turn = 0; turn < 30; turn++) await Promise.all(Array.from({ length: 100 }, (_, i) => store.appendMessage(message(room.id, turn * 100 + i))))
      expect(autocheckpoint(store).wal_autocheckpoint).toBe(10_000)
      // The server's connection did not checkpoint (below its bound): the file grows only by the other thread's passes.
      await until(() => statSync(path).size > before + 1_000_000, { what: 'the database file to take the committed pages' })
      expect((await store.listMessages(room.id, { limit: 1 }))[0]?.body).toStartWith('의자 아직 있나요? 2999')
    } finally {
      await store.close()
    }
    const reopened = new Database(path, { readonly: true })
    expect((reopened.query('SELECT count(*) AS n FROM messages').get() as { n: number }).n).toBe(3000)
    reopened.close()
  })

  it('should start no thread for a store only read', async () => {
    const store = SqliteStore.open(path)
    await store.listRooms({ limit: 10 })
    expect(autocheckpoint(store).wal_autocheckpoint).toBe(1000)
    await store.close()
  })

  it('should leave checkpoints to the connection, and say so once, when its thread cannot open the file', async () => {
    const client = new Database(path, { create: true })
    client.run('PRAGMA journal_mode = WAL')
    const warnings: string[] = []
    const logger = { warn: (msg: string, fields?: { error?: unknown }) => warnings.push(`${msg}: ${String(fields?.error)}`), info: () => {} }
    const checkpointer = new WalCheckpointer(join(dir, 'missing', 'chat.db'), client, logger)
    checkpointer.wrote()
    await until(() => warnings.length > 0, { what: 'the failure to be told' })
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toStartWith('the SQLite checkpointer thread failed; the server checkpoints by itself: ')
    expect((client.query('PRAGMA wal_autocheckpoint').get() as { wal_autocheckpoint: number }).wal_autocheckpoint).toBe(1000)
    // Later writes start nothing and say nothing more.
    checkpointer.wrote()
    await Bun.sleep(50)
    expect(warnings).toHaveLength(1)
    await checkpointer.stop()
    client.close()
  })
})
