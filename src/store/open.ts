import type { Config } from '../config.ts'
import type { BatchObserver } from '../metrics.ts'
import { PostgresStore } from './postgres-store.ts'
import { SqliteStore } from './sqlite-store.ts'
import type { SequencedStore, Store } from './store.ts'

/** An opened store, and its per-room message positions when it keeps them (what a cluster needs). */
export interface OpenedStore {
  store: Store
  sequenced: SequencedStore | null
}

/** The store the settings ask for: Postgres with DATABASE_URL, else the embedded SQLite file. */
export async function openStore(config: Config, observeBatch?: BatchObserver): Promise<OpenedStore> {
  if (config.DATABASE_URL) {
    const store = await PostgresStore.open(config.DATABASE_URL, observeBatch)
    return { store, sequenced: store }
  }
  return { store: SqliteStore.open(config.DATABASE_PATH, observeBatch), sequenced: null }
}
