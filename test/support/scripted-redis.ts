import type { ChannelListener, RedisConnection, RedisConnector } from '../../src/realtime/redis-connection.ts'

/** What happens to a published message: delivered, held back until `release`, or lost. */
export type Route = 'deliver' | 'hold' | 'drop'

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
    this.published.push({ channel, message })
    const fate = this.route(channel, message)
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

  async send(command: string): Promise<unknown> {
    this.check()
    if (command === 'PING') return 'PONG'
    throw new Error(`ScriptedRedis does not know ${command}`)
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
