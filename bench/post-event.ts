/**
 * A post event over many rooms on the compiled server: --rooms direct rooms about one post (one
 * seller, buyers b1…bN, made by service calls), one socket per room (the buyer's), then one
 * `POST /chat/v1/posts/{post_id}/messages/` (service call), plain or with `status: 'archived'`.
 * Timed from the send to the answer, to each room's system message (`chat.message`, kind `system`)
 * and to the last one. Every room must hear exactly one system message, and an archived event's
 * `chat.room.updated` before it: a miss, a double or an archive heard late fails the run. Each
 * round is a fresh server and post, its rooms and sockets, the plain event, then the archiving one
 * to the same rooms; SQLite, or a fresh Postgres database with --postgres. --quick: 200 rooms, one
 * round. Without --binary the server is built first.
 *
 * Prints a table (min–max over the rounds) and one JSON line (medians).
 *
 *   bun bench/post-event.ts [--binary <chat-server>] [--quick] [--rooms 1000] [--rounds 3] [--postgres]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createDatabase } from '../test/support/cluster.ts'
import { SERVICE_SECRET, type Server, startServer } from './servers.ts'

const { values } = parseArgs({
  options: {
    binary: { type: 'string' },
    quick: { type: 'boolean', default: false },
    rooms: { type: 'string' },
    rounds: { type: 'string' },
    postgres: { type: 'boolean', default: false },
  },
})
const quick = values.quick
const roomCount = Number(values.rooms ?? (quick ? 200 : 1000))
const rounds = Number(values.rounds ?? (quick ? 1 : 3))
const POST_ID = 7001
const SELLER = 'seller'
/** How long a round waits for doubles after the last room heard its message. */
const GRACE_MS = 500
const service = { 'content-type': 'application/json', 'x-service-secret': SERVICE_SECRET }
const work = mkdtempSync(join(tmpdir(), 'chat-post-event-'))

/** The server to run: --binary, or one built from this checkout into the temp folder. */
function binaryPath(): string {
  if (values.binary) return values.binary
  const outfile = join(work, 'chat-server')
  const build = Bun.spawnSync([process.execPath, 'build.ts', '--outfile', outfile], { cwd: join(import.meta.dir, '..'), stdout: 'inherit', stderr: 'inherit' })
  if (build.exitCode !== 0) throw new Error('build failed')
  return outfile
}

/** Runs `fn` with `count` workers taking the indexes 0…total-1 in turn. */
async function pool(total: number, count: number, fn: (i: number) => Promise<void>) {
  let next = 0
  await Promise.all(
    Array.from({ length: count }, async () => {
      while (next < total) await fn(next++)
    }),
  )
}

/** The direct rooms of the seller and b1…bN about the post, in buyer order. */
async function createRooms(server: Server): Promise<number[]> {
  const ids: number[] = []
  await pool(roomCount, 8, async (i) => {
    const body = { name: `b${i + 1} · bench post`, kind: 'direct', members: [SELLER, `b${i + 1}`], post_id: POST_ID, data: { title: 'bench post', price: 950000 } }
    const res = await fetch(`http://127.0.0.1:${server.port}/chat/v1/create-room/`, { method: 'POST', headers: service, body: JSON.stringify(body) })
    if (res.status !== 201) throw new Error(`creating b${i + 1}'s room answered ${res.status}: ${await res.text()}`)
    ids[i] = ((await res.json()) as { id: number }).id
  })
  return ids
}

/** What one room's socket heard of an event, in ms from its send. */
interface Heard {
  systemMessages: number
  systemAt: number
  archivedAt: number
  archiveFirst: boolean
}

/** One event as the sockets hear it: its text tells its system messages apart from an earlier event's. */
interface Listening {
  text: string
  sent: number
  heard: Heard[]
  reached: number
  everyRoom: PromiseWithResolvers<void>
}

/** Connects the buyer's socket to each room (into `sockets`); frames go to whichever event is being listened for. */
async function connect(server: Server, rooms: number[], sockets: WebSocket[], listening: () => Listening | null): Promise<void> {
  await pool(rooms.length, 50, async (i) => {
    const query = new URLSearchParams({ user_id: `b${i + 1}`, nickname: `b${i + 1}`, email: `b${i + 1}@bench.local` })
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/chat/${rooms[i]}/chat/?${query}`)
    sockets.push(ws)
    const ready = Promise.withResolvers<void>()
    ws.addEventListener('message', (event) => {
      const frame = JSON.parse(event.data as string) as { type: string; kind?: string; message?: string; room?: { status?: string } }
      if (frame.type === 'chat.error' && frame.message?.includes('bench.ready')) return ready.resolve()
      const now = listening()
      if (!now) return
      const room = now.heard[i]!
      const at = performance.now() - now.sent
      if (frame.type === 'chat.room.updated' && frame.room?.status === 'archived') room.archivedAt = at
      else if (frame.type === 'chat.message' && frame.kind === 'system' && frame.message === now.text && room.systemMessages++ === 0) {
        room.systemAt = at
        room.archiveFirst = !Number.isNaN(room.archivedAt)
        if (++now.reached === rooms.length) now.everyRoom.resolve()
      }
    })
    ws.addEventListener('error', () => ready.reject(new Error(`b${i + 1}'s socket could not connect`)), { once: true })
    ws.addEventListener('open', () => ws.send('{"type":"bench.ready"}'), { once: true })
    // The server has handled the open once it answers a frame: the socket is in its room.
    await ready.promise
  })
}

/** Sends the post event and waits for every room's system message, then a grace for doubles; throws on a miss, a double or a late archive. */
async function postEvent(server: Server, rooms: number[], archived: boolean, listen: (l: Listening) => void) {
  const text = archived ? 'sold: this post is closed' : 'reserved for a buyer'
  const now: Listening = { text, sent: 0, heard: rooms.map(() => ({ systemMessages: 0, systemAt: Number.NaN, archivedAt: Number.NaN, archiveFirst: false })), reached: 0, everyRoom: Promise.withResolvers() }
  listen(now)
  await Bun.sleep(300)
  now.sent = performance.now()
  const res = await fetch(`http://127.0.0.1:${server.port}/chat/v1/posts/${POST_ID}/messages/`, {
    method: 'POST',
    headers: service,
    body: JSON.stringify({ message: text, data: { event: archived ? 'sold' : 'reserved' }, ...(archived ? { status: 'archived' } : {}) }),
  })
  const answerMs = performance.now() - now.sent
  if (res.status !== 200) throw new Error(`the post event answered ${res.status}: ${await res.text()}`)
  const answered = new Set(((await res.json()) as { rooms: number[] }).rooms)
  // Up to 30 s for every room (a timer that is cleared, so a finished run does not wait on it).
  let timer: Timer | undefined
  await Promise.race([now.everyRoom.promise, new Promise((done) => (timer = setTimeout(done, 30_000)))])
  clearTimeout(timer)
  await Bun.sleep(GRACE_MS)

  const roomsWhere = (test: (h: Heard) => boolean) => now.heard.flatMap((h, i) => (test(h) ? [rooms[i]!] : []))
  const missed = roomsWhere((h) => h.systemMessages === 0)
  const doubled = roomsWhere((h) => h.systemMessages > 1)
  const archiveLate = archived ? roomsWhere((h) => h.systemMessages > 0 && !h.archiveFirst) : []
  const unanswered = rooms.filter((id) => !answered.has(id))
  const some = (ids: number[], what: string) => (ids.length ? [`${ids.length} rooms ${what} (${ids.slice(0, 10).join(', ')}${ids.length > 10 ? '…' : ''})`] : [])
  const problems = [
    ...some(missed, 'heard no system message'),
    ...some(doubled, 'heard it more than once'),
    ...some(archiveLate, 'heard it before their archive'),
    ...some(unanswered, 'missing from the answer'),
    ...(answered.size !== rooms.length ? [`the answer listed ${answered.size} rooms, not ${rooms.length}`] : []),
  ]
  if (problems.length) throw new Error(`${archived ? 'archived' : 'plain'} post event: ${problems.join('; ')}`)
  const delivery = now.heard.map((h) => h.systemAt).sort((a, b) => a - b)
  const at = (q: number) => delivery[Math.min(delivery.length - 1, Math.floor(delivery.length * q))]!
  return { answerMs, lastMs: delivery.at(-1)!, p50Ms: at(0.5), p99Ms: at(0.99), lastArchiveMs: archived ? Math.max(...now.heard.map((h) => h.archivedAt)) : Number.NaN }
}

/** One round: a fresh server and post with its rooms and sockets, the plain event, then the archiving one. */
async function round(binary: string) {
  const dir = mkdtempSync(join(work, 'round-'))
  const db = values.postgres ? await createDatabase() : null
  const server = await startServer(binary, dir, db ? { DATABASE_URL: db.url } : {})
  let listening: Listening | null = null
  const sockets: WebSocket[] = []
  try {
    const rooms = await createRooms(server)
    await connect(server, rooms, sockets, () => listening)
    const plain = await postEvent(server, rooms, false, (l) => (listening = l))
    const archived = await postEvent(server, rooms, true, (l) => (listening = l))
    return { plain, archived }
  } finally {
    for (const ws of sockets) ws.close()
    await server.stop()
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  }
}

type Round = Awaited<ReturnType<typeof postEvent>>
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1))
const range = (xs: number[]) => (xs.length === 1 ? fmt(xs[0]!) : `${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))}`)

try {
  const binary = binaryPath()
  const results = { plain: [] as Round[], archived: [] as Round[] }
  for (let i = 0; i < rounds; i++) {
    const { plain, archived } = await round(binary)
    results.plain.push(plain)
    results.archived.push(archived)
    const line = (r: Round) => `answer ${fmt(r.answerMs)} ms, last room ${fmt(r.lastMs)} ms`
    console.log(`round ${i + 1}: plain ${line(results.plain.at(-1)!)}; archived ${line(results.archived.at(-1)!)}`)
  }
  const row = (label: string, key: keyof Round) => `| ${label} | ${range(results.plain.map((r) => r[key]))} | ${range(results.archived.map((r) => r[key]))} |`
  console.log(
    [
      `post event: ${roomCount} direct rooms of one post, a socket in each, ${values.postgres ? 'Postgres' : 'SQLite'}, ${rounds} round(s) on fresh servers; every room heard its system message once`,
      '',
      '| ms from the send | plain | archived |',
      '| --- | ---: | ---: |',
      row('answer', 'answerMs'),
      row('last room delivered', 'lastMs'),
      row('per-room delivery p50', 'p50Ms'),
      row('per-room delivery p99', 'p99Ms'),
      `| last room archived | – | ${range(results.archived.map((r) => r.lastArchiveMs))} |`,
    ].join('\n'),
  )
  const medians = (rs: Round[], prefix: string) => Object.fromEntries((['answerMs', 'lastMs', 'p50Ms', 'p99Ms'] as const).map((k) => [`${prefix}${k[0]!.toUpperCase()}${k.slice(1)}`, median(rs.map((r) => r[k]))]))
  const lastArchiveMs = median(results.archived.map((r) => r.lastArchiveMs))
  console.log(JSON.stringify({ rooms: roomCount, rounds, ...medians(results.plain, 'plain'), ...medians(results.archived, 'archived'), archivedLastArchiveMs: lastArchiveMs }))
} finally {
  rmSync(work, { recursive: true, force: true })
}
