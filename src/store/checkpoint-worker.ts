/**
 * The SQLite checkpointer's thread (see checkpointer.ts): copies what the WAL holds back into the
 * database file, and syncs both, off the thread that serves chat. A separate entrypoint of the
 * compiled binary (see build.ts).
 */
import { Database } from 'bun:sqlite'
import type { CheckpointerReply, CheckpointerRequest } from './checkpointer.ts'

declare const self: Worker

/**
 * Pages a pass aims to copy, which sets how often passes come: each pass syncs two files. Measured
 * (server under the fan-out load, and a big room of 500 sockets at 200 messages a second, each
 * message its own commit): a pass every 10 ms whatever the rate made the big room's median latency
 * 0.7 ms longer (200 syncs a second for a few pages each); 1,000 pages a pass, SQLite's own
 * checkpoint size, made the fan-out's p99 1.4x longer (large copies and syncs beside the server's
 * commits); 250, 1.13x; 100 kept both where 10 ms passes kept the fan-out and SQLite's own
 * checkpoints kept the big room.
 */
const PAGES_PER_PASS = 100
/** The gaps between passes, whatever the rate of writes. */
const MIN_GAP_MS = 10
const MAX_GAP_MS = 1000

let db: Database | null = null
let timer: ReturnType<typeof setInterval> | null = null
let scheduled: ReturnType<typeof setTimeout> | null = null
/** When the last pass ran. */
let lastPassAt = 0
/** The WAL's length at the last pass, in pages. */
let lastLog = 0
/** How long the next pass waits after the last. */
let gapMs = MIN_GAP_MS
/** Whether the last pass failed: a failure is told once, and so is the recovery after it. */
let failing = false

const reply = (message: CheckpointerReply) => self.postMessage(message)

/** The server wrote: a pass is due once the gap since the last one has passed. */
function wrote() {
  if (!db || scheduled) return
  scheduled = setTimeout(
    () => {
      scheduled = null
      pass()
    },
    Math.max(0, lastPassAt + gapMs - performance.now()),
  )
}

/**
 * One pass: as much of the WAL as can be copied without waiting for the server's readers or
 * writer. The next waits for about PAGES_PER_PASS pages at the rate of writes this one found.
 */
function pass() {
  if (!db) return
  try {
    const { log } = db.query('PRAGMA wal_checkpoint(PASSIVE)').get() as { log: number }
    const now = performance.now()
    // A WAL shorter than at the last pass started over meanwhile: all of it is new.
    const written = log >= lastLog ? log - lastLog : log
    const perPage = written > 0 ? (now - lastPassAt) / written : Number.POSITIVE_INFINITY
    gapMs = Math.min(MAX_GAP_MS, Math.max(MIN_GAP_MS, PAGES_PER_PASS * perPage))
    lastPassAt = now
    lastLog = log
    if (failing) reply({ kind: 'recovered' })
    failing = false
  } catch (error) {
    // A full disk, say: the next pass tries again; meanwhile the WAL grows up to the server's bound.
    if (!failing) reply({ kind: 'passFailed', error: error instanceof Error ? error.message : String(error) })
    failing = true
  }
}

function stop() {
  if (timer) clearInterval(timer)
  if (scheduled) clearTimeout(scheduled)
  timer = null
  scheduled = null
  db?.close()
  db = null
}

self.onmessage = (event: MessageEvent<CheckpointerRequest>) => {
  const request = event.data
  if (request.kind === 'wrote') return wrote()
  if (request.kind === 'stop') {
    stop()
    return reply({ kind: 'stopped' })
  }
  try {
    db = new Database(request.path, { readwrite: true, create: false })
    // The same durability as the server's connection: the WAL synced before, the file after, each pass.
    db.run('PRAGMA synchronous = NORMAL')
    // Its passes never wait: a lock held elsewhere leaves the rest for the next pass.
    db.run('PRAGMA busy_timeout = 0')
    lastPassAt = performance.now()
    // Writes the server does not announce (a member added, a read marker) are copied back too.
    timer = setInterval(wrote, MAX_GAP_MS)
    reply({ kind: 'started' })
    wrote()
  } catch (error) {
    stop()
    reply({ kind: 'failed', error: error instanceof Error ? error.message : String(error) })
  }
}
