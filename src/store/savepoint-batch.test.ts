import { describe, expect, it } from 'bun:test'
import { sql } from 'drizzle-orm'
import { openSqlite } from '../db/sqlite.ts'
import { SavepointBatch } from './savepoint-batch.ts'
import { afterCommit, raw, type Transaction } from './sql-database.ts'
import { StoreClosedError } from './turn-queue.ts'

/** A batch over an in-memory database with one table of numbers. */
function setup() {
  const db = openSqlite(':memory:')
  db.$client.run('create table numbers (n integer not null)')
  const batch = new SavepointBatch(db)
  const stored = () => (db.$client.query('select n from numbers order by n').all() as { n: number }[]).map((r) => r.n)
  /** Inserts `n`, then throws when `refuse`: its insert must not stay. */
  const insert = (n: number, refuse = false): Transaction<number> =>
    function* () {
      yield* raw(sql`insert into numbers (n) values (${n})`)
      if (refuse) throw new Error(`refused ${n}`)
      return n
    }
  return { db, batch, stored, insert }
}

describe('a batch of transactions in savepoints', () => {
  it('should commit those of one turn together, and roll back alone the one that throws', async () => {
    const { batch, stored, insert } = setup()
    const outcomes = await Promise.allSettled([batch.run(insert(1)), batch.run(insert(2, true)), batch.run(insert(3))])
    expect(outcomes.map((o) => (o.status === 'fulfilled' ? o.value : (o.reason as Error).message))).toEqual([1, 'refused 2', 3])
    expect(stored()).toEqual([1, 3])
  })

  it('should settle in the order asked, each once its batch committed', async () => {
    const { batch, stored, insert } = setup()
    const seen: number[] = []
    const first = batch.run(insert(1)).then((n) => seen.push(n))
    // Asked while the first batch waits for its turn: the same batch.
    const second = batch.run(insert(2)).then((n) => {
      seen.push(n)
      expect(stored()).toEqual([1, 2])
    })
    await Promise.all([first, second])
    expect(seen).toEqual([1, 2])
  })

  it('should reject every body of a batch whose transaction cannot commit, and keep nothing of it', async () => {
    const { db, batch, stored, insert } = setup()
    // A foreign key checked at COMMIT: the batch's transaction, not any one savepoint, fails.
    db.$client.run('create table parents (id integer primary key)')
    db.$client.run('create table children (parent integer references parents (id) deferrable initially deferred)')
    const orphan: Transaction<number> = function* () {
      yield* raw(sql`insert into children (parent) values (99)`)
      return 0
    }
    const outcomes = await Promise.allSettled([batch.run(insert(1)), batch.run(orphan), batch.run(insert(2))])
    expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected', 'rejected'])
    expect(stored()).toEqual([])
    // The next batch is a fresh transaction.
    expect(await batch.run(insert(3))).toBe(3)
    expect(stored()).toEqual([3])
  })

  it('should write what was asked before close, and refuse what comes after', async () => {
    const { batch, stored, insert } = setup()
    const pending = batch.run(insert(7))
    await batch.close()
    expect(await pending).toBe(7)
    expect(stored()).toEqual([7])
    await expect(batch.run(insert(8))).rejects.toBeInstanceOf(StoreClosedError)
  })

  it('should do what each body left for after the commit once the batch committed, and nothing of a body rolled back or a batch that failed', async () => {
    const { db, batch, stored, insert } = setup()
    const done: string[] = []
    /** Inserts `n` and leaves a note for after the commit; throws after that when `refuse`. */
    const noting = (n: number, refuse = false): Transaction<number> =>
      function* () {
        yield* raw(sql`insert into numbers (n) values (${n})`)
        yield* afterCommit(() => done.push(`${n}: ${db.$client.inTransaction ? 'in the transaction' : 'committed'}, stored ${stored().join(',')}`))
        if (refuse) throw new Error(`refused ${n}`)
        return n
      }
    await Promise.allSettled([batch.run(noting(1)), batch.run(noting(2, true)), batch.run(noting(3))])
    expect(done).toEqual(['1: committed, stored 1,3', '3: committed, stored 1,3'])
    db.$client.run('create table parents (id integer primary key)')
    db.$client.run('create table children (parent integer references parents (id) deferrable initially deferred)')
    const orphan: Transaction<number> = function* () {
      yield* raw(sql`insert into children (parent) values (99)`)
      return 0
    }
    await Promise.allSettled([batch.run(noting(4)), batch.run(orphan), batch.run(insert(5))])
    expect(done).toHaveLength(2)
  })
})
