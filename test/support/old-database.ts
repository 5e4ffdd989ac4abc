import { SQL } from 'bun'
import { Database } from 'bun:sqlite'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MigrationMeta } from 'drizzle-orm/migrator'
import { pgMigrations, sqliteMigrations } from '../../src/db/migrations.ts'
import { PostgresStore } from '../../src/store/postgres-store.ts'
import { SqliteStore } from '../../src/store/sqlite-store.ts'
import type { Store } from '../../src/store/store.ts'
import { createDatabase } from './cluster.ts'

/**
 * A database as an older server left it: migrated up to, not including, the first migration with
 * a statement that `until` picks. Rows go in with `exec`; `open` then opens a store on it, which
 * applies the rest, as an upgrade does.
 */
export interface OldDatabase {
  /** Runs SQL on the database as it is (before the store opens it). */
  exec(statement: string): Promise<void>
  open(): Promise<Store>
  drop(): Promise<void>
}

/** The migrations before the first one with a statement `until` picks. */
function before<T extends MigrationMeta>(all: T[], until: (statement: string) => boolean): T[] {
  const at = all.findIndex((m) => m.sql.some(until))
  if (at === -1) throw new Error('no migration has such a statement')
  return all.slice(0, at)
}

async function oldSqlite(until: (statement: string) => boolean): Promise<OldDatabase> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-old-'))
  const path = join(dir, 'chat.db')
  const db = new Database(path)
  db.run('CREATE TABLE __drizzle_migrations (id INTEGER PRIMARY KEY, hash text NOT NULL, created_at numeric)')
  for (const migration of before(sqliteMigrations(), until)) {
    for (const statement of migration.sql) if (statement.trim()) db.run(statement)
    db.run('INSERT INTO __drizzle_migrations (hash, created_at) VALUES (?, ?)', [migration.hash, migration.folderMillis])
  }
  return {
    exec: async (statement) => void db.run(statement),
    open: async () => {
      db.close()
      return SqliteStore.open(path)
    },
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  }
}

async function oldPostgres(until: (statement: string) => boolean): Promise<OldDatabase> {
  const database = await createDatabase()
  const sql = new SQL(database.url, { max: 1 })
  await sql.unsafe('CREATE SCHEMA drizzle')
  await sql.unsafe('CREATE TABLE drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)')
  for (const migration of before(pgMigrations(), until)) {
    for (const statement of migration.sql) if (statement.trim()) await sql.unsafe(statement)
    await sql`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${migration.hash}, ${migration.folderMillis})`
  }
  return {
    exec: async (statement) => void (await sql.unsafe(statement)),
    open: () => PostgresStore.open(database.url),
    drop: async () => {
      await sql.close()
      await database.drop()
    },
  }
}

/** Both stores' old databases, by name. */
export const OLD_DATABASES = [
  ['SQLite', oldSqlite],
  ['Postgres', oldPostgres],
] as const
