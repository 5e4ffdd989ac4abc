/**
 * Storage throughput through the real code path: SqliteStore.appendMessage (prepared statements,
 * group commit, WAL, synchronous=NORMAL) with `--inflight` appends outstanding at a time, against
 * the SQLite ceiling in the same process: one raw prepared INSERT per row inside one transaction.
 * Prints one JSON line.
 *
 *   bun bench/store.ts [--messages 200000] [--inflight 2000]
 */
import type { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { migrateSqlite, openSqlite } from '../src/db/sqlite.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'

const { values } = parseArgs({ options: { messages: { type: 'string', default: '200000' }, inflight: { type: 'string', default: '2000' } } })
const total = Number(values.messages)
const inflight = Number(values.inflight)
const dir = mkdtempSync(join(tmpdir(), 'chat-store-bench-'))

try {
  // The real path.
  let batches = 0
  const store = SqliteStore.open(join(dir, 'store.db'), () => batches++)
  // Messages spread over 20 rooms, as in the fan-out scenario.
  for (let r = 0; r < 20; r++) await store.createRoom({ name: `bench ${r}`, postId: null })
  const message = (i: number) => ({
    roomId: (i % 20) + 1,
    userId: `u${i % 50}`,
    email: `u${i % 50}@bench.local`,
    nickname: `사용자${i % 50}`,
    profileUrl: null,
    body: `message number ${i} with a little text in it`,
    clientMsgId: null,
    createdAt: Date.now(),
  })
  let issued = 0
  const started = performance.now()
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (issued < total) await store.appendMessage(message(issued++))
    }),
  )
  const storeSeconds = (performance.now() - started) / 1000
  await store.close()

  // The ceiling: the same schema, pragmas and indexes, raw inserts in one transaction.
  const raw = openSqlite(join(dir, 'raw.db'))
  migrateSqlite(raw)
  const db: Database = raw.$client
  for (let r = 0; r < 20; r++) db.run("INSERT INTO rooms (name, created_at) VALUES ('bench', 0)")
  const insert = db.prepare('INSERT INTO messages (room_id, user_id, email, nickname, profile_url, body, client_msg_id, created_at) VALUES ($roomId, $userId, $email, $nickname, $profileUrl, $body, $clientMsgId, $createdAt)')
  const rawStarted = performance.now()
  db.transaction(() => {
    for (let i = 0; i < total; i++) insert.run(message(i))
  })()
  const rawSeconds = (performance.now() - rawStarted) / 1000
  db.close()

  console.log(JSON.stringify({ messages: total, storedPerSecond: total / storeSeconds, rawPerSecond: total / rawSeconds, meanBatch: total / Math.max(1, batches) }))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
