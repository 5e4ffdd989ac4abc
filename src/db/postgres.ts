import { SQL } from 'bun'
import { drizzle, type BunSQLDatabase } from 'drizzle-orm/bun-sql'
import { pgMigrations } from './migrations.ts'
import * as schema from './pg-schema.ts'

export type PgDb = BunSQLDatabase<typeof schema> & { $client: SQL }

/** Connects to Postgres (Bun's built-in client, a pool) through drizzle. */
export function openPostgres(url: string): PgDb {
  const client = new SQL(url, { max: 10, idleTimeout: 30, connectionTimeout: 10 })
  return drizzle({ client, schema })
}

/** Arbitrary key for the advisory lock that makes instances starting together migrate one at a time. */
const MIGRATION_LOCK = 7_305_001

/**
 * Applies pending migrations, in drizzle's own bookkeeping table (`drizzle.__drizzle_migrations`),
 * under an advisory lock: several instances may start at once against one database.
 */
export async function migratePostgres(db: PgDb): Promise<number> {
  const migrations = pgMigrations()
  return db.$client.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx.unsafe('CREATE SCHEMA IF NOT EXISTS drizzle')
    await tx.unsafe('CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)')
    const [last] = (await tx`SELECT created_at FROM drizzle.__drizzle_migrations ORDER BY created_at DESC LIMIT 1`) as { created_at: string | number }[]
    let applied = 0
    for (const migration of migrations) {
      if (last && Number(last.created_at) >= migration.folderMillis) continue
      for (const statement of migration.sql) if (statement.trim()) await tx.unsafe(statement)
      await tx`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${migration.hash}, ${migration.folderMillis})`
      applied++
    }
    return applied
  })
}
