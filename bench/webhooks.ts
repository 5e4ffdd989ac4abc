/**
 * Webhooks' cost on the compiled server: the fan-out load (open rooms) with webhooks on (each
 * message stored a message.created, POSTed to a local receiver that answers 200) against off, in
 * alternating rounds on fresh servers; messages stored per second (target: on at least 0.8x off), server CPU
 * per message, and events the receiver got per second, with how long the outbox took to drain after
 * the load stopped, and how many messages each group commit wrote during the load (work that holds
 * the serving thread longer makes each batch larger). Prints a table and one JSON line.
 *
 *   bun bench/webhooks.ts --binary <chat-server> [--seconds 5] [--rounds 3] [--batch 1]
 *
 * `--batch` sets WEBHOOK_BATCH (events per POST); the receiver counts each event of a batch.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { cpuPerMessage, metricValues, runFanout, startServer, startWebhookReceiver, storedCount } from './servers.ts'

const { values } = parseArgs({ options: { binary: { type: 'string' }, seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, batch: { type: 'string', default: '1' } } })
if (!values.binary) throw new Error('--binary (the compiled chat server) is required')
const binary = values.binary
const seconds = Number(values.seconds)
const rounds = Number(values.rounds)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const receiver = startWebhookReceiver()
const { counts } = receiver

async function round(webhooks: boolean) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-webhooks-'))
  const server = await startServer(binary, dir, webhooks ? { WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: 'bench-webhook-secret-0123456789', WEBHOOK_BATCH: values.batch! } : {})
  try {
    const rooms: number[] = []
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`http://127.0.0.1:${server.port}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `hooks ${i}` }) })
      rooms.push(((await res.json()) as { id: number }).id)
    }
    await Bun.sleep(300)
    const eventsBefore = counts.events
    const commits = ['chat_store_batch_size_sum', 'chat_store_batch_size_count'] as const
    const commitsBefore = await metricValues(server, commits)
    const started = performance.now()
    const { result, cpuUsPerMessage } = await cpuPerMessage(server, () => runFanout(`ws://127.0.0.1:${server.port}`, rooms, { clients: 10, window: 4, seconds, warmup: 0.5 }))
    const loadSeconds = (performance.now() - started) / 1000
    const commitsAfter = await metricValues(server, commits)
    const messagesPerCommit = (commitsAfter.chat_store_batch_size_sum - commitsBefore.chat_store_batch_size_sum) / Math.max(1, commitsAfter.chat_store_batch_size_count - commitsBefore.chat_store_batch_size_count)
    const during = counts.events - eventsBefore
    // Drain: until every stored message (and the 20 room.created) reached the receiver.
    const stored = await storedCount(server)
    let drainSeconds = 0
    if (webhooks) {
      const drainStart = performance.now()
      while (counts.events - eventsBefore < stored && performance.now() - drainStart < 120_000) await Bun.sleep(50)
      drainSeconds = (performance.now() - drainStart) / 1000
    }
    return { stored: result.sentPerSecond!, cpuUsPerMessage, messagesPerCommit, eventsPerSecond: during / loadSeconds, drainSeconds, delivered: counts.events - eventsBefore, expected: stored }
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

try {
  const off: Awaited<ReturnType<typeof round>>[] = []
  const on: Awaited<ReturnType<typeof round>>[] = []
  for (let i = 0; i < rounds; i++) {
    off.push(await round(false))
    on.push(await round(true))
  }
  const result = {
    storedOff: median(off.map((r) => r.stored)),
    storedOn: median(on.map((r) => r.stored)),
    cpuUsOff: median(off.map((r) => r.cpuUsPerMessage)),
    cpuUsOn: median(on.map((r) => r.cpuUsPerMessage)),
    perCommitOff: median(off.map((r) => r.messagesPerCommit)),
    perCommitOn: median(on.map((r) => r.messagesPerCommit)),
    eventsPerSecond: median(on.map((r) => r.eventsPerSecond)),
    drainSeconds: median(on.map((r) => r.drainSeconds)),
    allDelivered: on.every((r) => r.delivered >= r.expected) ? 1 : 0,
    repeats: counts.events - counts.ids.size,
    eventsPerPost: counts.events / Math.max(1, counts.posts),
  }
  const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2))
  console.log(
    [
      `webhooks: fan-out 20 rooms x 10 clients, ${seconds} s, medians of ${rounds} alternating rounds on fresh servers (SQLite), WEBHOOK_BATCH=${values.batch} (${result.eventsPerPost.toFixed(1)} events per POST)`,
      '| figure | webhooks off | webhooks on | ratio |',
      '| --- | ---: | ---: | ---: |',
      `| messages stored/s | ${fmt(result.storedOff)} | ${fmt(result.storedOn)} | ${(result.storedOn / result.storedOff).toFixed(3)} |`,
      `| server CPU µs per message | ${fmt(result.cpuUsOff)} | ${fmt(result.cpuUsOn)} | ${(result.cpuUsOn / result.cpuUsOff).toFixed(3)} |`,
      `| messages per group commit | ${fmt(result.perCommitOff)} | ${fmt(result.perCommitOn)} | ${(result.perCommitOn / result.perCommitOff).toFixed(3)} |`,
      `events delivered to the receiver: ${fmt(result.eventsPerSecond)}/s during the load; the outbox drained ${fmt(result.drainSeconds)} s after it; every event delivered: ${result.allDelivered ? 'yes' : 'NO'}; repeats: ${result.repeats}`,
    ].join('\n'),
  )
  console.log(JSON.stringify({ ...result, storedRatio: result.storedOn / result.storedOff }))
} finally {
  receiver.stop()
}
