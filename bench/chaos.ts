/**
 * Chaos: three instances on a private Postgres and a private Redis, each reaching them through a
 * fault proxy of its own; a few dozen WebSocket clients (and some REST sends) chat, edit and unsend
 * their messages and react to any (--changes: the share of operations that change one), each
 * keeping its copy of the room, while a seeded scheduler kills instances, restarts Redis and
 * Postgres, terminates database connections and stalls, delays, drops or cuts one instance's
 * network path. Then everything heals and the whole history is checked, every tab's copy against
 * the server's (bench/chaos/checker.ts). Exits 1 on any violation, writing the failing history
 * to --out.
 *
 *   npm run chaos -- [--seconds 60] [--seed S] [--instances 3] [--clients 24] [--rooms 4]
 *                 [--changes 0.1] [--faults kill-instance,pg-half-open,…] [--out DIR]
 *   npm run chaos -- --check DIR/history.json      # judge a saved history again
 */
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { UNLIMITED } from '../test/support/server.ts'
import { checkHistory, IDLE_TRANSACTIONS_LIMIT } from './chaos/checker.ts'
import { ChaosTab, Recorder, type ClientWorld } from './chaos/clients.ts'
import type { ChaosUser } from './chaos/history.ts'
import { FAULT_KINDS, FaultScheduler, type FaultKind, type FaultRecord } from './chaos/faults.ts'
import type { MessageDto } from '../src/realtime/codec.ts'
import { formOf } from './chaos/changes.ts'
import type { History, PresenceObservation, StoredMessage } from './chaos/history.ts'
import { Random } from './chaos/random.ts'
import { printSummary, writeFailure, type RunMeta } from './chaos/report.ts'
import { Topology, type LogLine } from './chaos/topology.ts'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    instances: { type: 'string', default: '3' },
    clients: { type: 'string', default: '24' },
    rooms: { type: 'string', default: '4' },
    changes: { type: 'string', default: '0.1' },
    faults: { type: 'string' },
    out: { type: 'string' },
    'presence-ttl': { type: 'string', default: '5' },
    check: { type: 'string' },
  },
})

if (values.check) {
  const saved = JSON.parse(readFileSync(values.check, 'utf8')) as { meta: RunMeta; counts: Record<string, number>; faults: FaultRecord[]; history: History }
  const { violations, stats } = checkHistory(saved.history)
  printSummary(saved.meta, saved.counts ?? {}, stats, saved.faults, violations)
  process.exit(violations.length === 0 ? 0 : 1)
}

const seconds = Number(values.seconds)
const seed = values.seed === undefined ? crypto.getRandomValues(new Uint32Array(1))[0]! : Number(values.seed)
const instanceCount = Number(values.instances)
const clientCount = Number(values.clients)
const roomCount = Number(values.rooms)
const presenceTtl = Number(values['presence-ttl'])
const changeShare = Number(values.changes)
const faultKinds = (values.faults?.split(',').map((k) => k.trim()) ?? [...FAULT_KINDS]) as FaultKind[]
for (const kind of faultKinds) if (!FAULT_KINDS.includes(kind)) throw new Error(`unknown fault kind ${kind}; known: ${FAULT_KINDS.join(', ')}`)
if (![seconds, seed, instanceCount, clientCount, roomCount, presenceTtl, changeShare].every(Number.isFinite)) throw new Error('numeric flags must be numbers')
const command = `npm run chaos -- --seed ${seed} --seconds ${seconds} --instances ${instanceCount} --clients ${clientCount} --rooms ${roomCount} --changes ${changeShare}${values.faults ? ` --faults ${values.faults}` : ''}`

/** The leaves of the last users are announced after the grace; presence must be right within the TTL plus margins. */
const PRESENCE_GRACE_MS = 3000
const PRESENCE_DEADLINE_MS = Math.round(presenceTtl * 1000 * (4 / 3)) + PRESENCE_GRACE_MS + 5000

const log = (text: string) => console.log(`[chaos ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s] ${text}`)
const t0 = Date.now()
console.log(`chaos: seed ${seed}, ${seconds} s, ${instanceCount} instances, ${clientCount} clients in ${roomCount} rooms`)

async function waitFor(what: string, timeoutMs: number, done: () => boolean | Promise<boolean>, everyMs = 250): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await done()) return true
    if (Date.now() > deadline) {
      log(`gave up waiting for ${what} after ${timeoutMs} ms`)
      return false
    }
    await Bun.sleep(everyMs)
  }
}

async function getJson<T>(url: string, timeoutMs = 3000): Promise<{ status: number; body: T | null }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) })
    return { status: res.status, body: (await res.json().catch(() => null)) as T | null }
  } catch {
    return { status: 0, body: null }
  }
}

const topology = await Topology.start(instanceCount, {
  ...UNLIMITED,
  PRESENCE_TTL: String(presenceTtl),
  PRESENCE_GRACE_MS: String(PRESENCE_GRACE_MS),
  LOG_LEVEL: 'info',
  REDIS_PREFIX: 'chaos:',
})
let cleanedUp = false
async function cleanUp() {
  if (cleanedUp) return
  cleanedUp = true
  for (const tab of tabs) tab.shutdown()
  await topology.destroy()
}
const tabs: ChaosTab[] = []
const record = new Recorder()
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping everything`)
    void cleanUp().finally(() => process.exit(130))
  })
}
// A bound on the whole run, whatever hangs.
const hardStop = setTimeout(
  () => {
    log('the run took far too long: stopping everything')
    void cleanUp().finally(() => process.exit(2))
  },
  (seconds + 300) * 1000,
)
hardStop.unref()

/** The run itself: chat under faults, heal, settle, and record. Cleans up before it returns. */
async function run(): Promise<{ history: History; logs: LogLine[]; faults: FaultRecord[] }> {
  const instances = topology.instances
  log(`instances on ports ${instances.map((i) => i.port).join(', ')}; postgres ${topology.pg.url}; redis ${topology.redis.url}`)

  const rooms: number[] = []
  for (let r = 0; r < roomCount; r++) {
    const res = await fetch(`${instances[0]!.base}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `chaos ${r}` }) })
    rooms.push(((await res.json()) as { id: number }).id)
  }

  const world: ClientWorld = {
    live: () => topology.live(),
    base: (i) => instances[i]!.base,
    wsBase: (i) => instances[i]!.wsBase,
    record,
  }
  const setup = new Random(seed, 'setup')
  const users: { user: ChaosUser; room: number; tabs: ChaosTab[] }[] = []
  for (let i = 0; i < clientCount; i++) {
    const id = `u${String(i).padStart(2, '0')}`
    const user: ChaosUser = { user_id: id, nickname: i % 3 === 0 ? `손님 ${i}` : `Guest ${i}`, email: `${id}@chaos.local` }
    const room = rooms[i % roomCount]!
    const first = i % instanceCount
    const entry = { user, room, tabs: [] as ChaosTab[] }
    entry.tabs.push(new ChaosTab(`${id}a`, user, room, first, new Random(seed, `${id}a`), world, 0.15, 0.03, changeShare))
    if (setup.chance(0.3)) entry.tabs.push(new ChaosTab(`${id}b`, user, room, (first + 1) % instanceCount, new Random(seed, `${id}b`), world, 0.15, 0.03, changeShare))
    users.push(entry)
    tabs.push(...entry.tabs)
  }
  for (const tab of tabs) tab.start()
  await waitFor('every tab to connect', 15_000, () => tabs.every((t) => t.open))
  log(`${tabs.length} tabs of ${users.length} users connected; chatting and injecting faults for ${seconds} s`)
  for (const tab of tabs) tab.startSending()

  const scheduler = new FaultScheduler(topology, new Random(seed, 'faults'), faultKinds)
  scheduler.start()
  const progress = setInterval(
    () =>
      log(`faults ${scheduler.faults.length}, sends ${record.counts.sends}, acks ${record.acks.length}, changes ${record.counts.changes}, reconnects ${record.counts.reconnects}, live instances ${topology.live().join(',')}`),
    10_000,
  )
  await Bun.sleep(seconds * 1000)
  clearInterval(progress)
  await scheduler.stop()
  log(`faults stopped after ${scheduler.faults.length}; waiting for every instance to be ready`)

  // Heal: every instance answers /readyz 200 (an instance whose restart failed is started again).
  for (const instance of instances) if (!instance.process) await topology.launch(instance).catch((err) => log(String(err)))
  const healStart = Date.now()
  const readiness = new Map<number, number>()
  await waitFor('every instance to be ready', 60_000, async () => {
    await Promise.all(
      instances.map(async (i) => {
        if (!readiness.has(i.index) && (await getJson(`${i.base}/readyz`, 2000)).status === 200) readiness.set(i.index, Date.now() - healStart)
      }),
    )
    return readiness.size === instances.length
  })
  const healed = instances.map((i) => ({ instance: i.index, ready: readiness.has(i.index), waitedMs: readiness.get(i.index) ?? Date.now() - healStart }))

  // Stop sending; what is pending is retried until acknowledged.
  for (const tab of tabs) tab.stopSending()
  await waitFor('every send to be acknowledged and every change answered', 45_000, () => tabs.every((t) => t.unacked === null && !t.busy))
  const unacked = tabs.map((t) => t.unackedSend()).filter((u) => u !== null)
  log(`sending stopped; ${unacked.length} sends unacknowledged`)

  // A quarter of the users leave for good: their presence must end.
  const leaving = new Random(seed, 'leavers')
  for (const entry of users) if (leaving.chance(0.25)) for (const tab of entry.tabs) tab.leave()

  // Catch up: every remaining tab open and holding its room's newest message and every change.
  const newest = async (room: number) => {
    const live = topology.live()
    const base = instances[live[0] ?? 0]!.base
    const [{ body: top }, { body: detail }] = await Promise.all([getJson<{ id: number }[]>(`${base}/chat/v1/room/${room}/messages/?limit=1`), getJson<{ version: number }>(`${base}/chat/v1/room/${room}/`)])
    return { id: top?.[0]?.id ?? 0, version: detail?.version ?? 0 }
  }
  await waitFor(
    'every tab to catch up',
    30_000,
    async () => {
      const tops = new Map(await Promise.all(rooms.map(async (r) => [r, await newest(r)] as const)))
      return tabs.every((t) => t.leftForGood || t.caughtUp(tops.get(t.room)?.id ?? 0, tops.get(t.room)?.version ?? 0))
    },
    500,
  )

  // Presence: every room's online users, on every instance, are the users with a socket open.
  const expectedOnline = () =>
    rooms.map((room) => ({
      room,
      users: users.filter((u) => u.room === room && u.tabs.some((t) => t.open)).map((u) => ({ user_id: u.user.user_id, nickname: u.user.nickname })),
    }))
  let presence: PresenceObservation[] = []
  const presenceStart = Date.now()
  const presenceRight = await waitFor(
    'presence to settle',
    PRESENCE_DEADLINE_MS,
    async () => {
      const expected = expectedOnline()
      presence = await Promise.all(
        rooms.flatMap((room) =>
          instances.map(async (i) => {
            const { status, body } = await getJson<{ online_users: { user_id: string; nickname: string }[] }>(`${i.base}/chat/v1/room/${room}/`)
            return { room, instance: i.index, at: Date.now(), online: status === 200 && body ? body.online_users.map((u) => ({ user_id: u.user_id, nickname: u.nickname })) : null }
          }),
        ),
      )
      return presence.every((look) => {
        const want = expected.find((e) => e.room === look.room)!.users
        return look.online !== null && look.online.length === want.length && want.every((w) => look.online!.some((o) => o.user_id === w.user_id && o.nickname === w.nickname))
      })
    },
    500,
  )
  log(`presence ${presenceRight ? 'right' : 'still wrong'} after ${Date.now() - presenceStart} ms`)
  const finalExpected = expectedOnline()
  // The leave announcements go out as presence changes: give them a moment to arrive.
  await Bun.sleep(1000)

  // Quiet now: nobody sends or polls, so Postgres should be idle (a spinning query loop shows here).
  const idleTransactionsPerSecond = await topology.transactionsPerSecond().catch(() => undefined)
  log(`Postgres at rest: ${idleTransactionsPerSecond?.toFixed(1)} transactions/s`)
  const idleQueries = idleTransactionsPerSecond !== undefined && idleTransactionsPerSecond > IDLE_TRANSACTIONS_LIMIT ? await topology.busyQueries().catch(() => undefined) : undefined
  for (const q of idleQueries?.slice(0, 3) ?? []) log(`  busy on instance ${q.instance ?? '?'} (${q.count} samples): ${q.query.replace(/\s+/g, ' ').slice(0, 200)}`)

  // The rooms' full history, paged over REST, each room's version read before it; and every tab's copy as it stands.
  const stored: StoredMessage[] = []
  const roomVersions: History['roomVersions'] = []
  for (const room of rooms) {
    const live = topology.live()
    const base = instances[live[0] ?? 0]!.base
    const { body: detail } = await getJson<{ version: number }>(`${base}/chat/v1/room/${room}/`, 10_000)
    if (!detail) throw new Error(`could not read room ${room}'s version`)
    roomVersions.push({ room, version: detail.version })
    for (let after = 0; ; ) {
      const { body } = await getJson<MessageDto[]>(`${base}/chat/v1/room/${room}/messages/?after=${after}&limit=200`, 10_000)
      if (!body) throw new Error(`could not read room ${room}'s history`)
      if (body.length === 0) break
      for (const m of body) stored.push({ id: m.id, room: m.room, user_id: m.user_id ?? '', client_msg_id: m.client_msg_id, at: Date.parse(m.created_at), form: formOf(m) })
      after = body.at(-1)!.id
    }
  }
  const copies = tabs.filter((t) => !t.leftForGood).map((t) => t.roomCopy())

  // The history as it stood, before anything is closed.
  const history: History = structuredClone({
    rooms,
    stored,
    connections: record.connections,
    acks: record.acks,
    rest: record.rest,
    restChanges: record.restChanges,
    copies,
    roomVersions,
    unacked,
    expectedOnline: finalExpected,
    presence,
    exits: topology.exits,
    healed,
    idleTransactionsPerSecond,
    idleQueries,
  })
  const logs = topology.logs()
  await cleanUp()
  return { history, logs, faults: scheduler.faults }
}

let result: Awaited<ReturnType<typeof run>>
try {
  result = await run()
} catch (error) {
  log(`the run failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`)
  await cleanUp()
  process.exit(2)
}
const { history, logs, faults } = result
const endedAt = Date.now()

const { violations, stats } = checkHistory(history)
const meta: RunMeta = { seed, command, startedAt: t0, endedAt }
printSummary(meta, record.counts, stats, faults, violations)
if (violations.length > 0) {
  const dir = values.out ?? mkdtempSync(join(tmpdir(), `chaos-${seed}-`))
  writeFailure(dir, meta, record.counts, history, violations, faults, logs)
  console.log(`  failing history ${dir}`)
}
process.exit(violations.length === 0 ? 0 : 1)
