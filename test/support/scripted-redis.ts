import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { ChannelListener, RedisConnection, RedisConnector } from '../../src/realtime/redis-connection.ts'

/**
 * What happens to a published message: delivered, held back until `release`, lost after Redis took
 * it (`drop`), or lost on the way there, the publisher's call failing (`fail`: its link reset with the
 * command in flight).
 */
export type Route = 'deliver' | 'hold' | 'drop' | 'fail'

/**
 * An in-process stand-in for a Redis server's pub/sub, for tests: the test decides when messages
 * arrive, which are lost, and when Redis goes away. It behaves as Bun's client does with a real
 * server: connections reconnect by themselves after a restart, but without their subscriptions.
 */
export class ScriptedRedis {
  /** Every message published, in order. */
  readonly published: { channel: string; message: string }[] = []
  /** Decides the fate of each published message. */
  route: (channel: string, message: string) => Route = () => 'deliver'
  /** While set, connections being opened wait for it (a slow or hanging connect). */
  connectGate: Promise<void> | null = null
  /** Makes a SUBSCRIBE to a channel wait for the promise it returns (a slow subscribe). */
  subscribeGate: (channel: string) => Promise<void> | null = () => null
  /** Answers a command other than PING (the test plays Redis's part); by default it is unknown. */
  answer: (command: string, args: string[]) => unknown = (command) => {
    throw new Error(`ScriptedRedis does not know ${command}`)
  }
  private up = true
  private readonly connections = new Set<ScriptedConnection>()
  /** The server's side of subscriptions: which connections hear a channel. */
  private readonly channels = new Map<string, Set<ScriptedConnection>>()
  private held: { channel: string; message: string }[] = []

  /** Opens connections to this server. */
  readonly connector: RedisConnector = () => new ScriptedConnection(this)

  get isUp(): boolean {
    return this.up
  }

  /** Redis goes away: every connection drops and every subscription is forgotten. */
  stop(): void {
    this.up = false
    this.channels.clear()
    for (const connection of this.connections) connection.drop()
  }

  /** Redis is back: connections reconnect by themselves (as Bun's do), with no subscriptions. */
  start(): void {
    this.up = true
    for (const connection of this.connections) setTimeout(() => connection.restore(), 0)
  }

  /** Delivers held messages, in the order given by `order` (default: as published). */
  release(order: (held: { channel: string; message: string }[]) => { channel: string; message: string }[] = (h) => h): void {
    const held = this.held
    this.held = []
    for (const { channel, message } of order(held)) this.deliver(channel, message)
  }

  /** Connections currently subscribed to a channel, server side. */
  subscribers(channel: string): number {
    return this.channels.get(channel)?.size ?? 0
  }

  /** @internal */
  attach(connection: ScriptedConnection): void {
    if (!this.up) throw new Error('connection refused')
    this.connections.add(connection)
  }

  /** @internal */
  detach(connection: ScriptedConnection): void {
    this.connections.delete(connection)
    for (const subscribers of this.channels.values()) subscribers.delete(connection)
  }

  /** @internal */
  subscribe(channel: string, connection: ScriptedConnection, on: boolean): void {
    let subscribers = this.channels.get(channel)
    if (!subscribers) this.channels.set(channel, (subscribers = new Set()))
    if (on) subscribers.add(connection)
    else subscribers.delete(connection)
  }

  /** @internal */
  publish(channel: string, message: string): number {
    const fate = this.route(channel, message)
    if (fate === 'fail') throw new Error('Connection closed')
    this.published.push({ channel, message })
    if (fate === 'hold') this.held.push({ channel, message })
    else if (fate === 'deliver') this.deliver(channel, message)
    return this.subscribers(channel)
  }

  private deliver(channel: string, message: string) {
    // As over a network: later, never inside the publisher's call.
    for (const connection of this.channels.get(channel) ?? []) setTimeout(() => connection.hear(channel, message), 0)
  }
}

const REFUSED = 'Connection is closed and offline queue is disabled'

/** One client connection to a ScriptedRedis. */
class ScriptedConnection implements RedisConnection {
  onconnect: (() => void) | null = null
  connected = false
  private closed = false
  /** The client's side of subscriptions (kept, as Bun keeps them, when the server forgets). */
  private readonly listeners = new Map<string, ChannelListener[]>()

  constructor(private readonly server: ScriptedRedis) {}

  async connect(): Promise<void> {
    if (this.server.connectGate) await this.server.connectGate
    if (this.closed) throw new Error('connection closed')
    this.server.attach(this)
    this.connected = true
    this.onconnect?.()
  }

  async send(command: string, args: string[]): Promise<unknown> {
    this.check()
    if (command === 'PING') return 'PONG'
    return this.server.answer(command, args)
  }

  async publish(channel: string, message: string): Promise<number> {
    this.check()
    return this.server.publish(channel, message)
  }

  async subscribe(channel: string, listener: ChannelListener): Promise<void> {
    this.check()
    const gate = this.server.subscribeGate(channel)
    if (gate) await gate
    this.check()
    this.listeners.set(channel, [...(this.listeners.get(channel) ?? []), listener])
    this.server.subscribe(channel, this, true)
  }

  async unsubscribe(channel: string, listener: ChannelListener): Promise<void> {
    this.check()
    const left = (this.listeners.get(channel) ?? []).filter((l) => l !== listener)
    if (left.length > 0) this.listeners.set(channel, left)
    else {
      this.listeners.delete(channel)
      this.server.subscribe(channel, this, false)
    }
  }

  close(): void {
    this.closed = true
    this.connected = false
    this.server.detach(this)
  }

  /** @internal The server went away. */
  drop(): void {
    this.connected = false
  }

  /** @internal The server is back: reconnect, as Bun's client does by itself. */
  restore(): void {
    if (this.closed || this.connected || !this.server.isUp) return
    this.connected = true
    this.onconnect?.()
  }

  /** @internal */
  hear(channel: string, message: string): void {
    if (!this.connected) return
    for (const listener of this.listeners.get(channel) ?? []) listener(message)
  }

  private check() {
    if (!this.connected) throw new Error(REFUSED)
  }
}

/**
 * What a scripted proxy does with one command: `pass` it on; `refuse` it (Redis never sees it, the
 * client gets an error reply and keeps its connection); `drop` the connection with the command in
 * flight (Redis runs it, the reply is lost); `cut` the connection before it reaches Redis; `hold`
 * it, and everything its connection sends after it, until `release` (a stalled link: Redis's side
 * still reaches the client, as in a half-open connection).
 */
export type CommandFate = 'pass' | 'refuse' | 'drop' | 'cut' | 'hold'

/**
 * A Redis protocol proxy in front of a real redis-server, for tests of a server process: it reads
 * each command its clients send and lets the test decide its fate (`decide`), so that one script
 * call, and not the whole link, fails. Replies keep their order around refusals. Meant for
 * connections that do not subscribe (their pushes are passed on, but not told from replies).
 */
export class ScriptedRedisProxy {
  /** Decides each command's fate: its name and arguments as sent. */
  decide: (command: string[]) => CommandFate = () => 'pass'
  private readonly links = new Set<Socket>()
  /** The clients' side of the open connections. */
  private readonly clients = new Set<Socket>()
  /** Per open connection: hands its held commands to `decide` again, in order. */
  private readonly holders = new Set<() => void>()

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  /** Starts a proxy to the Redis on `port` (127.0.0.1). */
  static async start(port: number): Promise<ScriptedRedisProxy> {
    let proxy!: ScriptedRedisProxy
    const server = createServer((client) => proxy.link(client, port))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    proxy = new ScriptedRedisProxy(server, `redis://127.0.0.1:${(server.address() as AddressInfo).port}`)
    return proxy
  }

  close(): void {
    for (const socket of this.links) socket.destroy()
    this.server.close()
  }

  /** Decides the held commands again, in the order they were sent (those now passed go on to Redis). */
  release(): void {
    for (const resume of [...this.holders]) resume()
  }

  /** Resets every open connection, with whatever it held (both sides see it die); returns how many. */
  cut(): number {
    const clients = [...this.clients]
    for (const socket of clients) socket.resetAndDestroy()
    return clients.length
  }

  private link(client: Socket, port: number) {
    const upstream = connect(port, '127.0.0.1')
    this.links.add(client).add(upstream)
    this.clients.add(client)
    /** What each reply owed to the client is: Redis's, or an error of ours that waits its turn. */
    const owed: ('redis' | string)[] = []
    let fromClient = Buffer.alloc(0)
    let fromRedis = Buffer.alloc(0)
    /** Set once a command was dropped in flight: Redis's side stays until it has answered. */
    let dropped = false
    /** Commands held (`hold`), with all that came after them, in order. */
    let held: { raw: Buffer; command: string[] }[] = []
    const end = () => {
      client.destroy()
      upstream.destroy()
      this.links.delete(client)
      this.links.delete(upstream)
      this.clients.delete(client)
      this.holders.delete(resume)
      held = []
    }
    const flushErrors = () => {
      while (owed.length > 0 && owed[0] !== 'redis') {
        const error = owed.shift()
        if (!client.destroyed) client.write(`-ERR ${error}\r\n`)
      }
    }
    /** Gives one command its fate; false when its connection goes no further (held, cut or dropped). */
    const handle = (raw: Buffer, command: string[]): boolean => {
      const fate = this.decide(command)
      if (fate === 'hold') {
        held.push({ raw, command })
        return false
      }
      if (fate === 'cut') {
        end()
        return false
      }
      if (fate === 'refuse') {
        owed.push(`scripted refusal of ${command[0]}`)
        flushErrors()
        return true
      }
      upstream.write(raw)
      owed.push('redis')
      if (fate === 'drop') {
        // Redis has the command and runs it; the client loses its connection before the reply.
        dropped = true
        client.destroy()
        setTimeout(end, 2000)
        return false
      }
      return true
    }
    const resume = () => {
      const waiting = held
      held = []
      for (let i = 0; i < waiting.length; i++) {
        if (!handle(waiting[i]!.raw, waiting[i]!.command)) {
          // Held again (or the connection went): the rest waits behind it.
          if (!dropped && !client.destroyed) held = [...held, ...waiting.slice(i + 1)]
          return
        }
      }
    }
    this.holders.add(resume)
    client.on('data', (chunk: Buffer) => {
      fromClient = Buffer.concat([fromClient, chunk])
      for (;;) {
        const parsed = readCommand(fromClient)
        if (!parsed) return
        const raw = fromClient.subarray(0, parsed.end)
        fromClient = fromClient.subarray(parsed.end)
        if (held.length > 0) {
          held.push({ raw, command: parsed.command })
          continue
        }
        if (!handle(raw, parsed.command) && held.length === 0) return
      }
    })
    upstream.on('data', (chunk: Buffer) => {
      fromRedis = Buffer.concat([fromRedis, chunk])
      for (;;) {
        const reply = readReply(fromRedis, 0)
        if (reply === null) return
        const bytes = fromRedis.subarray(0, reply.end)
        fromRedis = fromRedis.subarray(reply.end)
        if (!client.destroyed) client.write(bytes)
        if (!reply.push && owed[0] === 'redis') owed.shift()
        if (dropped && owed.length === 0) return end()
        flushErrors()
      }
    })
    for (const event of ['close', 'error']) {
      client.on(event, () => dropped || end())
      upstream.on(event, end)
    }
  }
}

/** One command (an array of bulk strings) at the start of `buf`, and where it ends; null while incomplete. */
function readCommand(buf: Buffer): { command: string[]; end: number } | null {
  const head = readLine(buf, 0)
  if (!head) return null
  if (buf[0] !== 0x2a) {
    // An inline command: words on one line.
    return { command: head.line.split(' ').filter(Boolean), end: head.next }
  }
  const command: string[] = []
  let at = head.next
  for (let i = 0; i < Number(head.line.slice(1)); i++) {
    const size = readLine(buf, at)
    if (!size) return null
    const length = Number(size.line.slice(1))
    if (buf.length < size.next + length + 2) return null
    command.push(buf.toString('utf8', size.next, size.next + length))
    at = size.next + length + 2
  }
  return { command, end: at }
}

/** Where one reply (RESP2 or RESP3) starting at `at` ends, and whether it is a push; null while incomplete. */
function readReply(buf: Buffer, at: number): { end: number; push: boolean } | null {
  const head = readLine(buf, at)
  if (!head) return null
  const type = String.fromCharCode(buf[at]!)
  const count = Number(head.line.slice(1))
  if ('$!='.includes(type)) {
    if (count < 0) return { end: head.next, push: false }
    return buf.length < head.next + count + 2 ? null : { end: head.next + count + 2, push: false }
  }
  if ('*~>%|'.includes(type)) {
    let end = head.next
    const items = count < 0 ? 0 : type === '%' || type === '|' ? count * 2 : count
    for (let i = 0; i < items; i++) {
      const item = readReply(buf, end)
      if (!item) return null
      end = item.end
    }
    // An attribute comes before the reply it describes.
    if (type === '|') {
      const described = readReply(buf, end)
      return described && { end: described.end, push: described.push }
    }
    return { end, push: type === '>' }
  }
  return { end: head.next, push: false }
}

function readLine(buf: Buffer, at: number): { line: string; next: number } | null {
  const cr = buf.indexOf('\r\n', at)
  return cr === -1 ? null : { line: buf.toString('utf8', at, cr), next: cr + 2 }
}
