/**
 * Fan-out load: `rooms` x `clients` sockets; each client keeps `window` of its own messages
 * in flight (it sends the next when its echo arrives). Counts every chat.message delivered to
 * any client and the echo latency of each sent message. Prints one JSON line.
 *
 *   bun bench/load-client.ts --url ws://127.0.0.1:8000 --rooms 1,2 --clients 10 --seconds 10 --window 4
 */
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    url: { type: 'string' },
    rooms: { type: 'string' },
    clients: { type: 'string', default: '10' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    window: { type: 'string', default: '4' },
  },
})
if (!values.url || !values.rooms) throw new Error('--url and --rooms are required')
const rooms = values.rooms.split(',').map(Number)
const perRoom = Number(values.clients)
const window = Number(values.window)
const seconds = Number(values.seconds)
const warmup = Number(values.warmup)

let measuring = false
let delivered = 0
let echoed = 0
const latencies: number[] = []

interface Client {
  ws: WebSocket
  userId: string
  sentAt: Map<string, number>
  seq: number
}

function sendNext(client: Client) {
  const tag = `${client.userId}:${client.seq++}`
  client.sentAt.set(tag, performance.now())
  client.ws.send(JSON.stringify({ type: 'chat.message', message: `load ${tag}` }))
}

async function connect(room: number, index: number): Promise<Client> {
  const userId = `load-${room}-${index}`
  const query = new URLSearchParams({ user_id: userId, nickname: `L${index}`, email: `${userId}@bench.local` })
  const ws = new WebSocket(`${values.url}/ws/chat/${room}/chat/?${query}`)
  const client: Client = { ws, userId, sentAt: new Map(), seq: 0 }
  ws.addEventListener('message', (event) => {
    const data = String(event.data)
    if (!data.startsWith('{"type":"chat.message"')) return
    if (measuring) delivered++
    const frame = JSON.parse(data) as { user_id: string; message: string }
    if (frame.user_id !== userId) return
    const tag = frame.message.slice(5)
    const sentAt = client.sentAt.get(tag)
    if (sentAt === undefined) return
    client.sentAt.delete(tag)
    if (measuring) {
      echoed++
      latencies.push(performance.now() - sentAt)
    }
    if (running) sendNext(client)
  })
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener('open', () => resolve(), { once: true })
    ws.addEventListener('error', () => reject(new Error(`connect failed for room ${room}`)), { once: true })
  })
  return client
}

let running = true
const clients: Client[] = []
for (const room of rooms) for (let i = 0; i < perRoom; i++) clients.push(await connect(room, i))
for (const client of clients) for (let i = 0; i < window; i++) sendNext(client)
await Bun.sleep(warmup * 1000)
measuring = true
const started = performance.now()
await Bun.sleep(seconds * 1000)
measuring = false
const elapsed = (performance.now() - started) / 1000
running = false
latencies.sort((a, b) => a - b)
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0
console.log(
  JSON.stringify({
    sockets: clients.length,
    deliveredPerSecond: delivered / elapsed,
    sentPerSecond: echoed / elapsed,
    p50Ms: pct(0.5),
    p99Ms: pct(0.99),
  }),
)
for (const client of clients) client.ws.close()
process.exit(0)
