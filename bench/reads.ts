/**
 * What the REST reads an app makes all day cost the server: a room's history, the inbox, the
 * badge, the room list and a read marker moving, each as server CPU per request (from /proc; the
 * load client is this process), beside /healthz through the same gateway and router as the floor.
 * Two binaries in alternating rounds on fresh servers, each seeded alike: 200 users, 100 private rooms of four
 * (each user in two) with 20 messages each, and 1,000 direct rooms about posts (each user in ten,
 * as a marketplace's inbox is) with one message each. Prints a table and one JSON line.
 *
 *   bun bench/reads.ts --a <chat-server> --b <chat-server> [--rounds 3] [--requests 4000] [--routes history,inbox]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { cpuMs, SERVICE_SECRET, startServer } from './servers.ts'

const { values } = parseArgs({ options: { a: { type: 'string' }, b: { type: 'string' }, rounds: { type: 'string', default: '3' }, requests: { type: 'string', default: '4000' }, routes: { type: 'string' } } })
if (!values.a || !values.b) throw new Error('--a and --b (two compiled chat servers) are required')
const binaries = { a: values.a, b: values.b }
const rounds = Number(values.rounds)
const requests = Number(values.requests)
const USERS = 200
const ROOMS = 100
const MESSAGES = 20
/** Direct rooms each user opens (with the next users, about a post each). */
const DIRECT = 5
/** Requests in flight at once. */
const CONCURRENCY = 16
const only = values.routes?.split(',')
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const user = (i: number) => `reader-${i}`
const as = (i: number) => ({ 'x-user-id': user(i), 'x-nickname': encodeURIComponent(`독자${i}`), 'x-email': `${user(i)}@example.com` })
const service = { 'content-type': 'application/json', 'x-service-secret': SERVICE_SECRET }

/** Makes the rooms (room r holds users 2r, 2r+1 and the next two) and their messages; the rooms' ids. */
async function seed(base: string): Promise<number[]> {
  const rooms: number[] = []
  for (let r = 0; r < ROOMS; r++) {
    const members = [0, 1, 2, 3].map((k) => user((2 * r + k) % USERS))
    const res = await fetch(`${base}/chat/v1/create-room/`, { method: 'POST', headers: service, body: JSON.stringify({ name: `방 ${r}`, kind: 'private', members }) })
    if (res.status !== 201) throw new Error(`creating a room answered ${res.status}: ${await res.text()}`)
    rooms.push(((await res.json()) as { id: number }).id)
  }
  for (let m = 0; m < MESSAGES; m++) {
    await Promise.all(
      rooms.map(async (room, r) => {
        const res = await fetch(`${base}/chat/v1/message/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...as((2 * r + (m % 4)) % USERS) },
          body: JSON.stringify({ room, message: `안녕하세요 ${m}번째 메시지예요` }),
        })
        if (res.status !== 201) throw new Error(`sending answered ${res.status}: ${await res.text()}`)
      }),
    )
  }
  // Each user asks the next five about a post of theirs: ten direct rooms each, one message in each.
  for (let i = 0; i < USERS; i++) {
    await Promise.all(
      Array.from({ length: DIRECT }, async (_, k) => {
        const headers = { 'content-type': 'application/json', ...as(i) }
        const res = await fetch(`${base}/chat/v1/direct-room/`, { method: 'POST', headers, body: JSON.stringify({ user_id: user((i + k + 1) % USERS), post_id: 1000 + i }) })
        if (res.status !== 201 && res.status !== 200) throw new Error(`opening a direct room answered ${res.status}: ${await res.text()}`)
        const room = ((await res.json()) as { id: number }).id
        const sent = await fetch(`${base}/chat/v1/message/`, { method: 'POST', headers, body: JSON.stringify({ room, message: '아직 판매 중인가요?' }) })
        if (sent.status !== 201) throw new Error(`sending answered ${sent.status}: ${await sent.text()}`)
      }),
    )
  }
  return rooms
}

/** The routes measured: the i-th request of each. */
function routes(base: string, rooms: number[]): Record<string, (i: number) => Promise<Response>> {
  const member = (i: number) => ({ room: rooms[i % ROOMS]!, user: (2 * (i % ROOMS) + (i % 4)) % USERS })
  return {
    healthz: () => fetch(`${base}/healthz`),
    history: (i) => {
      const { room, user } = member(i)
      return fetch(`${base}/chat/v1/room/${room}/messages/?limit=20`, { headers: as(user) })
    },
    // Twelve rooms: two private, ten direct (each entry names the other of the pair).
    inbox: (i) => fetch(`${base}/chat/v1/inbox/`, { headers: as(i % USERS) }),
    unread: (i) => fetch(`${base}/chat/v1/unread/`, { headers: as(i % USERS) }),
    // The seed's listing: open rooms and the caller's own (here its twelve).
    rooms: (i) => fetch(`${base}/chat/v1/rooms/`, { headers: as(i % USERS) }),
    read: (i) => {
      const { room, user } = member(i)
      return fetch(`${base}/chat/v1/room/${room}/read/`, { method: 'POST', headers: { 'content-type': 'application/json', ...as(user) }, body: JSON.stringify({ last_read_id: 1 + (i % 1000) }) })
    },
  }
}

/** Server CPU per request of `call`, `requests` of them, CONCURRENCY at once. */
async function measure(pid: number, call: (i: number) => Promise<Response>): Promise<number> {
  let next = 0
  const worker = async () => {
    for (let i = next++; i < requests; i = next++) {
      const res = await call(i)
      await res.arrayBuffer()
      if (res.status !== 200) throw new Error(`a request answered ${res.status}`)
    }
  }
  // A few first, so that what is built once is built.
  for (let i = 0; i < 50; i++) await (await call(i)).arrayBuffer()
  const before = cpuMs(pid)
  await Promise.all(Array.from({ length: CONCURRENCY }, worker))
  return ((cpuMs(pid) - before) * 1000) / requests
}

async function round(binary: string): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-reads-'))
  const server = await startServer(binary, dir, { SERVICE_SECRET })
  try {
    const base = `http://127.0.0.1:${server.port}`
    const rooms = await seed(base)
    const figures: Record<string, number> = {}
    for (const [name, call] of Object.entries(routes(base, rooms))) if (!only || only.includes(name)) figures[name] = await measure(server.pid, call)
    return figures
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const runs: Record<'a' | 'b', Record<string, number>[]> = { a: [], b: [] }
for (let r = 0; r < rounds; r++) {
  for (const side of r % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
    runs[side].push(await round(binaries[side]))
    console.error(`round ${r + 1} ${side}: ${JSON.stringify(runs[side].at(-1))}`)
  }
}
const names = Object.keys(runs.a[0]!)
const result: Record<string, number> = {}
console.log(`REST reads: server CPU µs per request, medians of ${rounds} alternating rounds, ${requests} requests each, ${CONCURRENCY} in flight (SQLite)`)
console.log('| route | a | b | b / a |')
console.log('| --- | ---: | ---: | ---: |')
for (const name of names) {
  const [a, b] = [median(runs.a.map((x) => x[name]!)), median(runs.b.map((x) => x[name]!))]
  Object.assign(result, { [`${name}A`]: a, [`${name}B`]: b })
  console.log(`| ${name} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b / a).toFixed(3)} |`)
}
console.log(JSON.stringify(result))
