/**
 * Compares two builds of the chat server on the fan-out scenario and idle memory, in turns (a, b,
 * a, b…) so that the machine's noise falls on both alike. Prints the median of each and their ratio.
 * Either side may be `bare`: the runtime's ceiling (bench/baseline-server.ts), compared by server
 * CPU per delivery, p99 and idle memory (it stores nothing); or `bare-stored`: the same server
 * storing each message in SQLite before it publishes it, the floor of a chat that stores every
 * message.
 *
 *   bun bench/compare.ts --a <binary or source tree> --b <binary or source tree>
 *                        [--rounds 5] [--seconds 10] [--idle-sockets 5000] [--postgres]
 *                        [--a-env K=V,…] [--b-env K=V,…] [--text plain|market]
 *
 * --a-env and --b-env start each side with settings of its own (the same binary may be both sides:
 * say CONTACT_GUARD=warn against CONTACT_GUARD=off); --text market sends Korean marketplace lines
 * (bench/load-client.ts) instead of short ones.
 *
 * With --postgres each round runs on a fresh Postgres database (else SQLite). Also prints the
 * server's CPU time per message stored, which the load client's own CPU use does not blur.
 *
 * A source tree (a checkout of this repository, say a `git worktree` of an older commit) is built
 * with its own build.ts first.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createDatabase } from '../test/support/cluster.ts'
import { cpuMs, cpuPerMessage, rssKiB, runFanout, startHolder, startServer } from './servers.ts'

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    'idle-sockets': { type: 'string', default: '5000' },
    postgres: { type: 'boolean', default: false },
    'a-env': { type: 'string', default: '' },
    'b-env': { type: 'string', default: '' },
    text: { type: 'string', default: 'plain' },
  },
})

/** `K=V,K=V` as an environment. */
const envOf = (spec: string): Record<string, string> =>
  Object.fromEntries(
    spec
      .split(',')
      .filter(Boolean)
      .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
  )
if (!values.a || !values.b) throw new Error('--a and --b are required')
const bun = process.execPath
const work = mkdtempSync(join(tmpdir(), 'chat-compare-'))

/** The binary to run for `target`: itself, or built from the source tree it names; null for `bare` and `bare-stored` (bench/baseline-server.ts). */
function binaryOf(target: string, name: string): string | null {
  if (target === 'bare' || target === 'bare-stored') return null
  if (statSync(target).isFile()) return target
  const outfile = join(work, name)
  const build = Bun.spawnSync([bun, 'build.ts', '--outfile', outfile], { cwd: target, stdout: 'inherit', stderr: 'inherit' })
  if (build.exitCode !== 0 || !existsSync(outfile)) throw new Error(`building ${target} failed`)
  return outfile
}

/** What the bare server is started with: `bare-stored` stores each message (at DATABASE_PATH, in the round's own folder). */
const bareEnv = (target: string): Record<string, string> => (target === 'bare-stored' ? { BARE_STORED: '1' } : {})

/** One round on one build: a fresh server and database, idle sockets, then fan-out. */
async function round(binary: string | null, env: Record<string, string>, seconds: number, idleSockets: number) {
  const dir = mkdtempSync(join(work, 'db-'))
  const db = values.postgres && binary !== null ? await createDatabase() : null
  const server = await startServer(binary, dir, db ? { ...env, DATABASE_URL: db.url } : env)
  try {
    // The bare server has rooms 1 to 20 and makes none.
    const rooms: number[] = binary === null ? Array.from({ length: 20 }, (_, i) => i + 1) : []
    for (let i = 0; binary !== null && i < 20; i++) {
      const res = await fetch(`http://127.0.0.1:${server.port}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `compare ${i}` }) })
      rooms.push(((await res.json()) as { id: number }).id)
    }
    const ws = `ws://127.0.0.1:${server.port}`
    // Idle memory first, on a fresh process (as bench/run.ts measures it), then fan-out.
    await Bun.sleep(500)
    const before = rssKiB(server.pid)
    const idle = await startHolder(['--mode', 'idle', '--url', ws, '--rooms', rooms.slice(0, 10).join(','), '--clients', String(idleSockets)])
    await Bun.sleep(1500)
    const after = rssKiB(server.pid)
    await idle.finish()
    await Bun.sleep(500)
    const load = () => runFanout(ws, rooms, { clients: 10, window: 4, seconds, warmup: 1, text: values.text! })
    // CPU per delivery (server CPU over the whole load, warm-up included, over every message delivered
    // meanwhile) is what the bare server is compared by; per message stored needs the chat server's count.
    const cpuBefore = cpuMs(server.pid)
    const { result: fanout, cpuUsPerMessage } = binary === null ? { result: await load(), cpuUsPerMessage: Number.NaN } : await cpuPerMessage(server, load)
    const cpuUsPerDelivery = ((cpuMs(server.pid) - cpuBefore) * 1000) / Math.max(1, fanout.deliveredAll!)
    return { delivered: fanout.deliveredPerSecond!, stored: fanout.sentPerSecond!, cpuUsPerMessage, cpuUsPerDelivery, p99: fanout.p99Ms!, bytesPerSocket: ((after - before) * 1024) / idleSockets }
  } finally {
    await server.stop()
    await db?.drop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!

try {
  const a = binaryOf(values.a, 'a')
  const b = binaryOf(values.b, 'b')
  const results = { a: [] as Awaited<ReturnType<typeof round>>[], b: [] as Awaited<ReturnType<typeof round>>[] }
  for (let i = 0; i < Number(values.rounds); i++) {
    for (const [name, binary, env] of [
      ['a', a, { ...bareEnv(values.a), ...envOf(values['a-env']!) }],
      ['b', b, { ...bareEnv(values.b), ...envOf(values['b-env']!) }],
    ] as const) {
      const r = await round(binary, env, Number(values.seconds), Number(values['idle-sockets']))
      results[name].push(r)
      console.log(
        `round ${i + 1} ${name}: ${Math.round(r.delivered).toLocaleString('en-US')} delivered/s, ${Math.round(r.stored).toLocaleString('en-US')} stored/s, ${r.cpuUsPerMessage.toFixed(1)} µs CPU/message, ${r.cpuUsPerDelivery.toFixed(2)} µs CPU/delivery, p99 ${r.p99.toFixed(1)} ms, ${Math.round(r.bytesPerSocket)} B/idle socket`,
      )
    }
  }
  const summary = (key: 'delivered' | 'stored' | 'cpuUsPerMessage' | 'cpuUsPerDelivery' | 'p99' | 'bytesPerSocket') => {
    const [ma, mb] = [median(results.a.map((r) => r[key])), median(results.b.map((r) => r[key]))]
    return `${key}: a ${ma.toFixed(1)}, b ${mb.toFixed(1)}, b/a ${(mb / ma).toFixed(3)}`
  }
  console.log(`\nmedians of ${values.rounds} rounds (a = ${values.a}, b = ${values.b})`)
  const keys = ['delivered', 'stored', 'cpuUsPerMessage', 'cpuUsPerDelivery', 'p99', 'bytesPerSocket'] as const
  for (const key of keys) console.log(summary(key))
  // The medians and their ratios as one JSON line, for bench/run.ts.
  const medians = keys.flatMap((key) => {
    const [ma, mb] = [median(results.a.map((r) => r[key])), median(results.b.map((r) => r[key]))]
    return [
      [`${key}A`, ma],
      [`${key}B`, mb],
      [`${key}Ratio`, mb / ma],
    ]
  })
  console.log(JSON.stringify({ rounds: Number(values.rounds), ...Object.fromEntries(medians) }))
} finally {
  rmSync(work, { recursive: true, force: true })
}
