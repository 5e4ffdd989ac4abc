/**
 * Time from spawning the compiled binary to its first answered request (GET /healthz),
 * on a fresh database each run. Builds the binary first if it is missing.
 *
 *   bun bench/startup.ts [--runs 10] [--binary dist/chat-server]
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '10' }, binary: { type: 'string', default: 'dist/chat-server' } } })
const root = join(import.meta.dir, '..')
const binary = join(root, values.binary)
if (!existsSync(binary)) Bun.spawnSync([process.execPath, 'build.ts', '--outfile', binary], { cwd: root, stdout: 'inherit', stderr: 'inherit' })

const times: number[] = []
for (let run = 0; run < Number(values.runs); run++) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-startup-'))
  const port = 20000 + Math.floor(Math.random() * 20000)
  const started = performance.now()
  const proc = Bun.spawn([binary, '--port', String(port), '--host', '127.0.0.1', '--log-level', 'silent'], { cwd: dir, stdout: 'ignore', stderr: 'inherit' })
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) break
    } catch {}
    await Bun.sleep(1)
  }
  times.push(performance.now() - started)
  proc.kill('SIGTERM')
  await proc.exited
  rmSync(dir, { recursive: true, force: true })
}
times.sort((a, b) => a - b)
console.log(
  JSON.stringify({
    binaryMiB: +(statSync(binary).size / 1024 / 1024).toFixed(1),
    runs: times.length,
    medianMs: +times[Math.floor(times.length / 2)]!.toFixed(1),
    minMs: +times[0]!.toFixed(1),
    maxMs: +times.at(-1)!.toFixed(1),
  }),
)
