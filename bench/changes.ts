/**
 * What changes of messages cost the compiled server: the fan-out load (20 open rooms of 10
 * clients, 4 operations in flight each) with a share of its operations edits and reactions (10% by
 * default) against the same load of sends only, in alternating rounds on fresh servers. The
 * server's CPU per change is what the mixed rounds spent beyond their sends at the sends-only
 * rounds' cost per message: (CPU - messages × CPU per message) / changes. Prints a table and one
 * JSON line.
 *
 *   bun bench/changes.ts --binary <chat-server> [--seconds 5] [--rounds 3] [--share 0.1]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { cpuMs, runFanout, startServer } from './servers.ts'

const { values } = parseArgs({ options: { binary: { type: 'string' }, seconds: { type: 'string', default: '5' }, rounds: { type: 'string', default: '3' }, share: { type: 'string', default: '0.1' } } })
if (!values.binary) throw new Error('--binary (the compiled chat server) is required')
const binary = values.binary
const seconds = Number(values.seconds)
const rounds = Number(values.rounds)
const share = Number(values.share)
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** The server's own counters: messages stored, changes committed. */
async function counters(port: number) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const stored = Number(/^chat_messages_stored_total (\d+)/m.exec(text)?.[1] ?? Number.NaN)
  let changed = 0
  for (const match of text.matchAll(/^chat_messages_changed_total\{[^}]*\} (\d+)/gm)) changed += Number(match[1])
  return { stored, changed }
}

async function round(changeShare: number) {
  const dir = mkdtempSync(join(tmpdir(), 'chat-changes-'))
  const server = await startServer(binary, dir)
  try {
    const rooms: number[] = []
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`http://127.0.0.1:${server.port}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: `changes ${i}` }) })
      rooms.push(((await res.json()) as { id: number }).id)
    }
    await Bun.sleep(300)
    const [cpuBefore, before] = [cpuMs(server.pid), await counters(server.port)]
    const result = await runFanout(`ws://127.0.0.1:${server.port}`, rooms, { clients: 10, window: 4, seconds, warmup: 0.5, changes: changeShare })
    const [cpuAfter, after] = [cpuMs(server.pid), await counters(server.port)]
    return {
      cpuUs: (cpuAfter - cpuBefore) * 1000,
      stored: after.stored - before.stored,
      changed: after.changed - before.changed,
      deliveredPerSecond: result.deliveredPerSecond!,
      changesPerSecond: result.changesPerSecond!,
      p99Ms: result.p99Ms!,
    }
  } finally {
    await server.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const plain: Awaited<ReturnType<typeof round>>[] = []
const mixed: Awaited<ReturnType<typeof round>>[] = []
for (let i = 0; i < rounds; i++) {
  plain.push(await round(0))
  mixed.push(await round(share))
  const p = plain.at(-1)!
  const m = mixed.at(-1)!
  console.log(
    `round ${i + 1}: sends only ${Math.round(p.stored / seconds).toLocaleString('en-US')} stored/s at ${(p.cpuUs / p.stored).toFixed(1)} µs CPU each; with ${share * 100}% changes ${Math.round(m.stored / seconds).toLocaleString('en-US')} stored/s and ${Math.round(m.changed / seconds).toLocaleString('en-US')} changes/s, ${(m.cpuUs / (m.stored + m.changed)).toFixed(1)} µs CPU per operation`,
  )
}
const perMessage = median(plain.map((p) => p.cpuUs / p.stored))
const perChange = median(mixed.map((m) => (m.cpuUs - m.stored * perMessage) / Math.max(1, m.changed)))
const summary = {
  cpuUsPerMessage: perMessage,
  cpuUsPerChange: perChange,
  changeToMessage: perChange / perMessage,
  changesPerSecond: median(mixed.map((m) => m.changed / seconds)),
  storedPerSecondMixed: median(mixed.map((m) => m.stored / seconds)),
  storedPerSecondPlain: median(plain.map((p) => p.stored / seconds)),
  p99MsMixed: median(mixed.map((m) => m.p99Ms)),
  p99MsPlain: median(plain.map((p) => p.p99Ms)),
}
console.log(
  `changes: ${perChange.toFixed(1)} µs of server CPU per change against ${perMessage.toFixed(1)} µs per message (${summary.changeToMessage.toFixed(2)}x), ${Math.round(summary.changesPerSecond).toLocaleString('en-US')} changes/s in the mixed load`,
)
console.log(JSON.stringify(summary))
