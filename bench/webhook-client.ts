/**
 * The webhook client alone: the same signed JSON POSTs to a local receiver (a process of its own,
 * so its CPU is not counted), over keep-alive connections, WEBHOOK_CONCURRENCY's default (8) at
 * once, with the server's HTTP/1.1 client (src/webhooks/http1.ts) against undici's Pool, in
 * alternating rounds (the order flips each round; one warm-up round each first). Per round:
 * requests/s, p50/p99 latency, and this process's CPU per request (process.cpuUsage, every thread).
 * Each client is compared with http1.ts round by round; the table gives the median ratio and its
 * min–max over the rounds, then one JSON line.
 *
 *   bun bench/webhook-client.ts [--requests 20000] [--rounds 7] [--concurrency 8] [--clients http1,undici-pool,undici-agent,fetch]
 *
 * undici is a devDependency, imported as `undici/index.js`: under Bun a bare `undici` is Bun's
 * built-in stand-in, whose `request` is fetch and whose Pool and Agent send nothing.
 */
import { parseArgs } from 'node:util'
import { Agent, Pool } from 'undici/index.js'
import { Http1Client } from '../src/webhooks/http1.ts'
import { MAX_HEAD_BYTES, MAX_RESPONSE_BYTES, type PostAnswer } from '../src/webhooks/response-reader.ts'
import { signatureHeader } from '../src/webhooks/signing.ts'

// What the server's webhooks allow, for the undici clients to be held to the same: WEBHOOK_TIMEOUT's
// default, the body prefix post.ts reads over fetch, http1.ts's idle time.
const TIMEOUT_MS = 10_000
const MAX_SKIPPED_BODY_BYTES = 64 * 1024
const IDLE_MS = 4000

/** The receiver: reads each body, answers 200 `ok`; GET answers what came since the last GET (requests, connections). */
function receive() {
  let requests = 0
  const connections = new Set<number>()
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request, server) {
      if (request.method === 'GET') {
        const seen = { requests, connections: connections.size }
        requests = 0
        connections.clear()
        return Response.json(seen)
      }
      await request.arrayBuffer()
      requests++
      connections.add(server.requestIP(request)?.port ?? 0)
      return new Response('ok')
    },
  })
  console.log(`LISTENING ${server.port}`)
}

type Post = (headers: Record<string, string>, body: string) => Promise<PostAnswer>
interface Client {
  post: Post
  close(): Promise<void> | void
}

/** Reads and drops at most MAX_SKIPPED_BODY_BYTES of an undici body (more: the connection is dropped), as post.ts does with fetch's. */
async function undiciAnswer(answer: { statusCode: number; headers: Record<string, string | string[] | undefined>; body: { dump(o: { limit: number }): Promise<unknown> } }): Promise<PostAnswer> {
  await answer.body.dump({ limit: MAX_SKIPPED_BODY_BYTES }).catch(() => {})
  const retryAfter = answer.headers['retry-after']
  return { status: answer.statusCode, retryAfter: typeof retryAfter === 'string' ? retryAfter : null }
}

/** undici's options for the bounds and idle time http1.ts keeps (its per-phase timeouts stay at 10 s; the signal is the deadline). */
const undiciOptions = { connections: 8, keepAliveTimeout: IDLE_MS, keepAliveMaxTimeout: IDLE_MS, maxHeaderSize: MAX_HEAD_BYTES, maxResponseSize: MAX_RESPONSE_BYTES, headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS }

const CLIENTS: Record<string, { label: string; make(url: URL, concurrency: number): Client }> = {
  http1: {
    label: 'http1.ts',
    make(url) {
      const client = new Http1Client(url)
      return { post: (headers, body) => client.post(headers, body, TIMEOUT_MS), close: () => client.close() }
    },
  },
  'undici-pool': {
    label: 'undici Pool',
    make(url, concurrency) {
      const pool = new Pool(url.origin, { ...undiciOptions, connections: concurrency })
      const path = `${url.pathname}${url.search}`
      return {
        post: async (headers, body) => undiciAnswer(await pool.request({ path, method: 'POST', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) })),
        close: () => pool.close(),
      }
    },
  },
  'undici-agent': {
    label: 'undici Agent',
    make(url, concurrency) {
      const agent = new Agent({ ...undiciOptions, connections: concurrency })
      const path = `${url.pathname}${url.search}`
      return {
        post: async (headers, body) => undiciAnswer(await agent.request({ origin: url.origin, path, method: 'POST', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS) })),
        close: () => agent.close(),
      }
    },
  },
  fetch: {
    label: 'fetch',
    make(url) {
      return {
        async post(headers, body) {
          const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(TIMEOUT_MS) })
          await res.arrayBuffer()
          return { status: res.status, retryAfter: res.headers.get('retry-after') }
        },
        close() {},
      }
    },
  },
}

/** The dispatcher's request for a message.created event: envelope, headers, signature (built beforehand, outside the timing). */
function webhookRequest(i: number): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify({
    id: `0123456789ab-m${i}`,
    type: 'message.created',
    created_at: new Date(1_780_000_000_000 + i).toISOString(),
    data: {
      message: {
        id: i,
        room: 1 + (i % 20),
        user_id: `user-${i % 10}`,
        nickname: `User ${i % 10}님`,
        profile_url: null,
        message: `hello from the webhook bench, message ${i}`,
        created_at: new Date(1_780_000_000_000 + i).toISOString(),
      },
      room: 1 + (i % 20),
      offline_user_ids: ['user-3', 'user-7'],
    },
  })
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'gateway-chat/bench',
    'x-chat-event-id': `0123456789ab-m${i}`,
    'x-chat-signature': signatureHeader('bench-webhook-secret-0123456789', body, 1_780_000_000),
  }
  return { headers, body }
}

interface Round {
  perSecond: number
  p50: number
  p99: number
  cpuUs: number
  connections: number
}

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function main() {
  const { values } = parseArgs({
    options: { requests: { type: 'string', default: '20000' }, rounds: { type: 'string', default: '7' }, concurrency: { type: 'string', default: '8' }, clients: { type: 'string', default: 'http1,undici-pool' } },
  })
  const n = Number(values.requests)
  const rounds = Number(values.rounds)
  const concurrency = Number(values.concurrency)
  const names = values.clients.split(',')
  for (const name of names) if (!CLIENTS[name]) throw new Error(`unknown client ${name} (known: ${Object.keys(CLIENTS).join(', ')})`)
  if (names[0] !== 'http1') throw new Error('--clients starts with http1, the one the others are compared with')

  const proc = Bun.spawn([process.execPath, import.meta.path, '--receiver'], { stdout: 'pipe', stderr: 'inherit' })
  process.on('exit', () => proc.kill())
  const reader = proc.stdout.getReader()
  let text = ''
  while (!/LISTENING (\d+)/.test(text)) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`the receiver exited: ${text}`)
    text += new TextDecoder().decode(value)
  }
  const port = Number(/LISTENING (\d+)/.exec(text)![1])
  const url = new URL(`http://127.0.0.1:${port}/hook`)
  const seen = async () => (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as { requests: number; connections: number }
  const work = Array.from({ length: n }, (_, i) => webhookRequest(i))

  /** One round: n POSTs, `concurrency` at once, on a fresh client (its connections opened in the round). */
  async function round(name: string, count: number): Promise<Round> {
    Bun.gc(true)
    const client = CLIENTS[name]!.make(url, concurrency)
    const latency = new Float64Array(count)
    let next = 0
    let failed = 0
    const cpu = process.cpuUsage()
    const started = performance.now()
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) {
          const i = next++
          const { headers, body } = work[i]!
          const t = performance.now()
          const answer = await client.post(headers, body)
          latency[i] = performance.now() - t
          if (answer.status !== 200) failed++
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    const used = process.cpuUsage(cpu)
    await client.close()
    const got = await seen()
    if (failed > 0 || got.requests !== count) throw new Error(`${name}: ${failed} answers not 200, the receiver got ${got.requests} of ${count}`)
    latency.sort()
    return { perSecond: count / seconds, p50: percentile(latency, 0.5), p99: percentile(latency, 0.99), cpuUs: (used.user + used.system) / count, connections: got.connections }
  }

  const results: Record<string, Round[]> = Object.fromEntries(names.map((name) => [name, []]))
  for (const name of names) await round(name, Math.min(n, 5000))
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 === 0 ? names : [...names].reverse()) results[name]!.push(await round(name, n))
  }
  proc.kill()

  const figures = [
    ['requests/s', 'perSecond'],
    ['latency p50 ms', 'p50'],
    ['latency p99 ms', 'p99'],
    ['client CPU µs per request', 'cpuUs'],
  ] as const
  const fmt = (x: number) => (x >= 100 ? Math.round(x).toLocaleString('en-US') : x.toFixed(x >= 10 ? 1 : 3))
  const spread = (xs: number[]) => `${fmt(median(xs))} (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`
  const ratios = (name: string, key: (typeof figures)[number][1]) => results[name]!.map((r, i) => r[key] / results.http1![i]![key])
  const ratioText = (xs: number[]) => `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`
  const others = names.slice(1)
  const lines = [
    `webhook client: ${n.toLocaleString('en-US')} POSTs of a ${Buffer.byteLength(work[0]!.body)}-byte signed JSON body, ${concurrency} at once, keep-alive; medians (min–max) of ${rounds} alternating rounds`,
    `| figure | ${names.map((name) => CLIENTS[name]!.label).join(' | ')} | ${others.map((name) => `${CLIENTS[name]!.label} / http1.ts`).join(' | ')} |`,
    `| --- |${' ---: |'.repeat(names.length + others.length)}`,
    ...figures.map(([label, key]) => `| ${label} | ${names.map((name) => spread(results[name]!.map((r) => r[key]))).join(' | ')} | ${others.map((name) => ratioText(ratios(name, key))).join(' | ')} |`),
    `connections per round (median): ${names.map((name) => `${CLIENTS[name]!.label} ${median(results[name]!.map((r) => r.connections))}`).join(', ')}`,
  ]
  console.log(lines.join('\n'))
  const json: Record<string, number> = {}
  for (const name of names) for (const [, key] of figures) json[`${name}.${key}`] = median(results[name]!.map((r) => r[key]))
  for (const name of others) for (const [, key] of figures) json[`${name}.${key}Ratio`] = median(ratios(name, key))
  console.log(JSON.stringify(json))
}

if (process.argv.includes('--receiver')) receive()
else await main()
