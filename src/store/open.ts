import type { Config } from '../config.ts'
import type { BatchObserver } from '../metrics.ts'
import { PostgresStore } from './postgres-store.ts'
import { SqliteStore } from './sqlite-store.ts'
import type { Store } from './store.ts'

/** The store the settings ask for: Postgres with DATABASE_URL, else the embedded SQLite file. */
export async function openStore(config: Config, observeBatch?: BatchObserver): Promise<Store> {
  if (config.DATABASE_URL) return PostgresStore.open(config.DATABASE_URL, observeBatch)
  return SqliteStore.open(config.DATABASE_PATH, observeBatch)
}
