/**
 * `npm test`: every test file, spread over worker processes by `bun test --parallel`, then the few
 * files that must run alone, one after another. Arguments (file filters, `-t`) go to `bun test`
 * as given, and then every matching file runs in one parallel pass.
 *
 *   bun scripts/test.ts [bun test arguments…]
 *
 * Workers take the slowest files first, by test/timings.json (milliseconds per file, as measured;
 * a file missing from it counts as the median). Refresh it after adding or slowing down a file:
 *   npx bun test --parallel=3 --no-isolate --timeout=30000 --timings=test/timings.json --update-timings
 */
import { join } from 'node:path'

const root = join(import.meta.dir, '..')

/**
 * Three workers on a machine of two cores: a file spends much of its time waiting on sockets,
 * child processes (servers, Redis, Postgres, nginx, Chromium) and timers. With four, the two cores
 * were busy all along and the multi-instance tests starved (the cluster test's 180 messages took
 * over 20 s); three, with one global per worker (below), ran the same files in 294 s instead of
 * 327 s, every test within its bounds.
 */
const WORKERS = 3

/**
 * The default is 5 s; server tests start real processes and sockets, and run beside other files.
 * (bun test reads no timeout from bunfig.toml, only from this flag.)
 */
const TIMEOUT_MS = 30_000

/**
 * Files that run alone, after the others: they promise latencies that a loaded machine cannot
 * give. The hostile receiver test holds /healthz to 100 ms while the server fights off a receiver
 * built to hurt it; beside other workers on two cores, a healthy server misses that by a few
 * milliseconds.
 */
const ALONE = ['test/webhook-hostile-receiver.test.ts']

const common = [`--timeout=${TIMEOUT_MS}`]
/**
 * Each worker keeps one global for the files it runs (--no-isolate), as a serial `bun test` keeps
 * one for all: each file would otherwise evaluate the server's imports afresh, a CPU cost the
 * two cores pay in wall time.
 */
const parallel = [`--parallel=${WORKERS}`, '--no-isolate', '--timings=test/timings.json']

/** Copies `stream` to `out` as it comes, keeping the lines that name a failed test. */
async function passThrough(stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream, failed: string[]): Promise<void> {
  const decoder = new TextDecoder()
  let partial = ''
  for await (const chunk of stream) {
    out.write(chunk)
    const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n')
    partial = lines.pop() ?? ''
    for (const line of lines) if (line.startsWith('(fail)') && !failed.includes(line)) failed.push(line)
  }
}

/**
 * Runs `bun test` with `args`, its output passed through; its exit status, how long it took and
 * the tests that failed (a long log is often read from its end only, where the summary repeats them).
 */
async function bunTest(args: string[]): Promise<{ status: number; seconds: number; failed: string[] }> {
  const started = performance.now()
  const proc = Bun.spawn([process.execPath, 'test', ...args], { cwd: root, stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' })
  const failed: string[] = []
  await Promise.all([passThrough(proc.stdout, process.stdout, failed), passThrough(proc.stderr, process.stderr, failed)])
  const status = await proc.exited
  return { status, seconds: (performance.now() - started) / 1000, failed }
}

const given = process.argv.slice(2)
const passes: { name: string; args: string[] }[] =
  given.length > 0
    ? [{ name: 'the files asked for', args: [...common, ...parallel, ...given] }]
    : [
        { name: `every file but ${ALONE.length}, ${WORKERS} workers`, args: [...common, ...parallel, ...ALONE.map((file) => `--path-ignore-patterns=${file}`)] },
        { name: `${ALONE.join(', ')}, alone`, args: [...common, ...ALONE.map((file) => `./${file}`)] },
      ]

const results: { name: string; status: number; seconds: number; failed: string[] }[] = []
for (const pass of passes) {
  console.log(`\n=== ${pass.name}: bun test ${pass.args.join(' ')}\n`)
  results.push({ name: pass.name, ...(await bunTest(pass.args)) })
}

console.log('\n=== summary')
for (const r of results) {
  console.log(`${r.status === 0 ? 'passed' : `FAILED (exit ${r.status})`}  ${r.seconds.toFixed(1)} s  ${r.name}`)
  for (const line of r.failed) console.log(`  ${line}`)
}
console.log(`${results.reduce((sum, r) => sum + r.seconds, 0).toFixed(1)} s in all`)
process.exit(results.every((r) => r.status === 0) ? 0 : 1)
