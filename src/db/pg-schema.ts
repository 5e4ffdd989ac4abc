import * as pg from 'drizzle-orm/pg-core'
import { defineTables, type DialectColumns } from './tables.ts'

/** Postgres's column builders for the tables of tables.ts. */
const postgresColumns = {
  dialect: 'postgres',
  core: pg,
  table: pg.pgTable,
  id: (name: string) => pg.bigserial(name, { mode: 'number' }).primaryKey(),
  // Drawn after the room's row lock, so per room the ids ascend in commit order (see postgres-store.ts).
  messageId: (name: string) => pg.bigint(name, { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
  int: (name: string) => pg.bigint(name, { mode: 'number' }),
  smallInt: (name: string) => pg.integer(name),
}

/**
 * The Postgres schema, from which drizzle-kit generates drizzle-pg/: the tables of tables.ts in
 * Postgres's types (64-bit ids and times as bigint), typed as SQLite's, which have the same names,
 * columns and row shapes (src/db/schema-parity.test.ts holds them to that).
 */
export const { rooms, members, blocks, users, messages, reactions, messageHistory, roomEvents, uploads, webhookEvents, webhookLanes, reports, moderators, sanctions, wordFilters, auditLog, meta, instances } = defineTables(
  postgresColumns as unknown as DialectColumns,
)
