import type { Socket } from 'bun'

/**
 * A webhook receiver (or forward proxy: it answers absolute-form requests the same way) that
 * misbehaves, in turn, one way per connection. Run as a process of its own, so what it does costs
 * the test's event loop nothing: `bun test/support/hostile-receiver.ts`; it prints
 * `LISTENING <port> <control port>`, and `GET /counts` on the control port answers how many
 * connections each way got and how many requests came.
 */
export const MISBEHAVIOURS = [
  'endless trailer',
  'endless header line',
  'endless 1xx heads',
  'endless chunk-size line',
  'huge chunk',
  'gigantic Content-Length body',
  'endless body without length',
  'drip-fed head',
  'garbage',
  'answer before the request',
  'close mid-head',
  'extra bytes after a valid answer',
] as const
type Misbehaviour = (typeof MISBEHAVIOURS)[number]

export interface HostileCounts {
  connections: number
  requests: number
  by: Record<Misbehaviour, number>
}

export interface HostileReceiver {
  port: number
  counts(): Promise<HostileCounts>
  stop(): Promise<void>
}

/** Starts the hostile receiver as its own process. */
export async function startHostileReceiver(): Promise<HostileReceiver> {
  const proc = Bun.spawn([process.execPath, import.meta.path], { stdout: 'pipe', stderr: 'inherit' })
  process.on('exit', () => proc.kill('SIGKILL'))
  const reader = proc.stdout.getReader()
  let text = ''
  while (!/LISTENING (\d+) (\d+)/.test(text)) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`hostile receiver exited: ${text}`)
    text += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  const [, port, control] = /LISTENING (\d+) (\d+)/.exec(text)!
  return {
    port: Number(port),
    counts: async () => (await (await fetch(`http://127.0.0.1:${control}/counts`)).json()) as HostileCounts,
    async stop() {
      proc.kill('SIGKILL')
      await proc.exited
    },
  }
}

/** What a connection is doing: its misbehaviour, the request bytes seen, and what is left to write. */
interface Conn {
  way: Misbehaviour
  head: string
  started: boolean
  closed: boolean
  /** Written again and again once the opening went out (null: nothing more). */
  fill: Buffer | null
  rest: Buffer | null
  timer?: ReturnType<typeof setInterval>
}

/** `text` repeated to about 64 KiB, so one write carries many copies. */
const repeated = (text: string) => Buffer.from(text.repeat(Math.ceil((64 * 1024) / text.length)), 'latin1')
const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'

/** What each misbehaviour writes first, then (fill) for as long as the connection lasts. */
const SCRIPTS: Record<Misbehaviour, { opening: string; fill?: Buffer; end?: true }> = {
  'endless trailer': { opening: `${CHUNKED}0\r\n`, fill: repeated('X-Trailer: never ends\r\n') },
  'endless header line': { opening: 'HTTP/1.1 200 OK\r\nX-Endless: ', fill: repeated('a') },
  'endless 1xx heads': { opening: '', fill: repeated('HTTP/1.1 100 Continue\r\n\r\n') },
  'endless chunk-size line': { opening: `${CHUNKED}1`, fill: repeated('0') },
  'huge chunk': { opening: `${CHUNKED}ffffffff\r\n`, fill: repeated('h') },
  'gigantic Content-Length body': { opening: 'HTTP/1.1 200 OK\r\nContent-Length: 999999999999999\r\n\r\n', fill: repeated('g') },
  'endless body without length': { opening: 'HTTP/1.1 500 Oops\r\n\r\n', fill: repeated('b') },
  'drip-fed head': { opening: '' },
  garbage: { opening: '' },
  'answer before the request': { opening: 'HTTP/1.1 503 Busy\r\nRetry-After: 0\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbusy', end: true },
  'close mid-head': { opening: 'HTTP/1.1 200 OK\r\nContent-Le', end: true },
  'extra bytes after a valid answer': { opening: 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n and more', fill: repeated('x') },
}

/** Listens for webhooks (and a control port for the counts); each connection gets the next misbehaviour. */
function serve() {
  const counts: HostileCounts = { connections: 0, requests: 0, by: Object.fromEntries(MISBEHAVIOURS.map((w) => [w, 0])) as Record<Misbehaviour, number> }

  /** Writes what is left, then `fill` again and again, until the socket pushes back (`drain` calls it again). */
  const pump = (socket: Socket<Conn>) => {
    const conn = socket.data
    while (!conn.closed) {
      const piece = conn.rest ?? conn.fill
      if (!piece) return
      const sent = socket.write(piece)
      conn.rest = sent < piece.length ? piece.subarray(Math.max(0, sent)) : null
      if (conn.rest) return
    }
  }

  /** Starts the connection's misbehaviour, once: most write an opening then their fill; two have their own timing or bytes. */
  const misbehave = (socket: Socket<Conn>) => {
    const conn = socket.data
    if (conn.started) return
    conn.started = true
    const script = SCRIPTS[conn.way]
    if (conn.way === 'drip-fed head') {
      // One byte every few ms: a head that would end, some day.
      const text = Buffer.from(`HTTP/1.1 200 OK\r\n${'X-Slow: 1\r\n'.repeat(100_000)}`)
      let at = 0
      conn.timer = setInterval(() => void socket.write(text.subarray(at, ++at)), 3)
      return
    }
    if (conn.way === 'garbage') conn.fill = Buffer.from(crypto.getRandomValues(new Uint8Array(64 * 1024)))
    else conn.fill = script.fill ?? null
    conn.rest = Buffer.from(script.opening, 'latin1')
    pump(socket)
    if (script.end) socket.end()
  }

  const server = Bun.listen<Conn>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(socket) {
        const way = MISBEHAVIOURS[counts.connections++ % MISBEHAVIOURS.length]!
        counts.by[way]++
        socket.data = { way, head: '', started: false, closed: false, fill: null, rest: null }
        if (way === 'answer before the request') misbehave(socket)
      },
      data(socket, data) {
        const conn = socket.data
        if (conn.started) return
        conn.head += data.toString('latin1')
        if (!conn.head.includes('\r\n\r\n')) return
        counts.requests++
        misbehave(socket)
      },
      drain: pump,
      close(socket) {
        socket.data.closed = true
        clearInterval(socket.data.timer)
      },
      error() {},
    },
  })

  const control = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json(counts) })
  console.log(`LISTENING ${server.port} ${control.port}`)
}

if (import.meta.main) serve()
