import type { Clock } from '../../src/clock.ts'
import { SQL } from 'bun'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './nginx.ts'
import { spawnServer, type ServerProcess } from './process.ts'
import { startTestServer, type TestServer } from './server.ts'

/** The machine's Postgres (trust auth); each test run gets a database of its own. */
export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

/** A fresh, empty Postgres database, dropped again by `drop`. */
export async function createDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `chat_test_${Date.now()}_${Math.floor(Math.random() * 1e6)}`
  const admin = new SQL(POSTGRES_ADMIN_URL, { max: 1 })
  await admin.unsafe(`CREATE DATABASE ${name}`)
  const url = POSTGRES_ADMIN_URL.replace(/\/[^/]*$/, `/${name}`)
  return {
    url,
    async drop() {
      await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await admin.close()
    },
  }
}

/**
 * The two stores every storage test runs on: the embedded SQLite (each test server's own file) and
 * Postgres (a fresh database, dropped by `drop`). `env` goes to the server.
 */
export const STORES = [
  { name: 'SQLite', database: async () => ({ env: {} as Record<string, string>, drop: async () => {} }) },
  {
    name: 'Postgres',
    database: async () => {
      const db = await createDatabase()
      return { env: { DATABASE_URL: db.url } as Record<string, string>, drop: db.drop }
    },
  },
] as const

/**
 * A real server on one of STORES: on SQLite its own file, on Postgres a fresh database, dropped
 * when the server is destroyed (also after a restart). `env` as for startTestServer.
 */
export async function startStoreServer(store: (typeof STORES)[number], env: Record<string, string> = {}, clock?: Clock): Promise<TestServer> {
  const db = await store.database()
  try {
    return dropping(await startTestServer({ ...env, ...db.env }, undefined, clock), db.drop)
  } catch (error) {
    await db.drop()
    throw error
  }
}

function dropping(server: TestServer, drop: () => Promise<void>): TestServer {
  return {
    ...server,
    async restart() {
      return dropping(await server.restart(), drop)
    },
    async destroy() {
      await server.destroy()
      await drop()
    },
  }
}

/** A Redis server of the test's own (so a test can stop and restart it), keeping nothing on disk. */
export interface TestRedis {
  url: string
  stop(): Promise<void>
  start(): Promise<void>
}

export async function startRedis(): Promise<TestRedis> {
  const port = freePort()
  const dir = mkdtempSync(join(tmpdir(), 'chat-redis-'))
  let proc: ReturnType<typeof Bun.spawn> | undefined
  const url = `redis://127.0.0.1:${port}`
  const redis: TestRedis = {
    url,
    async start() {
      proc = Bun.spawn(['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdout: 'ignore', stderr: 'inherit' })
      for (let i = 0; i < 100; i++) {
        const probe = Bun.spawnSync(['redis-cli', '-p', String(port), 'ping'])
        if (probe.stdout.toString().includes('PONG')) return
        await Bun.sleep(50)
      }
      throw new Error('redis-server did not start')
    },
    async stop() {
      proc?.kill('SIGKILL')
      await proc?.exited
    },
  }
  await redis.start()
  const stop = redis.stop
  redis.stop = async () => {
    await stop()
  }
  process.on('exit', () => {
    proc?.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })
  return redis
}

/** One chat server instance as its own process (so a test can kill -9 it). */
export function startInstance(env: Record<string, string>): Promise<ServerProcess> {
  return spawnServer([process.execPath, join(import.meta.dir, '..', '..', 'src', 'index.ts')], {
    cwd: tmpdir(),
    env: { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
  })
}

/**
 * A Postgres server of the test's own (initdb into a temp dir, run as the postgres user), so a
 * test can stop it mid-chat. Needs the PostgreSQL server binaries (Debian's postgresql package).
 */
export interface TestPostgres {
  url: string
  stop(): Promise<void>
  start(): Promise<void>
  destroy(): Promise<void>
}

export async function startPostgres(): Promise<TestPostgres> {
  const versions = Bun.spawnSync(['ls', '/usr/lib/postgresql']).stdout.toString().trim().split('\n').sort()
  const bin = `/usr/lib/postgresql/${versions.at(-1)}/bin`
  const dir = mkdtempSync(join(tmpdir(), 'chat-pg-'))
  Bun.spawnSync(['chown', 'postgres', dir])
  const port = freePort()
  const asPostgres = (args: string[]) => {
    const result = Bun.spawnSync(['runuser', '-u', 'postgres', '--', ...args], { stdout: 'pipe', stderr: 'pipe' })
    if (result.exitCode !== 0) throw new Error(`${args.join(' ')} failed: ${result.stderr.toString()}`)
  }
  asPostgres([`${bin}/initdb`, '-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres'])
  const pg: TestPostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async start() {
      asPostgres([`${bin}/pg_ctl`, '-D', `${dir}/data`, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, '-l', `${dir}/log`, '-w', 'start'])
    },
    async stop() {
      asPostgres([`${bin}/pg_ctl`, '-D', `${dir}/data`, '-m', 'immediate', '-w', 'stop'])
    },
    async destroy() {
      await pg.stop().catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
  await pg.start()
  return pg
}

/** Several instances as their own processes on one fresh Postgres database and a Redis of their own. */
export interface TestCluster {
  db: Awaited<ReturnType<typeof createDatabase>>
  redis: TestRedis
  instances: ServerProcess[]
  /** Kills the instances, stops Redis and drops the database. */
  stop(): Promise<void>
}

/** Starts `count` instances sharing a fresh database and Redis, each with `env` (their prefix on Redis is `name`). */
export async function startCluster(name: string, env: Record<string, string>, count = 3): Promise<TestCluster> {
  const db = await createDatabase()
  const redis = await startRedis()
  const instances: ServerProcess[] = []
  const cluster: TestCluster = {
    db,
    redis,
    instances,
    async stop() {
      for (const instance of instances) instance.proc.kill('SIGKILL')
      await Promise.all(instances.map((i) => i.exited))
      await redis.stop()
      await db.drop()
    },
  }
  // One prefix for all of them: they share the Redis channels.
  const shared = { DATABASE_URL: db.url, REDIS_URL: redis.url, REDIS_PREFIX: `${name}${Date.now()}:`, ...env }
  try {
    for (let i = 0; i < count; i++) instances.push(await startInstance(shared))
  } catch (err) {
    await cluster.stop()
    throw err
  }
  return cluster
}
