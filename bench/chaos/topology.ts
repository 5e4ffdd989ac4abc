import { SQL } from 'bun'
import { startInstance, startPostgres, startRedis, type TestPostgres, type TestRedis } from '../../test/support/cluster.ts'
import { FaultProxy } from '../../test/support/fault-proxy.ts'
import { freePort } from '../../test/support/nginx.ts'
import type { ServerProcess } from '../../test/support/process.ts'
import type { InstanceExit } from './history.ts'

/** One instance log line, with when it was written (ms). */
export interface LogLine {
  instance: number
  at: number
  line: string
}

/** One chat server instance of the run: its fixed port, its own proxies to Postgres and Redis, its processes over time. */
export interface ChaosInstance {
  index: number
  port: number
  base: string
  wsBase: string
  pgProxy: FaultProxy
  redisProxy: FaultProxy
  /** The running process, or null while it is down. */
  process: ServerProcess | null
  /** How many times it was started. */
  starts: number
  /** Set before the run itself ends the process, so its exit is expected. */
  stopping: boolean
}

/**
 * Three (or `count`) instances on a private Postgres and a private Redis, each instance reaching
 * both through a fault proxy of its own, so a fault can hit one instance's path.
 */
export class Topology {
  readonly exits: InstanceExit[] = []
  private readonly stderr: LogLine[] = []
  private readonly processes: { instance: number; process: ServerProcess }[] = []

  private constructor(
    readonly pg: TestPostgres,
    readonly redis: TestRedis,
    readonly admin: SQL,
    readonly instances: ChaosInstance[],
    private readonly env: Record<string, string>,
  ) {}

  static async start(count: number, env: Record<string, string>): Promise<Topology> {
    const pg = await startPostgres()
    const redis = await startRedis()
    const admin = new SQL(pg.url, { max: 1 })
    const pgPort = Number(new URL(pg.url).port)
    const redisPort = Number(new URL(redis.url).port)
    const instances: ChaosInstance[] = []
    for (let index = 0; index < count; index++) {
      const port = freePort()
      instances.push({
        index,
        port,
        base: `http://127.0.0.1:${port}`,
        wsBase: `ws://127.0.0.1:${port}`,
        pgProxy: await FaultProxy.start(pgPort, `pg→${index}`),
        redisProxy: await FaultProxy.start(redisPort, `redis→${index}`),
        process: null,
        starts: 0,
        stopping: false,
      })
    }
    const topology = new Topology(pg, redis, admin, instances, env)
    try {
      // One at a time: the first migrates the database.
      for (const instance of instances) await topology.launch(instance)
    } catch (error) {
      await topology.destroy()
      throw error
    }
    return topology
  }

  /** Indexes of the instances whose process is up. */
  live(): number[] {
    return this.instances.filter((i) => i.process !== null).map((i) => i.index)
  }

  /** Starts the instance's process on its port (a few tries: the port may be held a moment after a kill). */
  async launch(instance: ChaosInstance): Promise<void> {
    let lastError: unknown
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        const process = await startInstance({
          ...this.env,
          PORT: String(instance.port),
          DATABASE_URL: `postgres://postgres@127.0.0.1:${instance.pgProxy.port}/postgres`,
          REDIS_URL: `redis://127.0.0.1:${instance.redisProxy.port}`,
        })
        instance.starts++
        instance.stopping = false
        instance.process = process
        this.processes.push({ instance: instance.index, process })
        this.watch(instance, process)
        return
      } catch (error) {
        lastError = error
        this.stderr.push({ instance: instance.index, at: Date.now(), line: `[chaos] start failed: ${String(error).slice(0, 2000)}` })
        this.exits.push({ instance: instance.index, at: Date.now(), code: null, expected: false })
        await Bun.sleep(500)
      }
    }
    throw new Error(`instance ${instance.index} would not start: ${String(lastError)}`)
  }

  /** Records the process's exit (unexpected unless the run ended it) and keeps its stderr. */
  private watch(instance: ChaosInstance, process: ServerProcess) {
    void (async () => {
      let buffer = ''
      try {
        for await (const chunk of process.proc.stderr) {
          buffer += new TextDecoder().decode(chunk)
          let nl: number
          while ((nl = buffer.indexOf('\n')) !== -1) {
            this.stderr.push({ instance: instance.index, at: Date.now(), line: buffer.slice(0, nl) })
            buffer = buffer.slice(nl + 1)
          }
        }
      } catch {
        // The pipe closes with the process.
      }
    })()
    void process.exited.then((code) => {
      this.exits.push({ instance: instance.index, at: Date.now(), code, expected: instance.stopping })
      if (instance.process === process) instance.process = null
    })
  }

  /** kill -9. */
  async kill(instance: ChaosInstance): Promise<void> {
    const process = instance.process
    if (!process) return
    instance.stopping = true
    process.proc.kill('SIGKILL')
    await process.exited
  }

  /** SIGTERM: the graceful stop (sockets closed with 1001). */
  async terminate(instance: ChaosInstance): Promise<void> {
    const process = instance.process
    if (!process) return
    instance.stopping = true
    process.proc.kill('SIGTERM')
    const code = await Promise.race([process.exited, Bun.sleep(15_000).then(() => 'timeout' as const)])
    if (code === 'timeout') {
      process.proc.kill('SIGKILL')
      await process.exited
    }
  }

  /** Ends every server connection to the database (the instances' pools see their connections die). */
  async terminateBackends(): Promise<number> {
    const rows = (await this.admin`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`) as { ok: boolean }[]
    return rows.filter((r) => r.ok).length
  }

  /** Postgres transactions a second in this database over `ms` (committed and rolled back). */
  async transactionsPerSecond(ms = 3000): Promise<number> {
    const read = async () => {
      // A fresh snapshot of the statistics each time (they are cached per transaction otherwise).
      await this.admin`SELECT pg_stat_clear_snapshot()`
      const [row] = (await this.admin`SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`) as { n: string | number }[]
      return Number(row?.n ?? 0)
    }
    const before = await read()
    await Bun.sleep(ms)
    // Each read is itself a transaction or two: leave them out.
    return Math.max(0, (await read()) - before - 2) / (ms / 1000)
  }

  /**
   * The queries of the connections that keep working (their state changes between looks), sampled
   * over `ms`, with the instance each connection belongs to; most frequent first.
   */
  async busyQueries(ms = 1500): Promise<{ query: string; instance: number | null; count: number }[]> {
    const lastChange = new Map<number, string>()
    const counts = new Map<string, { query: string; instance: number | null; count: number }>()
    for (const deadline = Date.now() + ms; Date.now() < deadline; ) {
      const rows = (await this
        .admin`SELECT pid, client_port, query, state_change::text AS changed FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`) as {
        pid: number
        client_port: number
        query: string
        changed: string
      }[]
      for (const row of rows) {
        const before = lastChange.get(row.pid)
        lastChange.set(row.pid, row.changed)
        if (before === undefined || before === row.changed) continue
        const instance = this.instances.find((i) => i.pgProxy.upstreamPorts().includes(row.client_port))?.index ?? null
        const key = `${instance}\u0000${row.query}`
        const entry = counts.get(key) ?? { query: row.query, instance, count: 0 }
        entry.count++
        counts.set(key, entry)
      }
      await Bun.sleep(20)
    }
    return [...counts.values()].sort((a, b) => b.count - a.count)
  }

  /** Every instance's log lines (stdout JSON lines and stderr), in time order. */
  logs(): LogLine[] {
    const lines: LogLine[] = [...this.stderr]
    for (const { instance, process } of this.processes) {
      for (const line of process.lines) {
        const time = /"time":"([^"]+)"/.exec(line)?.[1]
        lines.push({ instance, at: time ? Date.parse(time) : 0, line })
      }
    }
    return lines.sort((a, b) => a.at - b.at)
  }

  /** Stops everything the run started: instances, proxies, Redis, the Postgres cluster. */
  async destroy(): Promise<void> {
    await Promise.all(this.instances.map((i) => this.terminate(i).catch(() => {})))
    for (const instance of this.instances) {
      await instance.pgProxy.close().catch(() => {})
      await instance.redisProxy.close().catch(() => {})
    }
    await this.admin.close().catch(() => {})
    await this.redis.stop().catch(() => {})
    await this.pg.destroy().catch(() => {})
  }
}
