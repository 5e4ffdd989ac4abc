import type { SQL } from 'drizzle-orm'
import type { PgDb } from '../db/postgres.ts'
import * as pgTables from '../db/pg-schema.ts'
import * as tables from '../db/schema.ts'
import type { SqliteDb } from '../db/sqlite.ts'
import type { Dialect } from './membership.ts'

/**
 * One database as the code shared by both stores sees it. drizzle builds the same queries on
 * SQLite and Postgres from table objects of the same names and columns (src/db/schema-parity.test.ts
 * holds the two schemas to that), and a query builder of either is awaited for its rows. The shared
 * code is typed with the SQLite schema's objects; on Postgres it gets Postgres's, which have the same
 * keys, columns and row shapes, so every query written once runs on both. Raw SQL goes through
 * `rows`. Only awaiting is shared: SQLite's synchronous `.all()/.get()/.run()` and its
 * transactions stay in the SQLite files, as Postgres's row locks stay in the Postgres ones.
 */
export interface SqlDatabase {
  readonly dialect: Dialect
  /** The query builder: awaited, a select gives its rows and a write runs. */
  readonly db: Pick<SqliteDb, 'select' | 'insert' | 'update' | 'delete'>
  /** The tables. */
  readonly t: typeof tables
  /** Rows of a raw SQL query, in the database's own types (bigint counts may be strings on Postgres). */
  rows<T>(query: SQL): Promise<T[]>
}

export function sqliteDatabase(db: SqliteDb): SqlDatabase {
  return { dialect: 'sqlite', db, t: tables, rows: async <T>(query: SQL) => db.all<T>(query) }
}

export function postgresDatabase(db: PgDb): SqlDatabase {
  return {
    dialect: 'postgres',
    // Same method names, same query shapes; typed once (see above).
    db: db as unknown as SqlDatabase['db'],
    t: pgTables as unknown as typeof tables,
    rows: async <T>(query: SQL) => [...(await db.execute(query))] as T[],
  }
}
