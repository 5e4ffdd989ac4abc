import type { Socket } from 'bun'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { redisConnector, type ChannelListener, type RedisConnection } from '../../src/realtime/redis-connection.ts'

// Real Redis servers for tests: a relay that cuts or slows the network to one, and a Redis Cluster.

/** A TCP relay in front of a Redis server, for tests that need the network to fail, not Redis. */
export interface RedisRelay {
  readonly url: string
  /** Drops every connection and refuses new ones, as an outage would; Redis keeps its data. */
  cut(): void
  restore(): void
  /** Holds back what clients send to Redis by `ms` (0: none), keeping its order. */
  delay(ms: number): void
  close(): void
}

/** Writes to a socket that may take only part of a chunk, keeping the rest for its drain. */
class Pipe {
  private pending: Uint8Array[] = []
  socket: Socket<Link> | null = null

  write(chunk: Uint8Array) {
    this.pending.push(chunk)
    this.flush()
  }

  flush() {
    while (this.socket && this.pending.length > 0) {
      const chunk = this.pending[0]!
      const written = Math.max(this.socket.write(chunk), 0)
      if (written < chunk.length) {
        this.pending[0] = chunk.subarray(written)
        return
      }
      this.pending.shift()
    }
  }
}

interface Link {
  client: Socket<Link>
  upstream: Socket<Link> | null
  toRedis: Pipe
  toClient: Pipe
  /** What the client sent, waiting out the delay: [when it may go, bytes]. */
  delayed: [number, Uint8Array][]
  timer: ReturnType<typeof setTimeout> | null
  closed: boolean
}

/** Starts a relay to the Redis on `port` (127.0.0.1). */
export function relayRedis(port: number): RedisRelay {
  let refusing = false
  let delayMs = 0
  const links = new Set<Link>()
  const end = (link: Link) => {
    if (link.closed) return
    link.closed = true
    links.delete(link)
    if (link.timer) clearTimeout(link.timer)
    link.client.end()
    link.upstream?.end()
  }
  const pump = (link: Link) => {
    link.timer = null
    while (link.delayed.length > 0 && link.delayed[0]![0] <= Date.now()) link.toRedis.write(link.delayed.shift()![1])
    if (link.delayed.length > 0) link.timer = setTimeout(() => pump(link), link.delayed[0]![0] - Date.now())
  }
  const listener = Bun.listen<Link>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(client) {
        if (refusing) return void client.end()
        const link: Link = { client, upstream: null, toRedis: new Pipe(), toClient: new Pipe(), delayed: [], timer: null, closed: false }
        link.toClient.socket = client
        client.data = link
        links.add(link)
        Bun.connect<Link>({
          hostname: '127.0.0.1',
          port,
          data: link,
          socket: {
            open(upstream) {
              if (link.closed) return void upstream.end()
              link.upstream = upstream
              link.toRedis.socket = upstream
              link.toRedis.flush()
            },
            data: (_, chunk) => link.toClient.write(new Uint8Array(chunk)),
            drain: () => link.toRedis.flush(),
            close: () => end(link),
            error: () => end(link),
            connectError: () => end(link),
          },
        }).catch(() => end(link))
      },
      data(client, chunk) {
        const link = client.data
        const copy = new Uint8Array(chunk)
        if (delayMs === 0 && link.delayed.length === 0) return link.toRedis.write(copy)
        link.delayed.push([Date.now() + delayMs, copy])
        link.timer ??= setTimeout(() => pump(link), delayMs)
      },
      drain: (client) => client.data?.toClient.flush(),
      close: (client) => client.data && end(client.data),
      error: (client) => client.data && end(client.data),
    },
  })
  return {
    url: `redis://127.0.0.1:${listener.port}`,
    cut() {
      refusing = true
      for (const link of [...links]) end(link)
    },
    restore() {
      refusing = false
    },
    delay(ms) {
      delayMs = ms
    },
    close() {
      for (const link of [...links]) end(link)
      listener.stop(true)
    },
  }
}

/** Whether a TCP port on 127.0.0.1 is free. */
function isFree(port: number): boolean {
  try {
    Bun.listen({ hostname: '127.0.0.1', port, socket: { data() {} } }).stop(true)
    return true
  } catch {
    return false
  }
}

/** A port for a cluster node: it and its cluster bus port (the port + 10000) must both be free. */
function freeNodePort(): number {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 25_000)
    if (isFree(port) && isFree(port + 10_000)) return port
  }
}

const cli = (port: number, ...args: string[]) =>
  Bun.spawnSync(['redis-cli', '-p', String(port), ...args])
    .stdout.toString()
    .trim()

/** A Redis Cluster of `count` primaries on this machine, keeping nothing on disk. */
export interface TestRedisCluster {
  ports: number[]
  /** A connection that sends each command to the node serving its (first) key, as a cluster client would. */
  connection(): RedisConnection
  stop(): Promise<void>
}

export async function startRedisCluster(count = 3): Promise<TestRedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-redis-cluster-'))
  const ports = Array.from({ length: count }, freeNodePort)
  const procs = ports.map((port) =>
    Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`), '--dir', dir, '--save', '', '--appendonly', 'no'], {
      stdout: 'ignore',
      stderr: 'inherit',
    }),
  )
  const stop = async () => {
    for (const proc of procs) proc.kill('SIGKILL')
    await Promise.all(procs.map((p) => p.exited))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (const port of ports) {
      for (let i = 0; cli(port, 'ping') !== 'PONG'; i++) {
        if (i > 100) throw new Error('redis-server did not start')
        await Bun.sleep(50)
      }
    }
    for (const port of ports.slice(1)) cli(ports[0]!, 'cluster', 'meet', '127.0.0.1', String(port))
    const share = Math.ceil(16384 / count)
    for (const [i, port] of ports.entries()) cli(port, 'cluster', 'addslotsrange', String(i * share), String(Math.min(16383, (i + 1) * share - 1)))
    for (let i = 0; !ports.every((port) => cli(port, 'cluster', 'info').includes('cluster_state:ok')); i++) {
      if (i > 200) throw new Error('the cluster did not come up')
      await Bun.sleep(50)
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { ports, connection: () => new SlotRouter(ports), stop }
}

/** CRC16 (XMODEM) of the key's hash tag, or of the key: its Redis Cluster slot. */
function keySlot(key: string): number {
  const open = key.indexOf('{')
  const close = open === -1 ? -1 : key.indexOf('}', open + 1)
  const hashed = new TextEncoder().encode(close > open + 1 ? key.slice(open + 1, close) : key)
  let crc = 0
  for (const byte of hashed) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}

/** Routes each command to the node serving its first key (EVAL: its first KEYS entry); nothing else. */
class SlotRouter implements RedisConnection {
  onconnect: (() => void) | null = null
  private readonly nodes: RedisConnection[]
  private slots: { from: number; to: number; node: RedisConnection }[] = []

  constructor(private readonly ports: number[]) {
    this.nodes = ports.map((port) => redisConnector(`redis://127.0.0.1:${port}`)())
  }

  get connected() {
    return this.nodes.every((node) => node.connected)
  }

  async connect() {
    await Promise.all(this.nodes.map((node) => node.connect()))
    const ranges = (await this.nodes[0]!.send('CLUSTER', ['SLOTS'])) as [number, number, [string, number]][]
    this.slots = ranges.map(([from, to, [, port]]) => ({ from, to, node: this.nodes[this.ports.indexOf(Number(port))]! }))
    this.onconnect?.()
  }

  send(command: string, args: string[]) {
    const upper = command.toUpperCase()
    const key = upper === 'EVAL' || upper === 'EVALSHA' ? (Number(args[1]) > 0 ? args[2] : undefined) : args[0]
    if (key === undefined) return this.nodes[0]!.send(command, args)
    const slot = keySlot(key)
    const node = this.slots.find((s) => slot >= s.from && slot <= s.to)?.node
    if (!node) return Promise.reject(new Error(`no node serves slot ${slot}`))
    return node.send(command, args)
  }

  publish(channel: string, message: string) {
    return this.nodes[0]!.publish(channel, message)
  }

  subscribe(channel: string, listener: ChannelListener) {
    return this.nodes[0]!.subscribe(channel, listener)
  }

  unsubscribe(channel: string, listener: ChannelListener) {
    return this.nodes[0]!.unsubscribe(channel, listener)
  }

  close() {
    for (const node of this.nodes) node.close()
  }
}
