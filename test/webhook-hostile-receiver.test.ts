import { describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startInstance } from './support/cluster.ts'
import { MISBEHAVIOURS, startHostileReceiver, type HostileCounts } from './support/hostile-receiver.ts'
import type { ServerProcess } from './support/process.ts'
import { alice, createRoom, endpoint, identityHeaders, UNLIMITED } from './support/server.ts'
import { watchServers } from './support/server-watch.ts'

// A chat server, as a process of its own, whose webhook receiver misbehaves in every way it can
// (support/hostile-receiver.ts, also a process of its own), watched from a third process that does
// nothing else (support/server-watch.ts), so that neither the receiver's work nor this test's skews
// what is measured. Once over the server's own HTTP/1.1 client, once over fetch through
// HTTP_PROXY (the hostile receiver answering as the proxy); one at a time, so the two do not
// compete for the machine. The server may neither grow nor stall.

/** How long the receiver misbehaves while the server is watched. */
const MISBEHAVE_MS = 6000
const MAX_RSS_BYTES = 200 * 1024 * 1024
const MAX_HEALTHZ_MS = 100
const ROOMS = 16

/** A counter of /metrics, by its name and labels as printed. */
async function metric(server: ServerProcess, series: string): Promise<number> {
  const text = await (await fetch(`${server.base}/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`${series} `))
  return line ? Number(line.split(' ')[1]) : 0
}

/**
 * Until `deadline`: a message in each room every quarter second. Each is a webhook; a room's first
 * failure holds the others back until its retry, so this keeps every room failing without loading
 * the server (or this process) with more than the receiver's doing.
 */
async function traffic(server: ServerProcess, rooms: number[], deadline: number): Promise<void> {
  const api = endpoint(server.base)
  for (let round = 0; Date.now() < deadline; round++) {
    await Promise.all(
      rooms.map(async (room) => {
        const res = await api.post('/chat/v1/message/', { room, message: `hello ${round}` }, identityHeaders(alice))
        expect(res.status).toBe(201)
      }),
    )
    await Bun.sleep(250)
  }
}

/** What a server went through, and how it held up, while its receiver misbehaved. */
interface Ordeal {
  maxRssBytes: number
  healthzMs: number[]
  counts: HostileCounts
  retried: number
  alive: boolean
}

/**
 * Starts a server whose webhooks go to a fresh hostile receiver (as WEBHOOK_URL, or as HTTP_PROXY
 * in front of an http:// one, which makes the server post with fetch), sends messages for
 * MISBEHAVE_MS while it is watched, and stops both.
 */
async function ordeal(via: 'url' | 'proxy'): Promise<Ordeal> {
  const receiver = await startHostileReceiver()
  const dir = mkdtempSync(join(tmpdir(), 'chat-hostile-'))
  const hostile = `http://127.0.0.1:${receiver.port}`
  let server: ServerProcess | undefined
  try {
    server = await startInstance({
      ...UNLIMITED,
      ...(via === 'proxy' ? { WEBHOOK_URL: 'http://receiver.invalid/hook', HTTP_PROXY: hostile } : { WEBHOOK_URL: `${hostile}/hook` }),
      DATABASE_PATH: join(dir, 'chat.db'),
      WEBHOOK_SECRET: 'webhook-secret-of-the-app-backend',
      // Short timeouts and retries: many requests, every misbehaviour many times over.
      WEBHOOK_TIMEOUT: '2',
      WEBHOOK_RETRY_MIN_MS: '50',
      WEBHOOK_RETRY_MAX: '1',
    })
    const api = endpoint(server.base)
    const rooms = await Promise.all(Array.from({ length: ROOMS }, (_, i) => createRoom(api, `hostile ${i}`)))
    const [[watched]] = await Promise.all([watchServers(MISBEHAVE_MS, [{ pid: server.proc.pid, base: server.base }]), traffic(server, rooms, Date.now() + MISBEHAVE_MS)])
    const seen = { ...watched!, counts: await receiver.counts(), retried: await metric(server, 'chat_webhook_deliveries_total{outcome="retry"}'), alive: server.proc.exitCode === null }
    const slowest = Math.max(...seen.healthzMs)
    console.info(
      `webhooks via ${via}: ${seen.counts.connections} connections, ${seen.retried} retries; RSS at most ${(seen.maxRssBytes / 2 ** 20).toFixed(1)} MB; ${seen.healthzMs.length} /healthz, slowest ${slowest.toFixed(1)} ms`,
    )
    return seen
  } finally {
    server?.proc.kill('SIGKILL')
    await server?.exited
    await receiver.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('a hostile webhook receiver', () => {
  for (const [via, how] of [
    ['url', 'the server’s own HTTP/1.1 client'],
    ['proxy', 'fetch, through HTTP_PROXY'],
  ] as const) {
    it(`should leave the server under ${MAX_RSS_BYTES >> 20} MB and answering /healthz within ${MAX_HEALTHZ_MS} ms, over ${how}`, async () => {
      const seen = await ordeal(via)
      // The promise: small, and answering all along.
      expect(seen.alive).toBe(true)
      expect(seen.maxRssBytes).toBeLessThan(MAX_RSS_BYTES)
      expect(seen.healthzMs.filter((ms) => ms > MAX_HEALTHZ_MS).map(Math.round)).toEqual([])
      // Not vacuous: the server was watched, its webhooks went out, met every misbehaviour more than once, and failed.
      expect(seen.healthzMs.length).toBeGreaterThan(MISBEHAVE_MS / 100)
      expect(MISBEHAVIOURS.filter((way) => seen.counts.by[way] < 2)).toEqual([])
      expect(seen.counts.requests).toBeGreaterThan(MISBEHAVIOURS.length)
      expect(seen.retried).toBeGreaterThan(MISBEHAVIOURS.length)
    }, 60_000)
  }
})
