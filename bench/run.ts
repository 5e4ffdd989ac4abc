/**
 * The benchmark: the compiled chat server (every message persisted) against a bare Bun.serve
 * server speaking the same protocol with no storage or validation (the runtime's ceiling), both
 * driven by the same load client in a separate process, in one run. Prints a table, writes
 * bench/results/latest.json and latest.svg.
 *
 * Also runs bench/user-streams.ts (what user streams cost), bench/changes.ts (what edits and
 * reactions cost, 10% of a fan-out load's operations), bench/compare.ts against the bare server
 * (alternating rounds: CPU per delivery, p99, idle memory), bench/webhooks.ts (webhooks on against
 * off), bench/uploads.ts (2 MB photos uploaded by 20 clients at once; fan-out of messages carrying
 * a photo against text ones), bench/post-event.ts (one post event over 1,000 direct rooms, each
 * with its socket, plain and archiving) and bench/inbox.ts (the inbox and the badge on a million
 * messages; smaller with --quick).
 *
 *   bun run bench [--quick] [--fanout-rooms 20] [--fanout-clients 10] [--window 4] [--seconds 10]
 *                 [--bigroom-clients 500] [--bigroom-rate 200] [--idle-sockets 10000]
 *                 [--rest-seconds 10] [--store-messages 200000]
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { drawChart } from './chart.ts'
import { runFanout, runJson, rssKiB, SERVICE_SECRET, startHolder, startServer as startBenchServer, type Server } from './servers.ts'

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    'fanout-rooms': { type: 'string' },
    'fanout-clients': { type: 'string' },
    window: { type: 'string' },
    seconds: { type: 'string' },
    'bigroom-clients': { type: 'string' },
    'bigroom-rate': { type: 'string' },
    'idle-sockets': { type: 'string' },
    'rest-seconds': { type: 'string' },
    'store-messages': { type: 'string' },
    cluster: { type: 'boolean', default: true },
    'cluster-seconds': { type: 'string' },
  },
  allowNegative: true,
})
const quick = values.quick
const size = {
  fanoutRooms: Number(values['fanout-rooms'] ?? 20),
  fanoutClients: Number(values['fanout-clients'] ?? 10),
  window: Number(values.window ?? 4),
  seconds: Number(values.seconds ?? (quick ? 1 : 10)),
  warmup: quick ? 0.3 : 1,
  bigroomClients: Number(values['bigroom-clients'] ?? (quick ? 200 : 500)),
  bigroomRate: Number(values['bigroom-rate'] ?? 200),
  idleSockets: Number(values['idle-sockets'] ?? (quick ? 5000 : 10_000)),
  idleRooms: 10,
  restSeconds: Number(values['rest-seconds'] ?? (quick ? 1 : 10)),
  storeMessages: Number(values['store-messages'] ?? (quick ? 20_000 : 200_000)),
  clusterSeconds: Number(values['cluster-seconds'] ?? (quick ? 1 : 10)),
}
const root = join(import.meta.dir, '..')
const bun = process.execPath
const work = mkdtempSync(join(tmpdir(), 'chat-bench-'))

type Json = Record<string, number>

const startServer = (name: Server['name'], extraEnv: Record<string, string> = {}) => startBenchServer(name === 'chat' ? join(work, 'chat-server') : null, work, extraEnv)

async function createRooms(server: Server, count: number): Promise<number[]> {
  if (server.name === 'baseline') return Array.from({ length: count }, (_, i) => i + 1)
  const ids: number[] = []
  for (let i = 0; i < count; i++) {
    const res = await fetch(`http://127.0.0.1:${server.port}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `bench ${i}` }) })
    ids.push(((await res.json()) as { id: number }).id)
  }
  return ids
}

/**
 * Private rooms whose members are the load client's users of that room (`load-<room>-<client>`,
 * see load-client.ts), created and filled by service calls.
 */
async function createPrivateRooms(server: Server, count: number, clients: number): Promise<number[]> {
  const url = `http://127.0.0.1:${server.port}/chat/v1`
  const headers = { 'content-type': 'application/json', 'x-service-secret': SERVICE_SECRET }
  const ids: number[] = []
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${url}/create-room/`, { method: 'POST', headers, body: JSON.stringify({ name: `private bench ${i}`, kind: 'private', owner: 'bench-owner' }) })
    const id = ((await res.json()) as { id: number }).id
    for (let c = 0; c < clients; c++) {
      // The load client numbers its clients across rooms: room i has clients i*clients … i*clients+clients-1.
      const added = await fetch(`${url}/room/${id}/members/`, { method: 'POST', headers, body: JSON.stringify({ user_id: `load-${id}-${i * clients + c}` }) })
      if (added.status !== 201) throw new Error(`adding a member answered ${added.status}: ${await added.text()}`)
    }
    ids.push(id)
  }
  return ids
}

/**
 * Fan-out in private rooms against the same load in open rooms, on one server, in turns (open,
 * private, open, private…) so the machine's noise falls on both alike. Membership is checked once
 * per socket at the handshake, so the two should deliver alike.
 */
async function privateFanout(server: Server, openRooms: number[]): Promise<Json> {
  const privateRooms = await createPrivateRooms(server, size.fanoutRooms, size.fanoutClients)
  const ws = `ws://127.0.0.1:${server.port}`
  const run = (rooms: number[]) => runFanout(ws, rooms, { clients: size.fanoutClients, window: size.window, seconds: size.seconds, warmup: size.warmup })
  const open: number[] = []
  const closed: number[] = []
  for (let round = 0; round < (quick ? 1 : 3); round++) {
    open.push((await run(openRooms)).deliveredPerSecond!)
    closed.push((await run(privateRooms)).deliveredPerSecond!)
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  return { openPerSecond: median(open), privatePerSecond: median(closed), ratio: median(closed) / median(open), rounds: open.length }
}

async function idleMemory(server: Server, rooms: number[]): Promise<Json> {
  await Bun.sleep(500)
  const before = rssKiB(server.pid)
  const holder = await startHolder(['--mode', 'idle', '--url', `ws://127.0.0.1:${server.port}`, '--rooms', rooms.join(','), '--clients', String(size.idleSockets)])
  await Bun.sleep(quick ? 1000 : 2000)
  const after = rssKiB(server.pid)
  await holder.finish()
  await Bun.sleep(quick ? 300 : 1000)
  return { sockets: size.idleSockets, rssBeforeKiB: before, rssAfterKiB: after, bytesPerSocket: ((after - before) * 1024) / size.idleSockets }
}

/** wrk against one URL; POST bodies come from a small Lua script. */
async function wrk(url: string, post?: string): Promise<number> {
  const args = ['wrk', '-t1', '-c32', `-d${size.restSeconds}s`]
  if (post) {
    const script = join(work, 'post.lua')
    writeFileSync(
      script,
      `wrk.method = "POST"\nwrk.body = '${post}'\nwrk.headers["Content-Type"] = "application/json"\nwrk.headers["X-User-Id"] = "wrk"\nwrk.headers["X-Nickname"] = "wrk"\nwrk.headers["X-Email"] = "wrk@bench.local"\n`,
    )
    args.push('-s', script)
  }
  const proc = Bun.spawn([...args, url], { stdout: 'pipe', stderr: 'inherit' })
  const out = await new Response(proc.stdout).text()
  await proc.exited
  const match = /Requests\/sec:\s+([\d.]+)/.exec(out)
  if (!match) throw new Error(`wrk printed no rate:\n${out}`)
  if (/Non-2xx or 3xx responses/.test(out)) throw new Error(`wrk saw error responses from ${url}:\n${out}`)
  return Number(match[1])
}

/**
 * Scale-out: the same fan-out load (clients spread evenly) on one instance and on three, each on
 * Postgres (a fresh database) and Redis (a private redis-server).
 */
async function measureCluster(): Promise<Json> {
  const { createDatabase, startRedis } = await import('../test/support/cluster.ts')
  const result: Json = {}
  for (const count of [1, 3]) {
    const db = await createDatabase()
    const redis = await startRedis()
    const env = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: `bench${count}:`, LOG_LEVEL: 'warn' }
    const servers: Server[] = []
    try {
      for (let i = 0; i < count; i++) servers.push(await startServer('chat', { ...env, LOG_LEVEL: 'info' }))
      const rooms = await createRooms(servers[0]!, size.fanoutRooms)
      const urls = servers.map((s) => `ws://127.0.0.1:${s.port}`).join(',')
      const fanout = await runFanout(urls, rooms, { clients: size.fanoutClients, window: size.window, seconds: size.clusterSeconds, warmup: size.warmup })
      result[`deliveredPerSecond${count}`] = fanout.deliveredPerSecond!
      result[`p99Ms${count}`] = fanout.p99Ms!
    } finally {
      for (const server of servers) await server.stop()
      await redis.stop()
      await db.drop()
    }
  }
  return result
}

/**
 * Hostile input: a 60 KB body of nested brackets (cheap to send; before the depth check it cost
 * seconds of event-loop time), against a small invalid body as the reference, with /healthz probed
 * every 2 ms meanwhile to see how long anyone else waited.
 */
async function hostileInput(server: Server): Promise<Json> {
  const url = `http://127.0.0.1:${server.port}`
  const post = (body: string) => fetch(`${url}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then((r) => r.arrayBuffer())
  const timed = async (body: string) => {
    const started = performance.now()
    await post(body)
    return performance.now() - started
  }
  const deep = `${'['.repeat(30_000)}${']'.repeat(30_000)}`
  const small = '{"name":""}'
  for (let i = 0; i < 3; i++) await Promise.all([timed(deep), timed(small)])
  const deepMs: number[] = []
  const smallMs: number[] = []
  let probeMaxMs = 0
  for (let i = 0; i < (quick ? 5 : 20); i++) {
    let probing = true
    const probe = (async () => {
      while (probing) {
        const started = performance.now()
        await fetch(`${url}/healthz`).then((r) => r.arrayBuffer())
        probeMaxMs = Math.max(probeMaxMs, performance.now() - started)
        await Bun.sleep(2)
      }
    })()
    deepMs.push(await timed(deep))
    smallMs.push(await timed(small))
    probing = false
    await probe
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  return { deepBodyMs: median(deepMs), smallBodyMs: median(smallMs), healthzMaxMs: probeMaxMs }
}

async function measure(name: Server['name']): Promise<Record<string, Json>> {
  const server = await startServer(name)
  try {
    const rooms = await createRooms(server, Math.max(size.fanoutRooms, size.idleRooms, 1))
    const ws = `ws://127.0.0.1:${server.port}`
    const idle = await idleMemory(server, rooms.slice(0, size.idleRooms))
    const fanout = await runFanout(ws, rooms.slice(0, size.fanoutRooms), { clients: size.fanoutClients, window: size.window, seconds: size.seconds, warmup: size.warmup })
    const bigroom = await runJson([
      bun,
      'bench/load-client.ts',
      '--mode',
      'bigroom',
      '--url',
      ws,
      '--rooms',
      String(rooms[0]),
      '--clients',
      String(size.bigroomClients),
      '--rate',
      String(size.bigroomRate),
      '--seconds',
      String(size.seconds),
      '--warmup',
      String(size.warmup),
    ])
    const http = `http://127.0.0.1:${server.port}`
    const rest = {
      listRoomsPerSecond: await wrk(`${http}/chat/v1/rooms/`),
      sendMessagePerSecond: await wrk(`${http}/chat/v1/message/`, `{"message":"hello from wrk","room":${rooms[0]}}`),
    }
    // The bare server has no validation to attack, and no private rooms.
    const hostile = name === 'chat' ? await hostileInput(server) : {}
    const privateRooms = name === 'chat' ? await privateFanout(server, rooms.slice(0, size.fanoutRooms)) : {}
    return { idle, fanout, bigroom, rest, hostile, privateRooms }
  } finally {
    await server.stop()
  }
}

try {
  const build = Bun.spawnSync([bun, 'build.ts', '--outfile', join(work, 'chat-server')], { cwd: root, stdout: 'inherit', stderr: 'inherit' })
  if (build.exitCode !== 0) throw new Error('build failed')
  const started = performance.now()
  const chat = await measure('chat')
  const baseline = await measure('baseline')
  const store = await runJson([bun, 'bench/store.ts', '--messages', String(size.storeMessages)])
  const streams = await runJson([bun, 'bench/user-streams.ts', '--binary', join(work, 'chat-server'), ...(quick ? ['--seconds', '1', '--rounds', '1', '--participants', '600'] : [])])
  const webhooks = await runJson([bun, 'bench/webhooks.ts', '--binary', join(work, 'chat-server'), ...(quick ? ['--seconds', '1', '--rounds', '1'] : [])])
  const changes = await runJson([bun, 'bench/changes.ts', '--binary', join(work, 'chat-server'), ...(quick ? ['--seconds', '1', '--rounds', '1'] : [])])
  // The bare server again, in alternating rounds on fresh servers (the table above is one run of each).
  const bare = await runJson([bun, 'bench/compare.ts', '--a', 'bare', '--b', join(work, 'chat-server'), ...(quick ? ['--rounds', '1', '--seconds', '1', '--idle-sockets', '1000'] : ['--rounds', '5', '--seconds', '6'])])
  const uploads = await runJson([bun, 'bench/uploads.ts', '--binary', join(work, 'chat-server'), ...(quick ? ['--quick'] : [])])
  const postEvent = await runJson([bun, 'bench/post-event.ts', '--binary', join(work, 'chat-server'), ...(quick ? ['--quick'] : [])])
  const inboxArgs = quick ? ['--messages', '50000', '--rooms', '2000', '--user-rooms', '200', '--runs', '50', '--no-postgres'] : []
  const inbox = (await runJson([bun, 'bench/inbox.ts', ...inboxArgs])) as unknown as Record<string, Record<'reference' | 'inbox' | 'badge', { p50: number; p99: number }>>
  const cluster = values.cluster ? await measureCluster() : null
  const previousPath = join(root, 'bench', 'results', quick ? 'quick.json' : 'latest.json')
  const previous = existsSync(previousPath) ? (JSON.parse(readFileSync(previousPath, 'utf8')) as { date: string; chat: Record<string, Json>; baseline: Record<string, Json> }) : null

  // [label, chat value, ceiling value, higher is better, target ratio]
  const rows: [string, number, number, boolean, number | null][] = [
    ['fan-out: delivered messages/s', chat.fanout!.deliveredPerSecond!, baseline.fanout!.deliveredPerSecond!, true, 0.8],
    ['fan-out: echo p50 ms', chat.fanout!.p50Ms!, baseline.fanout!.p50Ms!, false, null],
    ['fan-out: echo p99 ms', chat.fanout!.p99Ms!, baseline.fanout!.p99Ms!, false, 1.5],
    ['big room: latency p50 ms', chat.bigroom!.p50Ms!, baseline.bigroom!.p50Ms!, false, null],
    ['big room: latency p99 ms', chat.bigroom!.p99Ms!, baseline.bigroom!.p99Ms!, false, 1.5],
    ['big room: latency max ms', chat.bigroom!.maxMs!, baseline.bigroom!.maxMs!, false, null],
    ['idle: RSS bytes per socket', chat.idle!.bytesPerSocket!, baseline.idle!.bytesPerSocket!, false, null],
    ['REST: GET rooms req/s', chat.rest!.listRoomsPerSecond!, baseline.rest!.listRoomsPerSecond!, true, null],
    ['REST: POST message req/s', chat.rest!.sendMessagePerSecond!, baseline.rest!.sendMessagePerSecond!, true, null],
    ['storage: messages stored/s (vs raw SQLite)', store.storedPerSecond!, store.rawPerSecond!, true, null],
  ]
  const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2))
  const lines = [
    `sizes: fan-out ${size.fanoutRooms} rooms x ${size.fanoutClients} clients, window ${size.window}, ${size.seconds} s; big room ${size.bigroomClients} clients at ${size.bigroomRate} msg/s; idle ${size.idleSockets} sockets in ${size.idleRooms} rooms; REST ${size.restSeconds} s (wrk -c32); storage ${size.storeMessages} messages`,
    '',
    '| figure | chat server | bare Bun.serve | ratio |',
    '| --- | ---: | ---: | ---: |',
    ...rows.map(([label, a, b]) => `| ${label} | ${fmt(a)} | ${fmt(b)} | ${(a / b).toFixed(2)} |`),
  ]
  console.log(lines.join('\n'))
  const targets = {
    'fan-out throughput >= 0.8x ceiling': chat.fanout!.deliveredPerSecond! / baseline.fanout!.deliveredPerSecond! >= 0.8,
    'fan-out p99 <= 1.5x ceiling': chat.fanout!.p99Ms! / baseline.fanout!.p99Ms! <= 1.5,
    'idle RSS <= 8 KB per socket': chat.idle!.bytesPerSocket! <= 8 * 1024,
    'storage >= 50,000 messages/s': store.storedPerSecond! >= 50_000,
    'deep-body request < 50 ms': chat.hostile!.deepBodyMs! < 50,
    'private-room fan-out >= 0.95x open rooms': chat.privateRooms!.ratio! >= 0.95,
    // A stream per member doubles the frames each message makes: a stream's frame should cost what a room socket's does.
    'user streams: server CPU per frame <= 1.1x a room frame': streams.cpuUsOn! / 2 / streams.cpuUsOff! <= 1.1,
    'crowded open room: no stream frames past the participant cap': streams.crowdFramesCapped === 0,
    'webhooks on: messages stored/s >= 0.8x off': webhooks.storedRatio! >= 0.8,
    // Alternating rounds against the bare server: what the runtime itself costs is the limit.
    'server CPU per delivery <= 1.1x bare': bare.cpuUsPerDeliveryRatio! <= 1.1,
    'echo p99 <= 1.2x bare': bare.p99Ratio! <= 1.2,
    'idle RSS per socket <= 1.5x bare': bare.bytesPerSocketRatio! <= 1.5,
    'webhooks: every event delivered, none twice': webhooks.allDelivered === 1 && webhooks.repeats === 0,
    // On the million-message store only (the quick run's store is too small for sub-millisecond ratios to mean much).
    ...(quick
      ? {}
      : {
          'inbox first page p99 <= 2x reference and < 10 ms (SQLite)': inbox.sqlite!.inbox.p99 <= 2 * inbox.sqlite!.reference.p99 && inbox.sqlite!.inbox.p99 < 10,
          'unread badge p99 <= 2x reference and < 10 ms (SQLite)': inbox.sqlite!.badge.p99 <= 2 * inbox.sqlite!.reference.p99 && inbox.sqlite!.badge.p99 < 10,
        }),
  }
  console.log(
    `\nhostile input: 60 KB of nested brackets answered in ${fmt(chat.hostile!.deepBodyMs!)} ms (a small invalid body: ${fmt(chat.hostile!.smallBodyMs!)} ms); /healthz waited at most ${fmt(chat.hostile!.healthzMaxMs!)} ms meanwhile`,
  )
  const priv = chat.privateRooms!
  console.log(
    `private rooms: fan-out ${fmt(priv.privatePerSecond!)} delivered/s against ${fmt(priv.openPerSecond!)} in open rooms on the same server (medians of ${priv.rounds} alternating rounds): ${priv.ratio!.toFixed(3)}x`,
  )
  console.log(
    `user streams: ${fmt(streams.streams!)} streams (one per member) cost ${fmt(streams.cpuUsOn!)} µs of server CPU per message against ${fmt(streams.cpuUsOff!)} without (each message makes twice the frames: ${((streams.cpuUsOn! / 2 / streams.cpuUsOff!) * 100).toFixed(0)}% of a room frame's cost per frame); stored/s ${fmt(streams.storedOn!)} vs ${fmt(streams.storedOff!)}`,
  )
  console.log(
    `webhooks: stored/s ${fmt(webhooks.storedOn!)} on vs ${fmt(webhooks.storedOff!)} off (${webhooks.storedRatio!.toFixed(3)}x), server CPU ${fmt(webhooks.cpuUsOn!)} vs ${fmt(webhooks.cpuUsOff!)} µs per message; ${fmt(webhooks.eventsPerSecond!)} events/s delivered during the load, drained ${fmt(webhooks.drainSeconds!)} s after it`,
  )
  console.log(
    `changes: with 10% of a fan-out load's operations edits and reactions, ${fmt(changes.cpuUsPerChange!)} µs of server CPU per change against ${fmt(changes.cpuUsPerMessage!)} per message (${changes.changeToMessage!.toFixed(1)}x), ${fmt(changes.changesPerSecond!)} changes/s beside ${fmt(changes.storedPerSecondMixed!)} stored/s (${fmt(changes.storedPerSecondPlain!)} stored/s with sends only)`,
  )
  console.log(
    `against the bare server in ${bare.rounds} alternating rounds (medians): server CPU per delivery ${fmt(bare.cpuUsPerDeliveryB!)} vs ${fmt(bare.cpuUsPerDeliveryA!)} µs (${bare.cpuUsPerDeliveryRatio!.toFixed(2)}x), echo p99 ${fmt(bare.p99B!)} vs ${fmt(bare.p99A!)} ms (${bare.p99Ratio!.toFixed(2)}x), idle RSS ${fmt(bare.bytesPerSocketB!)} vs ${fmt(bare.bytesPerSocketA!)} B per socket (${bare.bytesPerSocketRatio!.toFixed(2)}x)`,
  )
  console.log(
    `uploads: ${fmt(uploads.uploadsPerSecond!)} photos of 2 MB stored/s with 20 clients at once (p50 ${fmt(uploads.uploadP50Ms!)} ms), server RSS ${fmt(uploads.rssBeforeMiB!)} MiB before, ${fmt(uploads.rssPeakMiB!)} MiB at the peak; fan-out of messages with a photo ${fmt(uploads.imageDeliveredPerSecond!)} delivered/s against ${fmt(uploads.textDeliveredPerSecond!)} for text (${uploads.imageToText!.toFixed(2)}x)`,
  )
  console.log(
    `post event: ${fmt(postEvent.rooms!)} direct rooms of one post, a socket in each: the last room heard its system message ${fmt(postEvent.plainLastMs!)} ms after the send (answer ${fmt(postEvent.plainAnswerMs!)} ms, per-room p99 ${fmt(postEvent.plainP99Ms!)} ms); archiving them first, ${fmt(postEvent.archivedLastMs!)} ms (answer ${fmt(postEvent.archivedAnswerMs!)} ms); every room heard it once`,
  )
  console.log(
    `crowded open room: ${fmt(streams.crowdFramesCapped!)} stream frames per message with the participant cap, ${fmt(streams.crowdFramesUncapped!)} without; stored/s ${fmt(streams.crowdStoredCapped!)} vs ${fmt(streams.crowdStoredUncapped!)}`,
  )
  for (const [name, r] of Object.entries(inbox)) {
    console.log(`inbox on ${name}: first page p50/p99 ${fmt(r.inbox.p50)}/${fmt(r.inbox.p99)} ms, badge ${fmt(r.badge.p50)}/${fmt(r.badge.p99)} ms, reference ${fmt(r.reference.p50)}/${fmt(r.reference.p99)} ms`)
  }
  if (previous) {
    // Machines differ between runs; the ratio to the bare server in the same run is what compares.
    const ratio = (r: { chat: Record<string, Json>; baseline: Record<string, Json> }) => r.chat.fanout!.deliveredPerSecond! / r.baseline.fanout!.deliveredPerSecond!
    const [now, before] = [ratio({ chat, baseline }), ratio(previous)]
    console.log(
      `fan-out against the previous run (${previous.date}): ${fmt(chat.fanout!.deliveredPerSecond!)} vs ${fmt(previous.chat.fanout!.deliveredPerSecond!)} delivered/s; ratio to the bare server ${now.toFixed(3)} vs ${before.toFixed(3)} (${(((now - before) / before) * 100).toFixed(1)}%)`,
    )
  }
  if (cluster) {
    console.log(`\nscale-out on Postgres + Redis (fan-out ${size.fanoutRooms}x${size.fanoutClients}, clients spread evenly, ${size.clusterSeconds} s):`)
    console.log('| instances | delivered messages/s | echo p99 ms |')
    console.log('| ---: | ---: | ---: |')
    for (const n of [1, 3]) console.log(`| ${n} | ${fmt(cluster[`deliveredPerSecond${n}`]!)} | ${fmt(cluster[`p99Ms${n}`]!)} |`)
    console.log(`three instances / one: ${(cluster.deliveredPerSecond3! / cluster.deliveredPerSecond1!).toFixed(2)}x`)
  }
  console.log(
    `\ntargets: ${Object.entries(targets)
      .map(([k, ok]) => `${ok ? 'met' : 'MISSED'}: ${k}`)
      .join('; ')}`,
  )
  console.log(`(${Math.round((performance.now() - started) / 1000)} s)`)

  const results = {
    date: new Date().toISOString(),
    quick,
    size,
    chat,
    baseline,
    store,
    streams,
    inbox,
    webhooks,
    changes,
    bare,
    uploads,
    postEvent,
    cluster,
    targets,
    rows: rows.map(([label, a, b, higherIsBetter]) => ({ label, chat: a, baseline: b, ratio: a / b, higherIsBetter })),
  }
  const dir = join(root, 'bench', 'results')
  mkdirSync(dir, { recursive: true })
  const stem = quick ? 'quick' : 'latest'
  writeFileSync(join(dir, `${stem}.json`), `${JSON.stringify(results, null, 2)}\n`)
  writeFileSync(join(dir, `${stem}.svg`), drawChart(results.rows, `chat server vs bare Bun.serve (${results.date.slice(0, 10)})`))
  console.log(`wrote bench/results/${stem}.json and ${stem}.svg`)
} finally {
  rmSync(work, { recursive: true, force: true })
}
