/**
 * What WEBHOOK_PASS_GAP_MS saves where webhooks cost most: one busy open room below the server's
 * limit (the load client's bigroom mode: `--clients` sockets, `--rate` messages a second). Rounds
 * on fresh servers, in turns: webhooks off, then on with each gap given. Per round: server CPU per
 * message stored, events per POST, and the chat's own latency (p50, p99). Prints a table of
 * medians and one JSON line.
 *
 *   bun bench/webhook-passes.ts --binary <chat-server> [--gaps 0,50] [--rounds 3] [--seconds 5]
 *                               [--clients 100] [--rate 2000] [--batch 100]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { cpuMs, runJson, startServer, startWebhookReceiver, storedCount } from './servers.ts'

const { values } = parseArgs({
  options: {
    binary: { type: 'string' },
    gaps: { type: 'string', default: '0,50' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '5' },
    clients: { type: 'string', default: '100' },
    rate: { type: 'string', default: '2000' },
    batch: { type: 'string', default: '100' },
  },
})
if (!values.binary) throw new Error('--binary (the compiled chat server) is required')
const binary = values.binary
const gaps = values.gaps!.split(',')
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const receiver = startWebhookReceiver()
const { counts } = receiver

interface Round {
  cpuUsPerMessage: number
  eventsPerPost: number
  p50Ms: number
  p99Ms: number
}

/** One round: webhooks off (gap null) or on with this gap. */
async function round(gap: string | null): Promise<Round> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-passes-'))
  const webhooks = { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: 'bench-webhook-secret-0123456789', WEBHOOK_BATCH: values.batch!, WEBHOOK_PASS_GAP_MS: gap ?? '0' }
  const server = await startServer(binary, dir, gap === null ? {} : webhooks)
  try {
    const created = await fetch(`http://127.0.0.1:${server.port}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: '큰 방' }) })
    const room = ((await created.json()) as { id: number }).id
    const [eventsBefore, postsBefore, cpuBefore, storedBefore] = [counts.events, counts.posts, cpuMs(server.pid), await storedCount(server)]
    const load = await runJson([
      process.execPath,
      'bench/load-client.ts',
      '--mode',
      'bigroom',
      '--url',
      `ws://127.0.0.1:${server.port}`,
      '--rooms',
      String(room),
      '--clients',
      values.clients!,
      '--rate',
      values.rate!,
      '--seconds',
      values.seconds!,
      '--warmup',
      '1',
    ])
    const stored = (await storedCount(server)) - storedBefore
    return {
      cpuUsPerMessage: ((cpuMs(server.pid) - cpuBefore) * 1000) / Math.max(1, stored),
      eventsPerPost: (counts.events - eventsBefore) / Math.max(1, counts.posts - postsBefore),
      p50Ms: load.p50Ms!,
      p99Ms: load.p99Ms!,
    }
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

try {
  const sides: (string | null)[] = [null, ...gaps]
  const results = new Map<string | null, Round[]>(sides.map((side) => [side, []]))
  for (let i = 0; i < Number(values.rounds); i++) {
    for (const side of sides) {
      const r = await round(side)
      results.get(side)!.push(r)
      console.error(
        `round ${i + 1} ${side === null ? 'off' : `gap ${side} ms`}: ${r.cpuUsPerMessage.toFixed(1)} µs CPU/message, ${r.eventsPerPost.toFixed(1)} events/POST, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms`,
      )
    }
  }
  const rows = sides.map((side) => {
    const rs = results.get(side)!
    return {
      side: side === null ? 'webhooks off' : `gap ${side} ms`,
      cpuUsPerMessage: median(rs.map((r) => r.cpuUsPerMessage)),
      eventsPerPost: side === null ? 0 : median(rs.map((r) => r.eventsPerPost)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
    }
  })
  console.log(
    [
      `webhook passes: one open room, ${values.clients} sockets, ${values.rate} messages/s, ${values.seconds} s, WEBHOOK_BATCH=${values.batch}, medians of ${values.rounds} rounds in turns on fresh servers (SQLite)`,
      '| | server CPU µs per message | events per POST | chat p50 ms | chat p99 ms |',
      '| --- | ---: | ---: | ---: | ---: |',
      ...rows.map((r) => `| ${r.side} | ${r.cpuUsPerMessage.toFixed(1)} | ${r.eventsPerPost ? r.eventsPerPost.toFixed(1) : '–'} | ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} |`),
    ].join('\n'),
  )
  console.log(JSON.stringify(rows))
} finally {
  receiver.stop()
}
