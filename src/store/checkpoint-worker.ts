/**
 * The SQLite checkpointer's thread (see checkpointer.ts): copies what the WAL holds back into the
 * database file, and syncs both, off the thread that serves chat. A separate entrypoint of the
 * compiled binary (see build.ts).
 */
import { Database } from 'bun:sqlite'
import type { CheckpointerReply, CheckpointerRequest } from './checkpointer.ts'

declare const self: Worker

/** Writes not announced (a member added, a read marker) are copied back at least this often. */
const IDLE_PASS_MS = 1000

let db: Database | null = null
let timer: ReturnType<typeof setInterval> | null = null

const reply = (message: CheckpointerReply) => self.postMessage(message)

/** Whether the last pass failed: a failure is told once, and so is the recovery after it. */
let failing = false

/** One pass: as much of the WAL as can be copied without waiting for the server's readers or writer. */
function pass() {
  if (!db) return
  try {
    db.query('PRAGMA wal_checkpoint(PASSIVE)').get()
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
  timer = null
  db?.close()
  db = null
}

self.onmessage = (event: MessageEvent<CheckpointerRequest>) => {
  const request = event.data
  if (request.kind === 'wrote') return pass()
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
    timer = setInterval(pass, IDLE_PASS_MS)
    reply({ kind: 'started' })
  } catch (error) {
    stop()
    reply({ kind: 'failed', error: error instanceof Error ? error.message : String(error) })
  }
}
