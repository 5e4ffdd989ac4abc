/**
 * Compares two builds of the chat server on the fan-out scenario and idle memory, in turns (a, b,
 * a, b…) so that the machine's noise falls on both alike. Prints the median of each and their ratio.
 *
 *   bun bench/compare.ts --a <binary or source tree> --b <binary or source tree>
 *                        [--rounds 5] [--seconds 10] [--idle-sockets 5000]
 *
 * A source tree (a checkout of this repository, say a `git worktree` of an older commit) is built
 * with its own build.ts first.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    a: { type: 'string' },
    b: { type: 'string' },
    rounds: { type: 'string', default: '5' },
    seconds: { type: 'string', default: '10' },
    'idle-sockets': { type: 'string', default: '5000' },
  },
})
if (!values.a || !values.b) throw new Error('--a and --b are required')
const root = join(import.meta.dir, '..')
const bun = process.execPath
const work = mkdtempSync(join(tmpdir(), 'chat-compare-'))
const UNLIMITED = { RATE_LIMIT_PER_SECOND: '1000000', RATE_LIMIT_BURST: '1000000', HANDSHAKES_PER_MINUTE: '1000000', HANDSHAKES_PER_MINUTE_PER_ADDRESS: '1000000', ROOMS_PER_HOUR: '1000000', ROOMS_PER_HOUR_PER_ADDRESS: '1000000' }

/** The binary to run for `target`: itself, or built from the source tree it names. */
function binaryOf(target: string, name: string): string {
  if (statSync(target).isFile()) return target
  const outfile = join(work, name)
  const build = Bun.spawnSync([bun, 'build.ts', '--outfile', outfile], { cwd: target, stdout: 'inherit', stderr: 'inherit' })
  if (build.exitCode !== 0 || !existsSync(outfile)) throw new Error(`building ${target} failed`)
  return outfile
}

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN)

async function runJson(cmd: string[], stdin?: 'pipe'): Promise<Record<string, number>> {
  const proc = Bun.spawn(cmd, { cwd: root, stdout: 'pipe', stderr: 'inherit', stdin: stdin ?? 'ignore' })
  const out = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error(`${cmd.join(' ')} failed:\n${out}`)
  return JSON.parse(out.trim().split('\n').at(-1)!) as Record<string, number>
}

/** One round on one build: a fresh server and database, idle sockets, then fan-out. */
async function round(binary: string, seconds: number, idleSockets: number) {
  const dir = mkdtempSync(join(work, 'db-'))
  const proc = Bun.spawn([binary], { cwd: dir, env: { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: join(dir, 'chat.db'), LOG_LEVEL: 'info', ...UNLIMITED }, stdout: 'pipe', stderr: 'inherit' })
  const reader = proc.stdout.getReader()
  let text = ''
  let port = 0
  while (!port) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`server exited: ${text}`)
    text += new TextDecoder().decode(value)
    port = Number(/"port":(\d+)/.exec(text)?.[1] ?? 0)
  }
  void (async () => {
    while (!(await reader.read()).done) {}
  })()
  try {
    const rooms: number[] = []
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`http://127.0.0.1:${port}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `compare ${i}` }) })
      rooms.push(((await res.json()) as { id: number }).id)
    }
    const ws = `ws://127.0.0.1:${port}`
    // Idle memory first, on a fresh process (as bench/run.ts measures it), then fan-out.
    await Bun.sleep(500)
    const before = rssKiB(proc.pid)
    const idle = Bun.spawn([bun, 'bench/load-client.ts', '--mode', 'idle', '--url', ws, '--rooms', rooms.slice(0, 10).join(','), '--clients', String(idleSockets)], { cwd: root, stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' })
    const idleOut = idle.stdout.getReader()
    let idleText = ''
    while (!idleText.includes('"ready":true')) {
      const { value, done } = await idleOut.read()
      if (done) throw new Error(`idle client exited: ${idleText}`)
      idleText += new TextDecoder().decode(value)
    }
    await Bun.sleep(1500)
    const after = rssKiB(proc.pid)
    idle.stdin.write('done\n')
    await idle.stdin.end()
    await idle.exited
    await Bun.sleep(500)
    const fanout = await runJson([bun, 'bench/load-client.ts', '--mode', 'fanout', '--url', ws, '--rooms', rooms.join(','), '--clients', '10', '--window', '4', '--seconds', String(seconds), '--warmup', '1'])
    return { delivered: fanout.deliveredPerSecond!, p99: fanout.p99Ms!, bytesPerSocket: ((after - before) * 1024) / idleSockets }
  } finally {
    proc.kill('SIGTERM')
    await proc.exited
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!

try {
  const a = binaryOf(values.a, 'a')
  const b = binaryOf(values.b, 'b')
  const results = { a: [] as Awaited<ReturnType<typeof round>>[], b: [] as Awaited<ReturnType<typeof round>>[] }
  for (let i = 0; i < Number(values.rounds); i++) {
    for (const [name, binary] of [['a', a], ['b', b]] as const) {
      const r = await round(binary, Number(values.seconds), Number(values['idle-sockets']))
      results[name].push(r)
      console.log(`round ${i + 1} ${name}: ${Math.round(r.delivered).toLocaleString('en-US')} delivered/s, p99 ${r.p99.toFixed(1)} ms, ${Math.round(r.bytesPerSocket)} B/idle socket`)
    }
  }
  const summary = (key: 'delivered' | 'p99' | 'bytesPerSocket') => {
    const [ma, mb] = [median(results.a.map((r) => r[key])), median(results.b.map((r) => r[key]))]
    return `${key}: a ${ma.toFixed(1)}, b ${mb.toFixed(1)}, b/a ${(mb / ma).toFixed(3)}`
  }
  console.log(`\nmedians of ${values.rounds} rounds (a = ${values.a}, b = ${values.b})`)
  for (const key of ['delivered', 'p99', 'bytesPerSocket'] as const) console.log(summary(key))
} finally {
  rmSync(work, { recursive: true, force: true })
}
