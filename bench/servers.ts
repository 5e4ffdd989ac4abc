/** Starting the chat server (the compiled binary) or the bare reference server for a benchmark. */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Server {
  name: 'chat' | 'baseline'
  port: number
  pid: number
  stop(): Promise<void>
}

/** The key the benchmarks' chat servers take service calls with (they make private rooms and members). */
export const SERVICE_SECRET = 'bench-service-secret-0123456789'

const root = join(import.meta.dir, '..')

/**
 * Starts `binary` (the chat server) in `work`, or the bare server when `binary` is null, on a free
 * port with the per-user rate limits lifted (the load is far above a person's typing speed).
 */
export async function startServer(binary: string | null, work: string, extraEnv: Record<string, string> = {}): Promise<Server> {
  const name = binary === null ? 'baseline' : 'chat'
  const cmd = binary === null ? [process.execPath, 'bench/baseline-server.ts'] : [binary]
  const env = {
    ...process.env,
    SERVICE_SECRET,
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_PATH: join(work, 'chat.db'),
    LOG_LEVEL: 'info',
    RATE_LIMIT_PER_SECOND: '1000000',
    RATE_LIMIT_BURST: '1000000',
    HANDSHAKES_PER_MINUTE: '1000000',
    HANDSHAKES_PER_MINUTE_PER_ADDRESS: '1000000',
    ROOMS_PER_HOUR: '1000000',
    ROOMS_PER_HOUR_PER_ADDRESS: '1000000',
    ...extraEnv,
  }
  const proc = Bun.spawn(cmd, { cwd: binary === null ? root : work, env, stdout: 'pipe', stderr: 'inherit' })
  const reader = proc.stdout.getReader()
  let text = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`${name} server exited before it was ready:\n${text}`)
    text += new TextDecoder().decode(value)
    const match = /LISTENING (\d+)|"port":(\d+)/.exec(text)
    if (!match) continue
    void (async () => {
      while (!(await reader.read()).done) {}
    })()
    return {
      name,
      port: Number(match[1] ?? match[2]),
      pid: proc.pid,
      async stop() {
        proc.kill('SIGTERM')
        await proc.exited
      },
    }
  }
}

type Json = Record<string, number>

/** Runs a command to completion and returns the last JSON line it printed. */
export async function runJson(cmd: string[]): Promise<Json> {
  const proc = Bun.spawn(cmd, { cwd: root, stdout: 'pipe', stderr: 'inherit' })
  const out = await new Response(proc.stdout).text()
  if ((await proc.exited) !== 0) throw new Error(`${cmd.join(' ')} failed:\n${out}`)
  return JSON.parse(out.trim().split('\n').at(-1)!) as Json
}

/** The fan-out load (bench/load-client.ts --mode fanout): in each room, `clients` sockets each keep `window` messages in flight. */
export interface FanoutLoad {
  clients: number
  window: number
  seconds: number
  /** Seconds of load before the measuring starts. */
  warmup: number
  /** What the messages say: plain (the load client's default) or market (Korean marketplace lines). */
  text?: string
  /** The share of operations (0–1) that edit or react to a message instead of sending one. */
  changes?: number
}

/** Runs the fan-out load client against `url` (several servers comma-separated) in `rooms`; returns its results. */
export function runFanout(url: string, rooms: readonly number[], load: FanoutLoad): Promise<Json> {
  const cmd = [process.execPath, 'bench/load-client.ts', '--mode', 'fanout', '--url', url, '--rooms', rooms.join(',')]
  cmd.push('--clients', String(load.clients), '--window', String(load.window), '--seconds', String(load.seconds), '--warmup', String(load.warmup))
  if (load.text !== undefined) cmd.push('--text', load.text)
  if (load.changes !== undefined) cmd.push('--changes', String(load.changes))
  return runJson(cmd)
}

/** Resident memory of a process, in KiB. */
export const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? Number.NaN)

/**
 * Starts a long-running load client (one that prints {"ready":true} once set up, and its results
 * when a line arrives on stdin); resolves once it is ready, with a function that ends it.
 */
export async function startHolder(args: string[]): Promise<{ finish(): Promise<Json> }> {
  const proc = Bun.spawn([process.execPath, 'bench/load-client.ts', ...args], { cwd: root, stdin: 'pipe', stdout: 'pipe', stderr: 'inherit' })
  const reader = proc.stdout.getReader()
  let text = ''
  while (!text.includes('"ready":true')) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`load client exited early: ${text}`)
    text += new TextDecoder().decode(value)
  }
  return {
    async finish() {
      proc.stdin.write('done\n')
      await proc.stdin.end()
      let rest = ''
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        rest += new TextDecoder().decode(value)
      }
      await proc.exited
      return JSON.parse(rest.trim().split('\n').at(-1)!) as Json
    },
  }
}

/** CPU time a process has used so far (user and system), in milliseconds. */
export function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  // utime and stime are fields 14 and 15 of the line (11 and 12 after the command name), in ticks of 10 ms.
  return (Number(fields[11]) + Number(fields[12])) * 10
}

/** The chat server's own figures of these unlabelled metrics (a sample line `name value`), NaN for one it does not report. */
export async function metricValues<Name extends string>(server: Server, names: readonly Name[]): Promise<Record<Name, number>> {
  const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text()
  const found = new Map(
    text.split('\n').map((line) => {
      const [name = '', value = ''] = line.split(' ')
      return [name, value]
    }),
  )
  return Object.fromEntries(names.map((name) => [name, found.has(name) ? Number(found.get(name)) : Number.NaN])) as Record<Name, number>
}

/** Messages the chat server has stored so far (its own counter). */
export async function storedCount(server: Server): Promise<number> {
  return (await metricValues(server, ['chat_messages_stored_total'])).chat_messages_stored_total
}

/** Runs `load` and measures the server's CPU time per message it stored meanwhile, in microseconds. */
export async function cpuPerMessage<T>(server: Server, load: () => Promise<T>): Promise<{ result: T; cpuUsPerMessage: number }> {
  const [cpuBefore, storedBefore] = [cpuMs(server.pid), await storedCount(server)]
  const result = await load()
  const [cpuAfter, storedAfter] = [cpuMs(server.pid), await storedCount(server)]
  return { result, cpuUsPerMessage: ((cpuAfter - cpuBefore) * 1000) / Math.max(1, storedAfter - storedBefore) }
}

/**
 * A local webhook receiver: answers 200 and counts POSTs, events and their distinct ids (a repeat
 * would show as events beyond the ids). A batch is read for its events' ids.
 */
export function startWebhookReceiver() {
  const counts = { posts: 0, events: 0, ids: new Set<string>() }
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      counts.posts++
      if (request.headers.get('x-chat-event-count') === null) {
        await request.arrayBuffer()
        counts.events++
        counts.ids.add(request.headers.get('x-chat-event-id') ?? '')
      } else {
        const batch = (await request.json()) as { id: string }[]
        counts.events += batch.length
        for (const event of batch) counts.ids.add(event.id)
      }
      return new Response('ok')
    },
  })
  return { url: `http://127.0.0.1:${server.port}/hook`, counts, stop: () => server.stop(true) }
}
