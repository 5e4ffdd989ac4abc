import { afterAll, describe, expect, it } from 'bun:test'
import { getTableColumns, getTableName, Table } from 'drizzle-orm'
import { getTableConfig as pgTableConfig } from 'drizzle-orm/pg-core'
import { getTableConfig as sqliteTableConfig } from 'drizzle-orm/sqlite-core'
import { createDatabase } from '../../test/support/cluster.ts'
import * as pg from './pg-schema.ts'
import { migratePostgres, openPostgres } from './postgres.ts'
import * as sqlite from './schema.ts'
import { migrateSqlite, openSqlite } from './sqlite.ts'

// The two schemas describe one data model: the same tables, columns (by name and by the key the
// code uses), nullability and primary keys (indexes may differ: each database has its own plans). Code written once over either set of table
// objects reads and writes the same shapes; a column added to one file only fails here.

type Shape = Record<string, { columns: Record<string, { name: string; notNull: boolean; primary: boolean }>; primaryKey: string[] }>

function shapeOf(module: Record<string, unknown>, config: (table: never) => { primaryKeys: { columns: { name: string }[] }[] }): Shape {
  const shape: Shape = {}
  for (const value of Object.values(module)) {
    if (!(value instanceof Table)) continue
    const columns = Object.fromEntries(Object.entries(getTableColumns(value as Table)).map(([key, column]) => [key, { name: column.name, notNull: column.notNull, primary: column.primary }]))
    const { primaryKeys } = config(value as never)
    shape[getTableName(value)] = {
      columns,
      primaryKey: primaryKeys.flatMap((key) => key.columns.map((column) => column.name)).sort(),
    }
  }
  return shape
}

const cleanup: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const step of cleanup) await step()
})

describe('the SQLite and Postgres schemas', () => {
  it('should define the same tables, columns and primary keys', () => {
    const fromSqlite = shapeOf(sqlite, sqliteTableConfig as never)
    const fromPostgres = shapeOf(pg, pgTableConfig as never)
    expect(Object.keys(fromSqlite).length).toBeGreaterThanOrEqual(10)
    expect(Object.keys(fromPostgres).sort()).toEqual(Object.keys(fromSqlite).sort())
    for (const table of Object.keys(fromSqlite)) {
      expect({ table, ...fromPostgres[table]!.columns }).toEqual({ table, ...fromSqlite[table]!.columns })
      expect({ table, primaryKey: fromPostgres[table]!.primaryKey }).toEqual({ table, primaryKey: fromSqlite[table]!.primaryKey })
    }
  })

  it('should be what the migrations of each database build: the same tables and columns', async () => {
    const lite = openSqlite(':memory:')
    migrateSqlite(lite)
    const liteColumns = columnsBy(
      lite.$client.query("SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name NOT LIKE '__drizzle%'").all() as {
        t: string
        c: string
      }[],
    )
    lite.$client.close()

    const database = await createDatabase()
    cleanup.push(database.drop)
    const db = openPostgres(database.url)
    await migratePostgres(db, database.url)
    const rows = (await db.$client`SELECT table_name AS t, column_name AS c FROM information_schema.columns WHERE table_schema = 'public'`) as { t: string; c: string }[]
    await db.$client.close()
    const pgColumns = columnsBy(rows)

    expect(pgColumns).toEqual(liteColumns)
    // And the schema files say the same as the databases.
    const declared = Object.fromEntries(
      Object.values(sqlite)
        .filter((v) => v instanceof Table)
        .map((t) => [
          getTableName(t as Table),
          Object.values(getTableColumns(t as Table))
            .map((c) => c.name)
            .sort(),
        ]),
    )
    expect(liteColumns).toEqual(declared)
  })
})

function columnsBy(rows: { t: string; c: string }[]): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const { t, c } of rows) (out[t] ??= []).push(c)
  for (const list of Object.values(out)) list.sort()
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => a.localeCompare(b)))
}
