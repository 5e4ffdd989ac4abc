import { Database } from 'bun:sqlite'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import { drizzle, type BunSQLiteDatabase } from 'drizzle-orm/bun-sqlite'
import type { SQLiteSession, SQLiteSyncDialect } from 'drizzle-orm/sqlite-core'
import { version } from '../version.ts'
import { sqliteMigrations } from './migrations.ts'
import { refuseNewerSchema, type AppliedSchema } from './schema-version.ts'
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

/**
 * Applies every migration not yet applied; safe to run at each start. A database migrated by a
 * newer release is refused (DatabaseTooNew) before anything is written; after migrating, the
 * schema version and this release are recorded in `meta`.
 */
export function migrateSqlite(db: SqliteDb): void {
  const migrations = sqliteMigrations()
  refuseNewerSchema(appliedSqlite(db.$client), migrations, `database file ${db.$client.filename}`)
  // drizzle's own migrate() reads a folder from disk; the binary has the files embedded instead,
  // so hand them to the same dialect routine it calls (its tables and bookkeeping are unchanged).
  const internals = db as unknown as { dialect: SQLiteSyncDialect; session: SQLiteSession<'sync', void, Record<string, never>, never> }
  internals.dialect.migrate(migrations, internals.session, { migrationsFolder: '(embedded)' })
  db.$client.run('UPDATE meta SET schema_version = ?, migrated_by = ? WHERE id = 1 AND schema_version <> ?', [migrations.length, version, migrations.length])
}

function appliedSqlite(client: Database): AppliedSchema {
  const bookkeeping = client.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '__drizzle_migrations'").get()
  if (!bookkeeping) return { applied: 0, newest: null, migratedBy: null }
  const row = client.query('SELECT count(*) AS applied, max(created_at) AS newest FROM __drizzle_migrations').get() as { applied: number; newest: number | null }
  // `meta` exists from schema version 2 on and `migrated_by` from 9 on; older rows have none.
  const hasMeta = client.query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get()
  const meta = hasMeta ? (client.query('SELECT * FROM meta WHERE id = 1').get() as { migrated_by?: string | null } | null) : null
  return { applied: row.applied, newest: row.newest === null ? null : Number(row.newest), migratedBy: meta?.migrated_by ?? null }
}
