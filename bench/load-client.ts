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
    text: { type: 'string', default: 'plain' },
  },
})
if (!values.url || (!values.rooms && values.mode !== 'inbox')) throw new Error('--url and --rooms are required')
const rooms = (values.rooms ?? '').split(',').map(Number)
const urls = values.url.split(',')
const clientCount = Number(values.clients)
const seconds = Number(values.seconds)

/**
 * `--text market`: each message carries a line of Korean marketplace chat after its "m <client>
 * <seq>" (prices, dates, times, places, models; one in twenty shares a phone number), so the
 * contact guard and word filters work as they would on real chat.
 */
const MARKET_LINES = [
  '아이폰 15 프로 256GB 95만원에 팝니다',
  '내일 오후 3시 30분 강남역 11번 출구 어때요',
  '택배비 포함 15,000원이면 바로 살게요',
  '2023년식이고 배터리 성능 92%예요',
  '12월 24일 토요일 저녁 7시 반 가능해요',
  '갤럭시 S24 울트라 SM-S928N 자급제입니다',
  '270mm 나이키 한 번 신었어요',
  '서울시 마포구 월드컵로 123 앞에서 봬요',
  '3만 5천원까지 네고 가능할까요',
  '네 좋아요 감사합니다 😊',
  '맥북 에어 M2 13인치 실버 89만원',
  '2호선 홍대입구역 9번 출구 15:30',
  '주문번호 20261206-0042 확인했어요',
  '직거래만 해요 택배는 안 돼요',
  '사진 더 보내드릴게요',
  '박스 풀구성이고 영수증 있어요',
  'RTX 4070 그래픽카드 2개 일괄 120만',
  '오늘 10:10 전에 연락 주세요',
  '두 개 사면 1만원 빼 드릴게요',
  '문자 주세요 010-1234-5678',
]
const market = values.text === 'market'
/**
 * A message's client and seq as the text carries them: digits, or in market mode letters (base 23,
 * without o, l and i, which the guard reads as digits beside digits), since real chat carries no
 * counter that could look like part of a number.
 */
const ID_LETTERS = 'abcdefghjkmnpqrstuvwxyz'
const encodeId = (n: number): string => {
  if (!market) return String(n)
  let out = ''
  do {
    out = ID_LETTERS[n % 23] + out
    n = Math.floor(n / 23)
  } while (n > 0)
  return out
}
const decodeId = (s: string): number => (market ? [...s].reduce((n, ch) => n * 23 + ID_LETTERS.indexOf(ch), 0) : Number(s))
const text = (client: number, seq: number) => (market ? `m ${encodeId(client)} ${encodeId(seq)} ${MARKET_LINES[seq % MARKET_LINES.length]}` : `m ${client} ${seq}`)

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
  /** Every message delivered, the warm-up included: what the server's CPU over the whole run is divided by. */
  let deliveredAll = 0
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
    sockets[client]!.send(`{"type":"chat.message","message":"${text(client, seq)}"}`)
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
        deliveredAll++
        if (measuring) delivered++
        // "m <client> <seq>": only the sender of a message reacts to it.
        const start = MESSAGE_PREFIX.length + 2
        const space = data.indexOf(' ', start)
        if (decodeId(data.slice(start, space)) !== c) return
        const end = data.indexOf('"', space)
        const after = data.indexOf(' ', space + 1)
        const seq = decodeId(data.slice(space + 1, after !== -1 && after < end ? after : end))
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
  return { sockets: total, deliveredPerSecond: delivered / elapsed, sentPerSecond: echoed / elapsed, changesPerSecond: changed / elapsed, p50Ms, p99Ms, deliveredAll, close: sockets }
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
