import { SQL } from 'bun'
import { drizzle, type BunSQLDatabase } from 'drizzle-orm/bun-sql'
import { version } from '../version.ts'
import { pgMigrations } from './migrations.ts'
import { describePostgres, refuseNewerSchema } from './schema-version.ts'
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
 * under an advisory lock: several instances may start at once against one database. This is what
 * drizzle's migrator does (the same table, rows and order), but drizzle's reads the newest applied
 * migration outside its transaction and takes no lock, so two instances starting together would
 * both apply the same migration; and it reads a folder, while the binary carries the files inside. A database
 * migrated by a newer release is refused (DatabaseTooNew) before anything is written; after
 * migrating, the schema version and this release are recorded in `meta`.
 */
export async function migratePostgres(db: PgDb, url: string): Promise<number> {
  const migrations = pgMigrations()
  return db.$client.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`
    await tx.unsafe('CREATE SCHEMA IF NOT EXISTS drizzle')
    await tx.unsafe('CREATE TABLE IF NOT EXISTS drizzle.__drizzle_migrations (id SERIAL PRIMARY KEY, hash text NOT NULL, created_at bigint)')
    const [found] = (await tx`SELECT count(*)::int AS applied, max(created_at) AS newest FROM drizzle.__drizzle_migrations`) as { applied: number; newest: string | number | null }[]
    const newest = found?.newest == null ? null : Number(found.newest)
    if (newest !== null && newest > (migrations.at(-1)?.folderMillis ?? 0)) {
      // `migrated_by` exists from schema version 11 on; to_jsonb reads it without naming the column.
      const [meta] = (await tx`SELECT to_jsonb(m) ->> 'migrated_by' AS migrated_by FROM meta m WHERE id = 1`) as { migrated_by: string | null }[]
      refuseNewerSchema({ applied: found?.applied ?? 0, newest, migratedBy: meta?.migrated_by ?? null }, migrations, describePostgres(url))
    }
    let applied = 0
    for (const migration of migrations) {
      if (newest !== null && newest >= migration.folderMillis) continue
      for (const statement of migration.sql) if (statement.trim()) await tx.unsafe(statement)
      await tx`INSERT INTO drizzle.__drizzle_migrations (hash, created_at) VALUES (${migration.hash}, ${migration.folderMillis})`
      applied++
    }
    await tx`UPDATE meta SET schema_version = ${migrations.length}, migrated_by = ${version} WHERE id = 1 AND schema_version <> ${migrations.length}`
    return applied
  })
}
