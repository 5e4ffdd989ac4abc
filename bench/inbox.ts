/**
 * The inbox at scale: a store holding `--messages` messages in `--rooms` rooms, one user in
 * `--user-rooms` of them (a third read to the end, a third half way, a third not at all). Times the
 * inbox's first page (30 rooms) and the unread badge, on SQLite and on Postgres, against a
 * reference query run in the same script on the same data: the plain indexed SELECT of the newest
 * message of each of the user's rooms. Prints a table and one JSON line.
 *
 *   bun bench/inbox.ts [--messages 1000000] [--rooms 20000] [--user-rooms 1000] [--runs 200] [--no-postgres]
 */
import { Database } from 'bun:sqlite'
import { SQL } from 'bun'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { InboxService } from '../src/modules/inbox/service.ts'
import { Files } from '../src/modules/uploads/files.ts'
import { LocalFileStorage } from '../src/uploads/local-storage.ts'
import { MemoryPresence } from '../src/realtime/presence.ts'
import { PostgresStore } from '../src/store/postgres-store.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import type { Store } from '../src/store/store.ts'
import { createDatabase } from '../test/support/cluster.ts'

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000000' },
    rooms: { type: 'string', default: '20000' },
    'user-rooms': { type: 'string', default: '1000' },
    runs: { type: 'string', default: '200' },
    postgres: { type: 'boolean', default: true },
  },
  allowNegative: true,
})
const MESSAGES = Number(values.messages)
const ROOMS = Number(values.rooms)
const USER_ROOMS = Number(values['user-rooms'])
const RUNS = Number(values.runs)
const USER = 'inbox-user'
/** The user's rooms are spread evenly over all rooms. */
const STRIDE = Math.floor(ROOMS / USER_ROOMS)

/** Messages go round the rooms: message i (from 1) is in room ((i - 1) % ROOMS) + 1. */
const roomOf = (i: number) => ((i - 1) % ROOMS) + 1
/** The user's k-th room, its marker: read to the end, half way, or not at all. */
const markerOf = (room: number, k: number) => {
  const newest = MESSAGES - ((MESSAGES - room) % ROOMS)
  return k % 3 === 0 ? newest : k % 3 === 1 ? newest - Math.floor(MESSAGES / ROOMS / 2) * ROOMS : 0
}

// The reference: the newest message id of each of the user's rooms, one index seek per room.
const REFERENCE = `select m.room_id, (select x.id from messages x where x.room_id = m.room_id order by x.id desc limit 1) as newest from members m where m.user_id = $user`

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!

async function time(run: () => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 20; i++) await run()
  const samples: number[] = []
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now()
    await run()
    samples.push(performance.now() - started)
  }
  return { p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) }
}

async function measure(store: Store, reference: () => Promise<unknown>) {
  // The bench's messages carry no files; their links would be signed by a folder's key.
  const files = new Files(new LocalFileStorage({ folder: mkdtempSync(join(tmpdir(), 'chat-inbox-bench-files-')) }), 3600, '')
  const inbox = new InboxService(store, new MemoryPresence(() => {}), files.links)
  const caller = { identity: { userId: USER, nickname: 'U', email: 'u@bench.local', profileUrl: null }, service: false }
  const first = await inbox.page(caller, { limit: 30 }, 'bench')
  if (first.rooms.length !== 30) throw new Error(`the inbox's first page has ${first.rooms.length} rooms`)
  return {
    reference: await time(reference),
    inbox: await time(() => inbox.page(caller, { limit: 30 }, 'bench')),
    // The ordering query alone, without the page's last messages, counts and members.
    ordering: await time(async () => store.membership.inbox(USER, { limit: 30, asOfId: await store.membership.newestMessageId(), asOfAt: Date.now(), after: null })),
    badge: await time(() => store.membership.unreadTotal(USER)),
  }
}

async function onSqlite() {
  const dir = mkdtempSync(join(tmpdir(), 'chat-inbox-bench-'))
  try {
    const path = join(dir, 'chat.db')
    await SqliteStore.open(path).close()
    const db = new Database(path)
    const started = performance.now()
    db.transaction(() => {
      const room = db.prepare('insert into rooms (id, name, created_at, kind) values (?, ?, ?, ?)')
      for (let r = 1; r <= ROOMS; r++) room.run(r, `room ${r}`, r, 'open')
      const message = db.prepare('insert into messages (id, room_id, user_id, email, nickname, body, created_at, seq) values (?, ?, ?, ?, ?, ?, ?, ?)')
      for (let i = 1; i <= MESSAGES; i++) message.run(i, roomOf(i), `w${i % 97}`, 'w@bench.local', 'W', `message ${i}`, ROOMS + i, Math.floor((i - 1) / ROOMS) + 1)
      const member = db.prepare("insert into members (room_id, user_id, role, last_read_id, joined_at) values (?, ?, 'participant', ?, 0)")
      for (let k = 0; k < USER_ROOMS; k++) member.run(1 + k * STRIDE, USER, markerOf(1 + k * STRIDE, k))
      // What appends keep on each room's row: its newest message.
      db.run('update rooms set last_message_id = (select max(id) from messages where room_id = rooms.id), last_seq = (select count(*) from messages where room_id = rooms.id)')
      db.run('update rooms set last_message_at = (select created_at from messages where id = rooms.last_message_id)')
    })()
    db.run('analyze')
    const loadSeconds = (performance.now() - started) / 1000
    db.close()
    const store = SqliteStore.open(path)
    const client = new Database(path, { readonly: true })
    const ref = client.prepare(REFERENCE.replace('$user', '?'))
    const result = await measure(store, async () => ref.all(USER))
    client.close()
    await store.close()
    return { loadSeconds, ...result }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function onPostgres() {
  const database = await createDatabase()
  try {
    const store = await PostgresStore.open(database.url)
    const client = new SQL(database.url)
    const started = performance.now()
    await client.unsafe(`insert into rooms (id, name, created_at, kind, last_seq) overriding system value select r, 'room ' || r, r, 'open', 0 from generate_series(1, ${ROOMS}) r`)
    await client.unsafe(
      `insert into messages (id, room_id, seq, user_id, email, nickname, body, created_at) overriding system value
       select i, ((i - 1) % ${ROOMS}) + 1, ((i - 1) / ${ROOMS}) + 1, 'w' || (i % 97), 'w@bench.local', 'W', 'message ' || i, ${ROOMS} + i from generate_series(1, ${MESSAGES}) i`,
    )
    await client.unsafe(`update rooms set last_seq = (select count(*) from messages where room_id = rooms.id), last_message_id = (select max(id) from messages where room_id = rooms.id)`)
    await client.unsafe(`update rooms set last_message_at = (select created_at from messages where id = rooms.last_message_id)`)
    const rows = Array.from({ length: USER_ROOMS }, (_, k) => ({ room_id: 1 + k * STRIDE, user_id: USER, role: 'participant', last_read_id: markerOf(1 + k * STRIDE, k), joined_at: 0 }))
    await client`insert into members ${client(rows)}`
    await client.unsafe('vacuum analyze')
    const loadSeconds = (performance.now() - started) / 1000
    const reference = REFERENCE.replace('$user', '$1')
    const result = await measure(store, () => client.unsafe(reference, [USER]))
    await client.close()
    await store.close()
    return { loadSeconds, ...result }
  } finally {
    await database.drop()
  }
}

const results: Record<string, Awaited<ReturnType<typeof onSqlite>>> = { sqlite: await onSqlite() }
if (values.postgres) results.postgres = await onPostgres()
const fmt = (n: number) => n.toFixed(2)
console.log(`${MESSAGES.toLocaleString('en-US')} messages in ${ROOMS.toLocaleString('en-US')} rooms; one user in ${USER_ROOMS}; ${RUNS} runs each (ms)\n`)
console.log('| store | reference p50 / p99 | inbox first page p50 / p99 | ratio p99 | its ordering query p50 / p99 | unread badge p50 / p99 | ratio p99 |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const [name, r] of Object.entries(results)) {
  console.log(
    `| ${name} | ${fmt(r.reference.p50)} / ${fmt(r.reference.p99)} | ${fmt(r.inbox.p50)} / ${fmt(r.inbox.p99)} | ${fmt(r.inbox.p99 / r.reference.p99)} | ${fmt(r.ordering.p50)} / ${fmt(r.ordering.p99)} | ${fmt(r.badge.p50)} / ${fmt(r.badge.p99)} | ${fmt(r.badge.p99 / r.reference.p99)} |`,
  )
}
console.log(JSON.stringify(results))
process.exit(0)
