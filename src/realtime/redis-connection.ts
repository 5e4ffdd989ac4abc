import { RedisClient } from 'bun'

/** Called with each message published on a subscribed channel. */
export type ChannelListener = (message: string) => void

/**
 * One connection to Redis, as much of it as the broker and presence use. In production it is Bun's
 * `RedisClient`; tests use a scripted one (test/support/scripted-redis.ts) that decides when messages arrive and
 * when Redis goes away.
 *
 * Like Bun's client, a connection reconnects by itself after Redis goes away and comes back, but
 * without its subscriptions: whoever subscribed must notice (the broker probes) and subscribe again
 * on a fresh connection.
 */
export interface RedisConnection {
  /** True while commands can be sent; while false they are refused at once, never queued. */
  readonly connected: boolean
  connect(): Promise<void>
  send(command: string, args: string[]): Promise<unknown>
  publish(channel: string, message: string): Promise<unknown>
  subscribe(channel: string, listener: ChannelListener): Promise<void>
  /** Removes that listener (the same function that subscribed) from the channel. */
  unsubscribe(channel: string, listener: ChannelListener): Promise<void>
  /** Called each time the connection is established: the first time and after every reconnect. */
  onconnect: (() => void) | null
  close(): void
}

/**
 * Whether an error says Redis cannot be reached or cannot answer for now (Bun's connection codes,
 * and the replies of a Redis loading its data, out of memory or without a primary): the request
 * may succeed shortly, so it is a 503, not a defect.
 */
export function isRedisOutage(error: unknown): boolean {
  if (!(error instanceof Error) || error.name !== 'RedisError') return false
  const { code } = error as { code?: unknown }
  return (typeof code === 'string' && code.startsWith('ERR_REDIS_CONNECTION')) || /^(LOADING|OOM|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY)\b/.test(error.message)
}

/** Makes a new connection, not yet connected. */
export type RedisConnector = () => RedisConnection

// No offline queue: while Redis is away a command fails at once instead of running later with stale
// arguments. Bun retries with backoff (capped at 2 s) up to maxRetries, so practically for ever.
const CLIENT_OPTIONS = { enableOfflineQueue: false, maxRetries: 1_000_000_000, connectionTimeout: 5000 }
const RECONNECT_MS = 1000

/** A connection over Bun's RedisClient. */
class BunRedisConnection implements RedisConnection {
  onconnect: (() => void) | null = null
  private readonly client: RedisClient
  private closed = false

  constructor(url: string) {
    this.client = new RedisClient(url, CLIENT_OPTIONS)
    this.client.onconnect = () => this.onconnect?.()
    // Bun runs onclose only when it gives up (or on close()); should it ever give up, keep trying.
    this.client.onclose = () => this.retry()
  }

  get connected() {
    return this.client.connected
  }

  connect() {
    return this.client.connect()
  }

  send(command: string, args: string[]) {
    return this.client.send(command, args)
  }

  publish(channel: string, message: string) {
    return this.client.publish(channel, message)
  }

  async subscribe(channel: string, listener: ChannelListener) {
    await this.client.subscribe(channel, listener)
  }

  unsubscribe(channel: string, listener: ChannelListener) {
    return this.client.unsubscribe(channel, listener)
  }

  close() {
    this.closed = true
    this.client.close()
  }

  private retry() {
    if (this.closed) return
    setTimeout(() => {
      if (this.closed || this.client.connected) return
      this.client.connect().catch(() => this.retry())
    }, RECONNECT_MS)
  }
}

/** Connections to the Redis at `url`. */
export const redisConnector =
  (url: string): RedisConnector =>
  () =>
    new BunRedisConnection(url)

/** Runs a Lua script with its keys (all of one hash slot, for Redis Cluster) and arguments. */
export function runScript(redis: RedisConnection, script: string, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
  // EVAL rather than EVALSHA: after a Redis restart EVALSHA fails with NOSCRIPT, and sending the
  // script again afterwards would let later commands overtake it. Redis caches the compiled script.
  return redis.send('EVAL', [script, String(keys.length), ...keys, ...args.map(String)])
}
