/**
 * Several processes of the compiled server on one machine, sharing one port (REUSE_PORT: the
 * kernel spreads the connections), against one process, on the same Postgres and Redis: the
 * fan-out load (20 open rooms of 10 clients, window 4) in alternating rounds on fresh databases.
 * A room's clients land on different processes, so its messages cross them through Redis, as on a
 * cluster. Reports deliveries and messages stored per second, p99, and the server CPU per delivery
 * summed over every process. Prints a table and one JSON line.
 *
 *   bun bench/processes.ts --binary <chat-server> [--processes 2] [--seconds 6] [--rounds 3]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createDatabase } from '../test/support/cluster.ts'
import { cpuMs, runFanout, type Server, startServer } from './servers.ts'

const { values } = parseArgs({ options: { binary: { type: 'string' }, processes: { type: 'string', default: '2' }, seconds: { type: 'string', default: '6' }, rounds: { type: 'string', default: '3' } } })
if (!values.binary) throw new Error('--binary (the compiled chat server) is required')
const binary = values.binary
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** A free port: one a listener just had. */
function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const { port } = probe
  probe.stop(true)
  return port
}

async function round(processes: number) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-processes-'))
  const db = await createDatabase()
  const port = String(freePort())
  const env = { DATABASE_URL: db.url, REDIS_URL: 'redis://127.0.0.1:6379', REDIS_PREFIX: `bench${Date.now()}:`, PORT: port, REUSE_PORT: 'true' }
  const servers: Server[] = []
  try {
    for (let i = 0; i < processes; i++) servers.push(await startServer(binary, mkdtempSync(join(dir, `p${i}-`)), env))
    const base = `http://127.0.0.1:${port}`
    const rooms: number[] = []
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${base}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `processes ${i}` }) })
      rooms.push(((await res.json()) as { id: number }).id)
    }
    await Bun.sleep(500)
    const cpu = () => servers.reduce((sum, s) => sum + cpuMs(s.pid), 0)
    const before = cpu()
    const result = await runFanout(`ws://127.0.0.1:${port}`, rooms, { clients: 10, window: 4, seconds: Number(values.seconds), warmup: 1 })
    const cpuUsPerDelivery = ((cpu() - before) * 1000) / Math.max(1, result.deliveredAll!)
    return { delivered: result.deliveredPerSecond!, stored: result.sentPerSecond!, p99: result.p99Ms!, cpuUsPerDelivery }
  } finally {
    await Promise.all(servers.map((s) => s.stop()))
    await db.drop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const count = Number(values.processes)
const one: Awaited<ReturnType<typeof round>>[] = []
const many: Awaited<ReturnType<typeof round>>[] = []
for (let i = 0; i < Number(values.rounds); i++) {
  one.push(await round(1))
  many.push(await round(count))
  console.log(`round ${i + 1}: 1 process ${Math.round(one.at(-1)!.stored)} stored/s, ${count} processes ${Math.round(many.at(-1)!.stored)} stored/s`)
}
const figure = (key: 'delivered' | 'stored' | 'p99' | 'cpuUsPerDelivery') => [median(one.map((r) => r[key])), median(many.map((r) => r[key]))] as const
const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2))
const rows = (['delivered', 'stored', 'p99', 'cpuUsPerDelivery'] as const).map((key) => {
  const [a, b] = figure(key)
  return {
    key,
    a,
    b,
    line: `| ${{ delivered: 'deliveries/s', stored: 'messages stored/s', p99: 'echo p99 ms', cpuUsPerDelivery: 'server CPU µs per delivery (all processes)' }[key]} | ${fmt(a)} | ${fmt(b)} | ${(b / a).toFixed(3)} |`,
  }
})
console.log(
  [
    `processes: fan-out 20 rooms x 10 clients, ${values.seconds} s, medians of ${values.rounds} alternating rounds on fresh Postgres databases, one Redis`,
    `| figure | 1 process | ${count} processes (REUSE_PORT) | ratio |`,
    '| --- | ---: | ---: | ---: |',
    ...rows.map((r) => r.line),
  ].join('\n'),
)
console.log(
  JSON.stringify({
    processes: count,
    ...Object.fromEntries(
      rows.flatMap((r) => [
        [`${r.key}One`, r.a],
        [`${r.key}Many`, r.b],
      ]),
    ),
  }),
)
