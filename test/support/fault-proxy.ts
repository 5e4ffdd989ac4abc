import { createServer, connect, type Server, type Socket } from 'node:net'

/** Which way a stall stops bytes: `up` client → upstream, `down` upstream → client, or both. */
export type Direction = 'up' | 'down' | 'both'

/** What the proxy does to traffic right now. */
export interface ProxyState {
  /** Latency added to every chunk, both ways. */
  delayMs: number
  /** New connections are accepted and dropped at once (the peer sees a reset). */
  dropNew: boolean
  /** Bytes stop flowing this way on every connection, open or new (a half-open peer). */
  stalled: Direction | null
}

/** One direction of one proxied connection: chunks wait here for their delay or for a stall to end. */
class Flow {
  private readonly queue: { due: number; chunk: Buffer }[] = []
  private timer: ReturnType<typeof setTimeout> | null = null
  private ended = false

  constructor(
    private readonly from: Socket,
    private readonly to: Socket,
    private readonly state: () => { delayMs: number; stalled: boolean },
  ) {
    from.on('data', (chunk: Buffer) => {
      this.queue.push({ due: Date.now() + this.state().delayMs, chunk })
      this.pump()
    })
    from.on('end', () => {
      this.ended = true
      this.pump()
    })
  }

  /** Forwards what is due, unless stalled; a stalled source is not read either (backpressure, as a real stall). */
  pump(): void {
    if (this.timer) return
    if (this.state().stalled) {
      this.from.pause()
      return
    }
    this.from.resume()
    const now = Date.now()
    while (this.queue.length > 0 && this.queue[0]!.due <= now) {
      if (this.to.destroyed) return
      this.to.write(this.queue.shift()!.chunk)
    }
    if (this.queue.length > 0) {
      this.timer = setTimeout(() => {
        this.timer = null
        this.pump()
      }, this.queue[0]!.due - now)
      return
    }
    if (this.ended && !this.to.destroyed) this.to.end()
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
  }
}

interface Link {
  client: Socket
  upstream: Socket
  up: Flow
  down: Flow
}

/**
 * A TCP forwarder in front of one upstream (Postgres, Redis) for one client process, which can be
 * told to add latency, drop new connections, cut every open one, or go half-open (accept, then stop
 * forwarding one way or both). Used by the chaos run to fault one instance's path to a backend.
 */
export class FaultProxy {
  readonly state: ProxyState = { delayMs: 0, dropNew: false, stalled: null }
  private readonly links = new Set<Link>()
  /** Connections accepted, dropped on arrival, and cut by `cut`. */
  readonly stats = { accepted: 0, dropped: 0, cut: 0 }

  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly upstreamPort: number,
    readonly name: string,
  ) {}

  /** Listens on a free port of 127.0.0.1 and forwards to 127.0.0.1:`upstreamPort`. */
  static async start(upstreamPort: number, name: string): Promise<FaultProxy> {
    let proxy: FaultProxy | undefined
    const server = createServer({ pauseOnConnect: true }, (client) => proxy!.accept(client))
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
    const address = server.address()
    if (address === null || typeof address === 'string') throw new Error('fault proxy has no port')
    proxy = new FaultProxy(server, address.port, upstreamPort, name)
    return proxy
  }

  /** The local ports of the open upstream connections (how the upstream sees this proxy's clients). */
  upstreamPorts(): number[] {
    return [...this.links].map((l) => l.upstream.localPort).filter((p): p is number => p !== undefined)
  }

  /** Open proxied connections. */
  get open(): number {
    return this.links.size
  }

  private accept(client: Socket) {
    if (this.state.dropNew) {
      this.stats.dropped++
      client.resetAndDestroy()
      return
    }
    this.stats.accepted++
    const upstream = connect(this.upstreamPort, '127.0.0.1')
    upstream.pause()
    const stalled = (way: 'up' | 'down') => this.state.stalled === way || this.state.stalled === 'both'
    const link: Link = {
      client,
      upstream,
      up: new Flow(client, upstream, () => ({ delayMs: this.state.delayMs, stalled: stalled('up') })),
      down: new Flow(upstream, client, () => ({ delayMs: this.state.delayMs, stalled: stalled('down') })),
    }
    this.links.add(link)
    const close = () => {
      if (!this.links.delete(link)) return
      link.up.stop()
      link.down.stop()
      client.destroy()
      upstream.destroy()
    }
    for (const socket of [client, upstream]) {
      socket.on('error', close)
      socket.on('close', close)
    }
    upstream.once('connect', () => {
      link.up.pump()
      link.down.pump()
    })
  }

  /** Adds `ms` of latency to every chunk from now on (0 removes it). */
  delay(ms: number): void {
    this.state.delayMs = ms
  }

  /** Drops (resets) every new connection while on. */
  dropNewConnections(on: boolean): void {
    this.state.dropNew = on
  }

  /** Stops forwarding one way or both on every connection, open or new; `null` lets bytes flow again. */
  stall(direction: Direction | null): void {
    this.state.stalled = direction
    for (const link of this.links) {
      link.up.pump()
      link.down.pump()
    }
  }

  /** Resets every open connection (both peers see the connection die). */
  cut(): number {
    const links = [...this.links]
    for (const link of links) {
      link.client.resetAndDestroy()
      link.upstream.resetAndDestroy()
    }
    this.stats.cut += links.length
    return links.length
  }

  /** Back to plain forwarding. */
  heal(): void {
    this.delay(0)
    this.dropNewConnections(false)
    this.stall(null)
  }

  async close(): Promise<void> {
    this.cut()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
