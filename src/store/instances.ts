import { hostname } from 'node:os'
import type { Logger } from '../logger.ts'
import { StartRefused } from '../start-refused.ts'
import { version } from '../version.ts'
import { asc, eq, gte, sql } from 'drizzle-orm'
import type { SqlDatabase } from './sql-database.ts'
import type { InstanceRow, Store } from './store.ts'

/** How often a server writes its heartbeat row. */
const HEARTBEAT_MS = 5_000
/** A server whose heartbeat is older than this has stopped, died, or lost the database. */
export const INSTANCE_STALE_MS = 20_000

/**
 * This server's row in `instances`: written at start and every HEARTBEAT_MS, deleted at a graceful
 * stop. It lets a command that must not run beside servers (`renew-epoch`) see that they run.
 */
export class InstanceHeartbeat {
  readonly row: InstanceRow
  private timer: ReturnType<typeof setInterval> | undefined
  private failing = false

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    now = Date.now(),
  ) {
    this.row = { id: crypto.randomUUID(), host: hostname(), pid: process.pid, version, startedAt: now, seenAt: now }
  }

  async start(): Promise<void> {
    await this.beat()
    this.timer = setInterval(() => void this.beat(), HEARTBEAT_MS)
    this.timer.unref()
  }

  private async beat(): Promise<void> {
    try {
      await this.store.heartbeat({ ...this.row, seenAt: Date.now() })
      if (this.failing) this.logger.info('heartbeat written again')
      this.failing = false
    } catch (error) {
      // Storage trouble shows in readiness and in the requests that meet it; one line here.
      if (!this.failing) this.logger.warn('heartbeat not written', { err: error instanceof Error ? error : new Error(String(error)) })
      this.failing = true
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer)
    try {
      await this.store.forgetInstance(this.row.id)
    } catch {
      // The row goes stale on its own.
    }
  }
}

/** Servers still running on the database, so a command that needs them stopped refuses. */
export class InstancesRunning extends StartRefused {
  constructor(
    readonly command: string,
    readonly running: readonly Pick<InstanceRow, 'host' | 'pid' | 'version' | 'seenAt'>[],
    now = Date.now(),
  ) {
    const list = running.map((i) => `${i.host} pid ${i.pid} (${i.version}, seen ${Math.max(0, Math.round((now - i.seenAt) / 1000))} s ago)`).join(', ')
    super(
      `${command}: ${running.length === 1 ? 'a server is' : `${running.length} servers are`} running on this database: ${list}; stop ${running.length === 1 ? 'it' : 'them'} first (they would keep using the old values), or pass --force if they are gone`,
    )
    this.name = 'InstancesRunning'
  }
}

/** The instances table, written once for both stores. */
export const instanceRows = {
  async beat({ db, t }: SqlDatabase, instance: InstanceRow): Promise<void> {
    await db
      .insert(t.instances)
      .values(instance)
      .onConflictDoUpdate({ target: t.instances.id, set: { seenAt: instance.seenAt } })
  },
  async seenSince({ db, t }: SqlDatabase, since: number): Promise<InstanceRow[]> {
    return db.select().from(t.instances).where(gte(t.instances.seenAt, since)).orderBy(asc(t.instances.startedAt))
  },
  async forget({ db, t }: SqlDatabase, id: string): Promise<void> {
    await db.delete(t.instances).where(eq(t.instances.id, id))
  },
  /** A write that touches one row and changes nothing: readiness's probe. */
  async probe({ db, t }: SqlDatabase): Promise<void> {
    await db
      .update(t.meta)
      .set({ webhooksOn: sql`${t.meta.webhooksOn}` })
      .where(eq(t.meta.id, 1))
  },
}
