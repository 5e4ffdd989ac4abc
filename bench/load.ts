/**
 * Fan-out benchmark: the chat server (every message persisted to SQLite) against a bare
 * Bun.serve pub/sub server speaking the same protocol, driven by the same load client in
 * a separate process, in one run.
 *
 *   bun run bench [--rooms 20] [--clients 10] [--seconds 10] [--window 4]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    rooms: { type: 'string', default: '20' },
    clients: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    window: { type: 'string', default: '4' },
  },
})
const root = join(import.meta.dir, '..')
const bun = process.execPath

interface Result {
  sockets: number
  deliveredPerSecond: number
  sentPerSecond: number
  p50Ms: number
  p99Ms: number
}

/** Starts a server process and resolves with its port once it prints it. */
async function startProcess(cmd: string[], env: Record<string, string>, ready: RegExp) {
  const proc = Bun.spawn(cmd, { cwd: root, env: { ...process.env, ...env }, stdout: 'pipe', stderr: 'inherit' })
  const reader = proc.stdout.getReader()
  let text = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`${cmd.join(' ')} exited before it was ready:\n${text}`)
    text += new TextDecoder().decode(value)
    const match = ready.exec(text)
    if (match) {
      // Keep draining stdout so the server never blocks on a full pipe.
      void (async () => {
        while (!(await reader.read()).done) {}
      })()
      return { proc, port: Number(match[1]) }
    }
  }
}

async function runLoad(port: number, rooms: number[]): Promise<Result> {
  const proc = Bun.spawn(
    [bun, 'bench/load-client.ts', '--url', `ws://127.0.0.1:${port}`, '--rooms', rooms.join(','), '--clients', values.clients, '--seconds', values.seconds, '--window', values.window],
    { cwd: root, stdout: 'pipe', stderr: 'inherit' },
  )
  const out = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error(`load client failed: ${out}`)
  return JSON.parse(out.trim().split('\n').at(-1)!) as Result
}

const roomCount = Number(values.rooms)
const dir = mkdtempSync(join(tmpdir(), 'chat-bench-'))
const results: Record<string, Result & { stored?: number }> = {}
try {
  const chat = await startProcess([bun, 'src/index.ts'], { PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: join(dir, 'chat.db'), LOG_LEVEL: 'info' }, /"url":"http:\/\/[^:]+:(\d+)/)
  const rooms: number[] = []
  for (let i = 0; i < roomCount; i++) {
    const res = await fetch(`http://127.0.0.1:${chat.port}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `bench ${i}` }) })
    rooms.push(((await res.json()) as { id: number }).id)
  }
  results.chat = await runLoad(chat.port, rooms)
  chat.proc.kill('SIGTERM')
  await chat.proc.exited
  const { Database } = await import('bun:sqlite')
  const db = new Database(join(dir, 'chat.db'), { readonly: true })
  results.chat.stored = (db.query('SELECT count(*) AS n FROM messages').get() as { n: number }).n
  db.close()

  const bare = await startProcess([bun, 'bench/baseline-server.ts'], {}, /LISTENING (\d+)/)
  results.baseline = await runLoad(bare.port, rooms)
  bare.proc.kill()
  await bare.proc.exited
} finally {
  rmSync(dir, { recursive: true, force: true })
}

const chat = results.chat!
const base = results.baseline!
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 1 })
console.log(`fan-out: ${roomCount} rooms x ${values.clients} clients, window ${values.window}, ${values.seconds} s`)
console.log('| figure | chat server | bare Bun.serve | ratio |')
console.log('| --- | ---: | ---: | ---: |')
for (const [name, key] of [
  ['delivered messages/s', 'deliveredPerSecond'],
  ['sent (stored) messages/s', 'sentPerSecond'],
  ['echo p50 ms', 'p50Ms'],
  ['echo p99 ms', 'p99Ms'],
] as const) {
  console.log(`| ${name} | ${fmt(chat[key])} | ${fmt(base[key])} | ${(chat[key] / base[key]).toFixed(2)} |`)
}
console.log(`messages in the database after the run: ${chat.stored}`)
