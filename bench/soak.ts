/**
 * Soak: clients keep connecting, chatting, opening second tabs, and leaving (cleanly or by
 * dropping the TCP connection) for a while; then everything is checked to be gone. Exits 1 when
 * something is left over.
 *
 *   bun run soak [--seconds 300] [--concurrency 50] [--rooms 10] [--rss-growth-mb 64]
 *
 * At the end: no open socket and no active room (from /metrics), nobody online in any room (from
 * the REST API), the server still answering, and its RSS grown by at most --rss-growth-mb since the
 * end of the warm-up (the first tenth of the run).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startInstance } from '../test/support/cluster.ts'
import { RawWebSocket } from '../test/support/raw-socket.ts'
import { UNLIMITED } from '../test/support/server.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '300' },
    concurrency: { type: 'string', default: '50' },
    rooms: { type: 'string', default: '10' },
    'rss-growth-mb': { type: 'string', default: '64' },
  },
})
const seconds = Number(values.seconds)
const concurrency = Number(values.concurrency)
const roomCount = Number(values.rooms)
const rssBound = Number(values['rss-growth-mb']) * 1024 * 1024

const dir = mkdtempSync(join(tmpdir(), 'chat-soak-'))
// One address opens every socket here: the per-address limits are out of the way.
const server = await startInstance({ DATABASE_PATH: join(dir, 'chat.db'), ...UNLIMITED })
const base = server.base
const metrics = async () => {
  const text = await (await fetch(`${base}/metrics`)).text()
  const read = (name: string) =>
    Number(
      text
        .split('\n')
        .find((l) => l.startsWith(`${name} `))
        ?.split(' ')[1] ?? Number.NaN,
    )
  return { sockets: read('chat_open_sockets'), rooms: read('chat_active_rooms'), rss: read('chat_process_memory_bytes{kind="rss"}'), stored: read('chat_messages_stored_total') }
}

const rooms: number[] = []
for (let i = 0; i < roomCount; i++) {
  const res = await fetch(`${base}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `soak ${i}` }) })
  rooms.push(((await res.json()) as { id: number }).id)
}

const counts = { sessions: 0, messages: 0, abrupt: 0, tabs: 0, errors: 0 }
/** The first few visits that failed, and why: none should (the server refuses nothing here). */
const failures: string[] = []
const deadline = Date.now() + seconds * 1000
const pick = <T>(items: readonly T[]) => items[Math.floor(Math.random() * items.length)]!

function open(room: number, user: string): Promise<WebSocket> {
  const q = new URLSearchParams({ user_id: user, nickname: `소크${user}`, email: `${user}@soak.local` })
  const ws = new WebSocket(`${base.replace('http', 'ws')}/ws/chat/${room}/chat/?${q}`)
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(ws), { once: true })
    ws.addEventListener('error', () => reject(new Error('connect failed')), { once: true })
  })
}

/** One visit: join, maybe open a second tab, say a few things, leave. */
async function visit(worker: number, n: number) {
  const room = pick(rooms)
  const user = `w${worker}-${n % 7}`
  counts.sessions++
  if (Math.random() < 0.1) {
    // Drop the TCP connection without a close frame, as a phone losing its network does.
    const raw = await RawWebSocket.open(Number(new URL(base).port), `/ws/chat/${room}/chat/?user_id=${user}&nickname=raw&email=${user}@soak.local`)
    raw.send(JSON.stringify({ type: 'chat.message', message: 'gone in a moment' }))
    await Bun.sleep(Math.random() * 50)
    raw.destroy()
    counts.abrupt++
    return
  }
  const ws = await open(room, user)
  const second = Math.random() < 0.2 ? await open(room, user) : null
  if (second) counts.tabs++
  for (let i = 0, k = 1 + Math.floor(Math.random() * 4); i < k; i++) {
    ws.send(JSON.stringify(Math.random() < 0.2 ? { type: 'chat.typing' } : { type: 'chat.message', message: `soak ${worker}:${n}:${i}` }))
    counts.messages++
    await Bun.sleep(Math.random() * 100)
  }
  second?.close()
  ws.close()
}

async function worker(id: number) {
  for (let n = 0; Date.now() < deadline; n++) {
    try {
      await visit(id, n)
    } catch (error) {
      counts.errors++
      if (failures.length < 5) failures.push(error instanceof Error ? error.message : String(error))
      await Bun.sleep(100)
    }
  }
}

const warmupEnd = Date.now() + (seconds * 1000) / 10
const warmup = (async () => {
  await Bun.sleep(Math.max(0, warmupEnd - Date.now()))
  return (await metrics()).rss
})()
await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)))
const rssAfterWarmup = await warmup

// Let closes arrive (abrupt ones end when the server sees the reset).
let end = await metrics()
for (let i = 0; i < 50 && (end.sockets !== 0 || end.rooms !== 0); i++) {
  await Bun.sleep(200)
  end = await metrics()
}
// The last leaves are announced once PRESENCE_GRACE_MS (3 s by default) has passed.
const onlineNow = async () => ((await (await fetch(`${base}/chat/v1/rooms/?limit=200`)).json()) as { online_count: number }[]).reduce((sum, r) => sum + r.online_count, 0)
let online = await onlineNow()
for (let i = 0; i < 50 && online !== 0; i++) {
  await Bun.sleep(200)
  online = await onlineNow()
}
const healthy = (await fetch(`${base}/healthz`)).status === 200
const growth = end.rss - rssAfterWarmup
const checks = {
  'no open socket': end.sockets === 0,
  'no active room': end.rooms === 0,
  'nobody online': online === 0,
  'server answering': healthy,
  'no visit failed': counts.errors === 0,
  [`RSS growth <= ${values['rss-growth-mb']} MB`]: growth <= rssBound,
}
console.log(
  JSON.stringify({
    seconds,
    concurrency,
    ...counts,
    stored: end.stored,
    openSockets: end.sockets,
    activeRooms: end.rooms,
    online,
    rssAfterWarmupMB: +(rssAfterWarmup / 1048576).toFixed(1),
    rssEndMB: +(end.rss / 1048576).toFixed(1),
  }),
)
for (const [name, ok] of Object.entries(checks)) console.log(`${ok ? 'ok' : 'FAILED'}: ${name}`)
for (const failure of failures) console.log(`visit failed: ${failure}`)
server.proc.kill('SIGTERM')
await server.exited
rmSync(dir, { recursive: true, force: true })
process.exit(Object.values(checks).every(Boolean) ? 0 : 1)
