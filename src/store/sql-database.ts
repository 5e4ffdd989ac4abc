import { Column, fillPlaceholders, is, sql, type SQL } from 'drizzle-orm'
import { SQLiteSyncDialect } from 'drizzle-orm/sqlite-core'
import type { PgDb } from '../db/postgres.ts'
import * as pgTables from '../db/pg-schema.ts'
import * as tables from '../db/schema.ts'
import type { SqliteDb } from '../db/sqlite.ts'

type Dialect = 'sqlite' | 'postgres'

/** The query builder as code written once sees it: awaited (or run as a transaction's step), a select gives its rows and a write runs. */
export type QueryBuilder = Pick<SqliteDb, 'select' | 'insert' | 'update' | 'delete'>

/**
 * One step of a transaction written once (see `SqlDatabase.transaction`): a built query and how
 * to run it. `rows`: its rows (a select, or a write with `returning`); `run`: run it; `lock`: a
 * select whose rows stay locked until the transaction ends (Postgres's `for update`; SQLite, whose
 * one writer already excludes every other, just reads them); `raw`: rows of raw SQL; `committed`:
 * something to do once the transaction has committed (never if it rolls back).
 */
type Step = { kind: 'rows' | 'run' | 'lock'; query: PromiseLike<unknown> } | { kind: 'raw'; query: SQL } | { kind: 'statement'; run: (tx: unknown) => unknown } | { kind: 'committed'; action: () => void }

/** A step that runs a query (every kind but `committed`, which the transaction keeps for later). */
type QueryStep = Exclude<Step, { kind: 'committed' }>

/** A transaction's body: a generator that yields its queries as steps (see `rows`, `run`, `lock`, `raw`) and returns its result. */
export type Transaction<T> = (tx: QueryBuilder) => Generator<Step, T, unknown>

/** A step: the query's rows. */
export function* rows<R>(query: PromiseLike<R>): Generator<Step, R, unknown> {
  return (yield { kind: 'rows', query }) as R
}

/** A step: the query's first row. */
export function* first<R>(query: PromiseLike<R[]>): Generator<Step, R | undefined, unknown> {
  return (yield* rows(query))[0]
}

/** A step: runs a write. */
export function* run(query: PromiseLike<unknown>): Generator<Step, void, unknown> {
  yield { kind: 'run', query }
}

/** A step: the rows of a select, locked against other writers until the transaction ends. */
export function* lock<R>(query: PromiseLike<R>): Generator<Step, R, unknown> {
  return (yield { kind: 'lock', query }) as R
}

/** A step: rows of raw SQL, in the database's own types (bigints may be strings on Postgres). */
export function* raw<T>(query: SQL): Generator<Step, T[], unknown> {
  return (yield { kind: 'raw', query }) as T[]
}

/**
 * A step: `action` runs once the transaction has committed, before its caller gets the result
 * (never if it rolls back). It tells others what committed; it must not throw, since the caller
 * is owed the result of what did commit (the one there is, `Outbox.written`, goes to
 * `EventConsumers`, which keeps a consumer's failure to itself).
 */
export function* afterCommit(action: () => void): Generator<Step, void, unknown> {
  yield { kind: 'committed', action }
}

/** How a statement runs as a step: its rows, a write, or its rows locked (see `lock`). */
type StatementMode = 'rows' | 'run' | 'lock'

/** A statement's values for its placeholders (`sql.placeholder(name)`). */
type Values = Record<string, unknown>

/**
 * A statement built once with placeholders, run as a transaction's step with their values (see
 * `SqlDatabase.statement`): what a transaction that runs often uses, so a call builds no SQL.
 */
type Statement<R> = (values: Values) => Generator<Step, R, unknown>

/** A select prepared once with placeholders (drizzle's prepared query): its rows for their values. */
type PreparedSelect<R> = { execute(values: Values): PromiseLike<R[]> }

/** SQLite's column types whose values drizzle hands over as the driver gives them (a json text, a timestamp or a boolean integer is decoded). */
const UNDECODED = new Set(['SQLiteInteger', 'SQLiteText', 'SQLiteReal'])
const undecoded = (column: unknown) => is(column, Column) && UNDECODED.has(column.columnType)

/** What a raw statement's builder interpolates for a value: a placeholder (SQLite) or the value itself (Postgres). */
export type ValueOf = (name: string) => unknown

/**
 * One database as the code shared by both stores sees it. drizzle builds the same queries on
 * SQLite and Postgres from table objects of the same names and columns (src/db/schema-parity.test.ts
 * holds the two schemas to that), and a query builder of either is awaited for its rows. The shared
 * code is typed with the SQLite schema's objects; on Postgres it gets Postgres's, which have the same
 * keys, columns and row shapes, so every query written once runs on both.
 */
export interface SqlDatabase {
  readonly dialect: Dialect
  readonly db: QueryBuilder
  /** The tables. */
  readonly t: typeof tables
  /** Rows of a raw SQL query, in the database's own types (bigint counts may be strings on Postgres). */
  rows<T>(query: SQL): Promise<T[]>
  /**
   * Runs a transaction written once. Its body yields each query as a step and gets the result back:
   * SQLite runs the whole body synchronously on its one connection (no other statement can slip
   * in between, and nothing waits), Postgres awaits each step on one pooled connection. A step that
   * fails throws where the body yielded it and rolls the transaction back (a body does not catch
   * it: after a failed statement Postgres takes no more in that transaction).
   */
  transaction<T>(body: Transaction<T>): Promise<T>
  /**
   * A statement built once by `build` with placeholders, for the steps of transactions that run
   * often: SQLite compiles it once (its one connection runs every transaction); Postgres runs it on
   * the transaction's connection, built there (its cost is the round trip, not the building).
   */
  statement<Q extends PromiseLike<unknown>>(build: (q: QueryBuilder) => Q, mode: StatementMode): Statement<Awaited<Q>>
  /**
   * Raw SQL built once, for reads that run on every request (the inbox, the badge): `build`
   * interpolates `value(name)` where a value goes. SQLite builds the text once and keeps the
   * statement compiled; Postgres builds it with the values each call (the round trip is its cost).
   */
  rawStatement<T>(build: (value: ValueOf) => SQL): (values: Values) => Promise<T[]>
  /**
   * The rows of a select prepared once (`selection` is what it selects), read the cheapest way the
   * driver has. SQLite hands them over as arrays, made objects by the selection's keys when no
   * column needs decoding (integers and text): drizzle's own mapping decodes each value, which for
   * a page of messages costs as much again as SQLite reading them. Otherwise, and on Postgres, the
   * rows are drizzle's.
   */
  selectRows<R>(selection: Record<string, unknown>, prepared: PreparedSelect<R>): (values: Values) => Promise<R[]>
  /** Raw SQL built once (as `rawStatement`), run as a transaction's step with its values: its rows. */
  rawStep<T>(build: (value: ValueOf) => SQL): Statement<T[]>
}

/**
 * A statement of several forms (a query whose shape depends on what is asked: a direction, a
 * filter), each form built the first time it is asked for and then kept: a call builds no SQL.
 * `key` names a form; the forms are few by construction.
 */
export function formsOf<F>(key: (form: F) => string | number) {
  return <S>(build: (form: F) => S): ((form: F) => S) => {
    const forms = new Map<string | number, S>()
    return (form) => {
      const name = key(form)
      let built = forms.get(name)
      if (!built) forms.set(name, (built = build(form)))
      return built
    }
  }
}

/**
 * Statements over a list of values, one form per length of list (see `formsOf`). `build` gets the
 * names of the list's values, `i0`, `i1`… (see `listValues`), for placeholders or a raw statement's
 * `value`; a list longer than `most` builds its own form each call, so the forms kept stay few.
 */
export function formsByLength<S>(most: number, build: (names: string[]) => S): (length: number) => S {
  const names = (length: number) => Array.from({ length }, (_, i) => `i${i}`)
  const kept = formsOf((length: number) => length)((length) => build(names(length)))
  return (length) => (length > most ? build(names(length)) : kept(length))
}

/** Placeholders of these names (a list's, from `formsByLength`). */
export const placeholders = (names: readonly string[]) => names.map((name) => sql.placeholder(name))

/** A list's values by the names `formsByLength` gives its placeholders, beside `values`. */
export function listValues(list: readonly unknown[], values: Values = {}): Values {
  for (const [i, value] of list.entries()) values[`i${i}`] = value
  return values
}

/**
 * Feeds each step's outcome (from `execute`) back into the body until it returns; its `committed`
 * steps go into `after`, for the caller to run once the transaction committed.
 */
function drive<T>(body: Generator<Step, T, unknown>, execute: (step: QueryStep) => unknown, after: (() => void)[]): T {
  let next = body.next()
  while (!next.done) {
    let outcome: unknown
    try {
      outcome = next.value.kind === 'committed' ? void after.push(next.value.action) : execute(next.value)
    } catch (error) {
      next = body.throw(error)
      continue
    }
    next = body.next(outcome)
  }
  return next.value
}

async function driveAsync<T>(body: Generator<Step, T, unknown>, execute: (step: QueryStep) => Promise<unknown>, after: (() => void)[]): Promise<T> {
  let next = body.next()
  while (!next.done) {
    let outcome: unknown
    try {
      outcome = next.value.kind === 'committed' ? void after.push(next.value.action) : await execute(next.value)
    } catch (error) {
      next = body.throw(error)
      continue
    }
    next = body.next(outcome)
  }
  return next.value
}

/** The synchronous forms SQLite's builders have beside being awaited. */
type SyncQuery = { all(): unknown; run(): unknown }

const sqliteDialect = new SQLiteSyncDialect()

/** Raw statements go through bun:sqlite's statement cache by their text: the outbox's passes and the inbox queries run the same few again and again. */
const sqliteRawRows = <T>(db: SqliteDb, query: SQL): T[] => {
  const { sql, params } = sqliteDialect.sqlToQuery(query)
  return db.$client.query<T, never[]>(sql).all(...(params as never[]))
}

/** Runs one step on SQLite, synchronously. */
const sqliteStep = (db: SqliteDb, step: QueryStep): unknown => {
  if (step.kind === 'raw') return sqliteRawRows(db, step.query)
  if (step.kind === 'statement') return step.run(undefined)
  const query = step.query as unknown as SyncQuery
  return step.kind === 'run' ? void query.run() : query.all()
}

/**
 * Runs steps written once inside a SQLite transaction already open (a batch's): what they leave to
 * do once it has committed goes into `after`, which the batch runs then.
 */
export const runSqliteSteps = <T>(db: SqliteDb, body: Generator<Step, T, unknown>, after: (() => void)[]): T => drive(body, (step) => sqliteStep(db, step), after)

/** Runs what a transaction left to do once it committed (see `afterCommit`). */
export const runAfterCommit = (after: readonly (() => void)[]): void => {
  for (const action of after) action()
}

export function sqliteDatabase(db: SqliteDb): SqlDatabase {
  const dialect = sqliteDialect
  const rawRows = <T>(query: SQL): T[] => sqliteRawRows(db, query)
  const execute = (step: QueryStep): unknown => sqliteStep(db, step)
  return {
    dialect: 'sqlite',
    db,
    t: tables,
    rows: async <T>(query: SQL) => rawRows<T>(query),
    transaction: async <T>(body: Transaction<T>) => {
      const after: (() => void)[] = []
      const result = db.transaction((tx) => drive(body(tx), execute, after))
      runAfterCommit(after)
      return result
    },
    rawStatement: <T>(build: (value: ValueOf) => SQL) => {
      const query = dialect.sqlToQuery(build((name) => sql.placeholder(name)))
      return async (values: Values) => db.$client.query<T, never[]>(query.sql).all(...(fillPlaceholders(query.params, values) as never[]))
    },
    selectRows: <R>(selection: Record<string, unknown>, prepared: PreparedSelect<R>) => {
      if (!Object.values(selection).every(undecoded)) return async (values: Values) => prepared.execute(values)
      const keys = Object.keys(selection)
      const arrays = prepared as unknown as { values(values: Values): unknown[][] }
      return async (values: Values) =>
        arrays.values(values).map((row) => {
          const object: Record<string, unknown> = {}
          for (let i = 0; i < keys.length; i++) object[keys[i]!] = row[i]
          return object as R
        })
    },
    rawStep: <T>(build: (value: ValueOf) => SQL): Statement<T[]> => {
      const query = dialect.sqlToQuery(build((name) => sql.placeholder(name)))
      const statement = db.$client.prepare<T, never[]>(query.sql)
      return function* (values) {
        return (yield { kind: 'statement', run: () => statement.all(...(fillPlaceholders(query.params, values) as never[])) }) as T[]
      }
    },
    statement: <Q extends PromiseLike<unknown>>(build: (q: QueryBuilder) => Q, mode: StatementMode): Statement<Awaited<Q>> => {
      // bun:sqlite's statement through drizzle's prepared query (its row mapping included).
      const prepared = (build(db) as unknown as { prepare(): { all(values: Values): unknown; run(values: Values): unknown } }).prepare()
      const run = mode === 'run' ? (values: Values) => prepared.run(values) : (values: Values) => prepared.all(values)
      return function* (values) {
        return (yield { kind: 'statement', run: () => run(values) }) as Awaited<Q>
      }
    },
  }
}

export function postgresDatabase(db: PgDb): SqlDatabase {
  const execute = (tx: PgDb) => async (step: QueryStep) => {
    if (step.kind === 'raw') return [...(await tx.execute(step.query))]
    if (step.kind === 'statement') return step.run(tx)
    if (step.kind === 'lock') return (step.query as unknown as { for(strength: 'update'): PromiseLike<unknown> }).for('update')
    return step.query
  }
  return {
    dialect: 'postgres',
    // Same method names, same query shapes; typed once (see above).
    db: db as unknown as QueryBuilder,
    t: pgTables as unknown as typeof tables,
    rows: async <T>(query: SQL) => [...(await db.execute(query))] as T[],
    transaction: async <T>(body: Transaction<T>) => {
      const after: (() => void)[] = []
      const result = await db.transaction((tx) => driveAsync(body(tx as unknown as QueryBuilder), execute(tx as unknown as PgDb), after))
      runAfterCommit(after)
      return result
    },
    rawStatement:
      <T>(build: (value: ValueOf) => SQL) =>
      async (values: Values) =>
        [...(await db.execute(build((name) => values[name])))] as T[],
    selectRows:
      <R>(_selection: Record<string, unknown>, prepared: PreparedSelect<R>) =>
      async (values: Values) =>
        prepared.execute(values),
    rawStep: <T>(build: (value: ValueOf) => SQL): Statement<T[]> =>
      function* (values) {
        const run = async (tx: unknown) => [...(await (tx as PgDb).execute(build((name) => values[name])))]
        return (yield { kind: 'statement', run }) as T[]
      },
    statement: <Q extends PromiseLike<unknown>>(build: (q: QueryBuilder) => Q, mode: StatementMode): Statement<Awaited<Q>> =>
      function* (values) {
        const run = (tx: unknown) => {
          const query = build(tx as QueryBuilder) as unknown as { for(strength: 'update'): unknown; execute(values: Values): unknown }
          return (mode === 'lock' ? (query.for('update') as typeof query) : query).execute(values)
        }
        return (yield { kind: 'statement', run }) as Awaited<Q>
      },
  }
}
