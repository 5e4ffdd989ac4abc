import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite'
import type { SQLiteSession, SQLiteSyncDialect } from 'drizzle-orm/sqlite-core'
import { sqliteMigrations } from './migrations.ts'
import * as schema from './schema.ts'

export type SqliteDb = BunSQLiteDatabase<typeof schema> & { $client: Database }

/**
 * Opens (creating if needed) the SQLite file with the settings a chat server needs:
 * WAL so readers never block the writer, synchronous=NORMAL so a commit costs no fsync
 * (a commit survives a process crash; only an OS crash can lose the last ones),
 * foreign keys on, and a busy timeout instead of immediate SQLITE_BUSY.
 */
export function openSqlite(path: string): SqliteDb {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true })
  const client = new Database(path, { create: true, readwrite: true, strict: true })
  client.run('PRAGMA journal_mode = WAL')
  client.run('PRAGMA synchronous = NORMAL')
  client.run('PRAGMA foreign_keys = ON')
  client.run('PRAGMA busy_timeout = 5000')
  return drizzle({ client, schema })
}

/** Applies every migration not yet applied; safe to run at each start. */
export function migrateSqlite(db: SqliteDb): void {
  // drizzle's own migrate() reads a folder from disk; the binary has the files embedded instead,
  // so hand them to the same dialect routine it calls (its tables and bookkeeping are unchanged).
  const internals = db as unknown as { dialect: SQLiteSyncDialect; session: SQLiteSession<'sync', void, Record<string, never>, never> }
  internals.dialect.migrate(sqliteMigrations(), internals.session, { migrationsFolder: '(embedded)' })
}
