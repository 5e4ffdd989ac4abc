/**
 * The load client, one process, the same for both servers. Prints one JSON line of results.
 *
 *   fanout:  --rooms 1,2,… --clients N --window W --seconds S [--changes F]
 *            each client keeps W of its own messages in flight (sends the next when its echo
 *            arrives); counts every chat.message delivered and each echo's latency. With
 *            --changes F (0–1), that share of operations are changes of the client's newest
 *            message instead, edits and reactions (👍 added, then taken back) in turn, each
 *            answered by its chat.message.updated or chat.reaction.
 *   bigroom: --rooms 1 --clients N --rate R --seconds S
 *            R messages a second in total, from 10 senders; latency from send to every receipt.
 *   idle:    --rooms 1,2,… --clients N (sockets spread over the rooms)
 *            connects them, prints {"ready":true}, then waits for a line on stdin and exits.
 *   inbox:   --users a,b,… or --user-prefix P --clients N (users P0 … P<N-1>)
 *            opens each user's stream (WS /ws/chat/inbox/), prints {"ready":true} once all are
 *            live, counts inbox.message frames until a line arrives on stdin.
 *
 * --url may list several servers (comma-separated): clients are spread over them in turn.
 */
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'fanout' },
    url: { type: 'string' },
    rooms: { type: 'string' },
    clients: { type: 'string', default: '10' },
    window: { type: 'string', default: '4' },
    rate: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    users: { type: 'string' },
    'user-prefix': { type: 'string' },
    changes: { type: 'string', default: '0' },
  },
})
if (!values.url || (!values.rooms && values.mode !== 'inbox')) throw new Error('--url and --rooms are required')
const rooms = (values.rooms ?? '').split(',').map(Number)
const urls = values.url.split(',')
const clientCount = Number(values.clients)
const seconds = Number(values.seconds)

// Frames of both servers start with the seed's fields: {"type":"chat.message","message":"…
const MESSAGE_PREFIX = '{"type":"chat.message","message":"'

function percentiles(samples: Float64Array | number[]) {
  const sorted = Float64Array.from(samples).sort()
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: sorted.at(-1) ?? 0, samples: sorted.length }
}

function connect(room: number, index: number, onMessage?: (data: string) => void): Promise<WebSocket> {
  const userId = `load-${room}-${index}`
  const query = new URLSearchParams({ user_id: userId, nickname: `L${index}`, email: `${userId}@bench.local` })
  const ws = new WebSocket(`${urls[index % urls.length]}/ws/chat/${room}/chat/?${query}`)
  if (onMessage) ws.addEventListener('message', (event) => onMessage(event.data as string))
  return new Promise((resolve, reject) => {
    ws.addEventListener('open', () => resolve(ws), { once: true })
    ws.addEventListener('error', () => reject(new Error(`connect failed for room ${room}`)), { once: true })
  })
}

/** Connects `total` sockets, `parallel` handshakes at a time. */
async function connectMany(total: number, make: (i: number) => Promise<WebSocket>, parallel = 100): Promise<WebSocket[]> {
  const sockets: WebSocket[] = []
  for (let start = 0; start < total; start += parallel) {
    const batch = await Promise.all(Array.from({ length: Math.min(parallel, total - start) }, (_, k) => make(start + k)))
    sockets.push(...batch)
  }
  return sockets
}

async function fanout() {
  const window = Number(values.window)
  let measuring = false
  let running = true
  let delivered = 0
  let echoed = 0
  const latencies: number[] = []
  const sentAt: Float64Array[] = []
  const sockets: WebSocket[] = []
  const changeShare = Number(values.changes)
  let changed = 0
  /** Each client's newest message, and how many changes it made of it (even: edit next, odd: react). */
  const newest = new Float64Array(rooms.length * clientCount)
  const changesMade = new Int32Array(rooms.length * clientCount)
  const sendNext = (client: number, seq: number) => {
    if (changeShare > 0 && newest[client]! > 0 && Math.random() < changeShare) {
      const id = newest[client]!
      const n = changesMade[client]!++
      const react = n % 2 === 1
      const add = n % 4 === 1
      return sockets[client]!.send(react ? `{"type":"chat.react","id":${id},"emoji":"👍","add":${add}}` : `{"type":"chat.edit","id":${id},"message":"e ${client} ${seq}"}`)
    }
    sentAt[client]![seq % 64] = performance.now()
    sockets[client]!.send(`{"type":"chat.message","message":"m ${client} ${seq}"}`)
  }
  const perRoom = clientCount
  const total = rooms.length * perRoom
  for (let c = 0; c < total; c++) sentAt.push(new Float64Array(64))
  const nextSeq = new Int32Array(total)
  /** A change's answer (the client's edit or reaction, as the room hears it): the client goes on. */
  const changeAnswered = (c: number, data: string) => {
    if (!data.startsWith('{"type":"chat.message.updated"') && !data.startsWith('{"type":"chat.reaction"')) return
    const frame = JSON.parse(data) as { user_id?: string; message?: { user_id: string } }
    if ((frame.user_id ?? frame.message?.user_id) !== `load-${rooms[Math.floor(c / perRoom)]}-${c}`) return
    if (measuring) changed++
    if (running) sendNext(c, nextSeq[c]!++)
  }
  sockets.push(
    ...(await connectMany(total, (c) =>
      connect(rooms[Math.floor(c / perRoom)]!, c, (data) => {
        if (!data.startsWith(MESSAGE_PREFIX)) return changeShare > 0 ? changeAnswered(c, data) : undefined
        if (measuring) delivered++
        // "m <client> <seq>": only the sender of a message reacts to it.
        const start = MESSAGE_PREFIX.length + 2
        const space = data.indexOf(' ', start)
        if (Number(data.slice(start, space)) !== c) return
        const seq = Number(data.slice(space + 1, data.indexOf('"', space)))
        if (changeShare > 0) {
          // A new newest message starts its changes afresh (no 👍 on it yet to take back).
          newest[c] = Number(/"id":(\d+)/.exec(data)?.[1] ?? 0)
          changesMade[c] = 0
        }
        if (measuring) {
          echoed++
          latencies.push(performance.now() - sentAt[c]![seq % 64]!)
        }
        if (running) sendNext(c, nextSeq[c]!++)
      }),
    )),
  )
  for (let c = 0; c < total; c++) for (let i = 0; i < window; i++) sendNext(c, nextSeq[c]!++)
  await Bun.sleep(Number(values.warmup) * 1000)
  measuring = true
  const started = performance.now()
  await Bun.sleep(seconds * 1000)
  measuring = false
  const elapsed = (performance.now() - started) / 1000
  running = false
  const { p50Ms, p99Ms } = percentiles(latencies)
  return { sockets: total, deliveredPerSecond: delivered / elapsed, sentPerSecond: echoed / elapsed, changesPerSecond: changed / elapsed, p50Ms, p99Ms, close: sockets }
}

async function bigroom() {
  const rate = Number(values.rate)
  const room = rooms[0]!
  let measuring = false
  const latencies: number[] = []
  const onMessage = (data: string) => {
    if (!measuring || !data.startsWith(MESSAGE_PREFIX)) return
    // "t <send time>"
    const start = MESSAGE_PREFIX.length + 2
    latencies.push(performance.now() - Number(data.slice(start, data.indexOf('"', start))))
  }
  const sockets = await connectMany(clientCount, (i) => connect(room, i, onMessage))
  const senders = sockets.slice(0, 10)
  let sent = 0
  const tick = 10 // ms
  const perTick = (rate * tick) / 1000
  let owed = 0
  const timer = setInterval(() => {
    owed += perTick
    while (owed >= 1) {
      owed--
      senders[sent++ % senders.length]!.send(`{"type":"chat.message","message":"t ${performance.now()}"}`)
    }
  }, tick)
  await Bun.sleep(Number(values.warmup) * 1000)
  measuring = true
  const sentBefore = sent
  await Bun.sleep(seconds * 1000)
  measuring = false
  clearInterval(timer)
  const offered = (sent - sentBefore) / seconds
  await Bun.sleep(500)
  return { sockets: sockets.length, offeredPerSecond: offered, deliveriesPerSecond: latencies.length / seconds, ...percentiles(latencies), close: sockets }
}

async function idle() {
  const sockets = await connectMany(clientCount, (i) => connect(rooms[i % rooms.length]!, i), 200)
  console.log(JSON.stringify({ ready: true, sockets: sockets.length }))
  for await (const _ of console) break
  return { sockets: sockets.length, close: sockets }
}

async function inbox() {
  const users = values.users ? values.users.split(',') : Array.from({ length: clientCount }, (_, i) => `${values['user-prefix'] ?? 'inbox-'}${i}`)
  let messages = 0
  const sockets = await connectMany(users.length, (i) => {
    const query = new URLSearchParams({ user_id: users[i]!, nickname: `I${i}`, email: `inbox${i}@bench.local` })
    const ws = new WebSocket(`${urls[i % urls.length]}/ws/chat/inbox/?${query}`)
    return new Promise((resolve, reject) => {
      ws.addEventListener('message', (event) => {
        const data = event.data as string
        if (data.startsWith('{"type":"inbox.message"')) messages++
        else if (data.startsWith('{"type":"inbox.ready"')) resolve(ws)
      })
      ws.addEventListener('error', () => reject(new Error(`inbox stream failed for ${users[i]}`)), { once: true })
    })
  })
  console.log(JSON.stringify({ ready: true, streams: sockets.length }))
  for await (const _ of console) break
  return { streams: sockets.length, messages, close: sockets }
}

const run = { fanout, bigroom, idle, inbox }[values.mode as 'fanout' | 'bigroom' | 'idle' | 'inbox']
if (!run) throw new Error(`unknown --mode ${values.mode}`)
const { close, ...result } = await run()
console.log(JSON.stringify(result))
for (const ws of close) ws.close()
process.exit(0)
