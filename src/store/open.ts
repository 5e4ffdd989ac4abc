import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { BatchObserver } from '../metrics.ts'
import { PostgresStore } from './postgres-store.ts'
import { SqliteStore } from './sqlite-store.ts'
import type { SequencedStore, Store } from './store.ts'

/** An opened store, and its per-room message positions when it keeps them (what a cluster needs). */
export interface OpenedStore {
  store: Store
  sequenced: SequencedStore | null
}

/** How a store is opened: by a server (which sends webhooks or not) or by a one-shot command. */
export interface OpenOptions {
  observeBatch?: BatchObserver
  /** Hears of trouble in the store's own background work (SQLite's checkpointer thread). */
  logger?: Pick<Logger, 'warn' | 'info'>
  /**
   * Set by a server: whether it sends webhooks (WEBHOOK_URL and WEBHOOK_SECRET). The store then
   * writes webhook events beside what they report, or not, and the rooms' cursors follow: turned on
   * after being off, what was stored meanwhile is not sent. A command (`migrate`, `webhooks dead`)
   * leaves it unset and changes nothing about webhooks.
   */
  webhooks?: boolean
}

/** The store the settings ask for: Postgres with DATABASE_URL, else the embedded SQLite file. */
export async function openStore(config: Config, options: OpenOptions = {}): Promise<OpenedStore> {
  const opened: OpenedStore = config.DATABASE_URL ? await openPostgres(config.DATABASE_URL, options.observeBatch) : { store: SqliteStore.open(config.DATABASE_PATH, options.observeBatch, options.logger), sequenced: null }
  if (options.webhooks !== undefined) {
    opened.store.outbox.enabled = options.webhooks
    await opened.store.outbox.follow(options.webhooks)
  }
  return opened
}

async function openPostgres(url: string, observeBatch?: BatchObserver): Promise<OpenedStore> {
  const store = await PostgresStore.open(url, observeBatch)
  return { store, sequenced: store }
}
