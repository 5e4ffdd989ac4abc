/**
 * What user streams (`WS /ws/chat/inbox/`) cost the compiled server. Prints a table and one JSON line.
 *
 * 1. Sending with streams on: private rooms (rooms x members) under the fan-out load, with every
 *    member's user stream open against none, in alternating rounds on one server: messages stored
 *    and delivered per second, and the ratio (target: at least 0.9).
 * 2. A crowded open room: `--participants` users who took part, each with a user stream open, and
 *    one sender at full speed; with the participant cap (INBOX_ROOM_PARTICIPANTS, 500) against the
 *    cap lifted: inbox frames per message, and messages stored per second.
 *
 *   bun bench/user-streams.ts --binary <chat-server> [--seconds 3] [--rounds 3] [--rooms 20] [--members 10] [--participants 2000]
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { cpuPerMessage, runFanout, SERVICE_SECRET, startHolder, startServer, type Server } from './servers.ts'

const { values } = parseArgs({
  options: {
    binary: { type: 'string' },
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '3' },
    rooms: { type: 'string', default: '20' },
    members: { type: 'string', default: '10' },
    participants: { type: 'string', default: '2000' },
  },
})
if (!values.binary) throw new Error('--binary (the compiled chat server) is required')
const binary = values.binary
const [seconds, rounds, roomCount, memberCount, participants] = [values.seconds, values.rounds, values.rooms, values.members, values.participants].map(Number) as [number, number, number, number, number]
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const fanout = (server: Server, rooms: number[], clients: number) => runFanout(`ws://127.0.0.1:${server.port}`, rooms, { clients, window: 4, seconds, warmup: 0.5 })

/** Private rooms whose members are the fan-out load's users (`load-<room>-<client>`); their ids and the users. */
async function privateRooms(server: Server): Promise<{ rooms: number[]; users: string[] }> {
  const url = `http://127.0.0.1:${server.port}/chat/v1`
  const headers = { 'content-type': 'application/json', 'x-service-secret': SERVICE_SECRET }
  const rooms: number[] = []
  const users: string[] = []
  for (let i = 0; i < roomCount; i++) {
    const ids = Array.from({ length: memberCount }, (_, c) => `${i * memberCount + c}`)
    const res = await fetch(`${url}/create-room/`, { method: 'POST', headers, body: JSON.stringify({ name: `streams ${i}`, kind: 'private', owner: 'bench-owner' }) })
    const id = ((await res.json()) as { id: number }).id
    for (const c of ids) {
      const added = await fetch(`${url}/room/${id}/members/`, { method: 'POST', headers, body: JSON.stringify({ user_id: `load-${id}-${c}` }) })
      if (added.status !== 201) throw new Error(`adding a member answered ${added.status}`)
      users.push(`load-${id}-${c}`)
    }
    rooms.push(id)
  }
  return { rooms, users }
}

/** 1: the fan-out load with every member's stream open, against none, in turns. */
async function sendingWithStreams(work: string) {
  const server = await startServer(binary, work)
  try {
    const { rooms, users } = await privateRooms(server)
    const off: { stored: number; delivered: number; cpu: number }[] = []
    const on: { stored: number; delivered: number; cpu: number; inboxFrames: number }[] = []
    for (let round = 0; round < rounds; round++) {
      const plain = await cpuPerMessage(server, () => fanout(server, rooms, memberCount))
      off.push({ stored: plain.result.sentPerSecond!, delivered: plain.result.deliveredPerSecond!, cpu: plain.cpuUsPerMessage })
      const streams = await startHolder(['--mode', 'inbox', '--url', `ws://127.0.0.1:${server.port}`, '--users', users.join(',')])
      const watched = await cpuPerMessage(server, () => fanout(server, rooms, memberCount))
      const heard = await streams.finish()
      on.push({ stored: watched.result.sentPerSecond!, delivered: watched.result.deliveredPerSecond!, cpu: watched.cpuUsPerMessage, inboxFrames: heard.messages! })
    }
    const storedOff = median(off.map((r) => r.stored))
    const storedOn = median(on.map((r) => r.stored))
    const [cpuOff, cpuOn] = [median(off.map((r) => r.cpu)), median(on.map((r) => r.cpu))]
    return {
      streams: users.length,
      storedOff,
      storedOn,
      storedRatio: storedOn / storedOff,
      cpuUsOff: cpuOff,
      cpuUsOn: cpuOn,
      cpuRatio: cpuOn / cpuOff,
      deliveredOff: median(off.map((r) => r.delivered)),
      deliveredOn: median(on.map((r) => r.delivered)),
      inboxFramesPerRound: median(on.map((r) => r.inboxFrames)),
    }
  } finally {
    await server.stop()
  }
}

/** 2: one sender in an open room whose `participants` users all have streams open, with a given cap. */
async function crowdedRoom(work: string, cap: number) {
  const server = await startServer(binary, work, { INBOX_ROOM_PARTICIPANTS: String(cap), MAX_SOCKETS_PER_ROOM: '1000000' })
  try {
    const base = `http://127.0.0.1:${server.port}/chat/v1`
    const room = ((await (await fetch(`${base}/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"crowd"}' })).json()) as { id: number }).id
    // Each participant takes part by setting a read marker.
    for (let start = 0; start < participants; start += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, participants - start) }, async (_, k) => {
          const user = `crowd-${start + k}`
          const res = await fetch(`${base}/room/${room}/read/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-user-id': user, 'x-nickname': user, 'x-email': `${user}@bench.local` },
            body: '{"last_read_id":0}',
          })
          if (res.status !== 200) throw new Error(`a marker answered ${res.status}`)
        }),
      )
    }
    const streams = await startHolder(['--mode', 'inbox', '--url', `ws://127.0.0.1:${server.port}`, '--user-prefix', 'crowd-', '--clients', String(participants)])
    const sent = await fanout(server, [room], 1)
    await Bun.sleep(500)
    const heard = await streams.finish()
    const messages = sent.sentPerSecond! * (seconds + 0.5)
    return { storedPerSecond: sent.sentPerSecond!, inboxFramesPerMessage: heard.messages! / messages }
  } finally {
    await server.stop()
  }
}

const dirs: string[] = []
const work = () => {
  const dir = mkdtempSync(join(tmpdir(), 'chat-streams-'))
  dirs.push(dir)
  return dir
}
try {
  const sending = await sendingWithStreams(work())
  const capped = await crowdedRoom(work(), 500)
  const uncapped = await crowdedRoom(work(), 1_000_000)
  const fmt = (n: number) => (n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(2))
  console.log(
    [
      `user streams: ${roomCount} private rooms x ${memberCount} members under fan-out, medians of ${rounds} alternating rounds of ${seconds} s`,
      '| figure | streams off | streams on (one per member) | ratio |',
      '| --- | ---: | ---: | ---: |',
      `| messages stored/s | ${fmt(sending.storedOff)} | ${fmt(sending.storedOn)} | ${sending.storedRatio.toFixed(3)} |`,
      `| server CPU µs per message stored | ${fmt(sending.cpuUsOff)} | ${fmt(sending.cpuUsOn)} | ${sending.cpuRatio.toFixed(3)} |`,
      `| messages delivered/s (room sockets) | ${fmt(sending.deliveredOff)} | ${fmt(sending.deliveredOn)} | ${(sending.deliveredOn / sending.deliveredOff).toFixed(3)} |`,
      '',
      `crowded open room: ${participants} participants with streams open, one sender, ${seconds} s`,
      '| figure | cap 500 | cap lifted | ratio |',
      '| --- | ---: | ---: | ---: |',
      `| messages stored/s | ${fmt(capped.storedPerSecond)} | ${fmt(uncapped.storedPerSecond)} | ${(capped.storedPerSecond / uncapped.storedPerSecond).toFixed(2)} |`,
      `| inbox frames per message | ${fmt(capped.inboxFramesPerMessage)} | ${fmt(uncapped.inboxFramesPerMessage)} | |`,
    ].join('\n'),
  )
  console.log(
    JSON.stringify({
      ...sending,
      crowdStoredCapped: capped.storedPerSecond,
      crowdStoredUncapped: uncapped.storedPerSecond,
      crowdFramesCapped: capped.inboxFramesPerMessage,
      crowdFramesUncapped: uncapped.inboxFramesPerMessage,
    }),
  )
} finally {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
}
