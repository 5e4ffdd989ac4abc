import { createdRow } from './store.ts'
import { describe, expect, it } from 'bun:test'
import { GroupCommit, Refusal, type WrittenBatch } from './group-commit.ts'
import type { MessageRow, NewMessage } from './store.ts'
import { StoreClosedError } from './turn-queue.ts'

const message = (body: string): NewMessage => ({ roomId: 1, userId: 'u1', email: 'u1@example.com', nickname: 'U1', profileUrl: null, body, clientMsgId: null, createdAt: 0 })

/**
 * A batch writer over an array: a batch holding a message with body "poison" fails as a whole
 * (as one row Postgres refuses aborts its transaction); "refused" is refused alone, as a message
 * to an unknown room is. `delay` makes each write take that many milliseconds.
 */
function fakeDatabase(options: { delay?: number; failWith?: unknown } = {}) {
  const stored: MessageRow[] = []
  const batches: string[][] = []
  const write = async (batch: readonly NewMessage[]): Promise<WrittenBatch> => {
    batches.push(batch.map((m) => m.body))
    if (options.delay) await Bun.sleep(options.delay)
    if (options.failWith) throw options.failWith
    if (batch.some((m) => m.body === 'poison')) throw new Error('the transaction was rolled back')
    const outcomes: WrittenBatch['outcomes'] = []
    const created: MessageRow[] = []
    for (const m of batch) {
      if (m.body === 'refused') {
        outcomes.push(new Refusal(new Error('refused alone')))
        continue
      }
      const row = createdRow(m, stored.length + 1, stored.length + 1, stored.length + 1)
      stored.push(row)
      created.push(row)
      outcomes.push({ message: row, duplicate: false })
    }
    return { outcomes, created }
  }
  return { stored, batches, write }
}

describe('GroupCommit', () => {
  it('should write every append of one turn in one batch, and the next turn in the next', async () => {
    const db = fakeDatabase()
    const commits = new GroupCommit(db.write)
    await Promise.all(['a', 'b', 'c'].map((body) => commits.append(message(body))))
    await Promise.all(['d', 'e'].map((body) => commits.append(message(body))))
    expect(db.batches).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ])
  })

  it('should keep appends made while a batch is being written for the next batch, one batch at a time', async () => {
    const db = fakeDatabase({ delay: 20 })
    const commits = new GroupCommit(db.write)
    const first = commits.append(message('a'))
    await Bun.sleep(5) // the first batch is being written now
    const later = ['b', 'c'].map((body) => commits.append(message(body)))
    await Promise.all([first, ...later])
    expect(db.batches).toEqual([['a'], ['b', 'c']])
  })

  it('should resolve the appends of a committed batch in append order (the order they are published in)', async () => {
    const db = fakeDatabase()
    const events: string[] = []
    const commits = new GroupCommit(db.write, (size) => events.push(`observed ${size}`))
    await Promise.all(['a', 'b', 'c'].map((body) => commits.append(message(body)).then((r) => events.push(`resolved ${r.message.body} #${r.message.id}`))))
    expect(events).toEqual(['observed 3', 'resolved a #1', 'resolved b #2', 'resolved c #3'])
  })

  it('should reject a message its writer refuses alone, and store the others of the batch', async () => {
    const db = fakeDatabase()
    const commits = new GroupCommit(db.write)
    const outcomes = await Promise.allSettled(['a', 'refused', 'b'].map((body) => commits.append(message(body))))
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    expect(db.batches).toEqual([['a', 'refused', 'b']])
  })

  it('should write the rest of a failed batch without the message that failed it', async () => {
    const db = fakeDatabase()
    const commits = new GroupCommit(db.write)
    const bodies = ['a', 'b', 'c', 'd', 'e', 'poison', 'f', 'g', 'h']
    const outcomes = await Promise.allSettled(bodies.map((body) => commits.append(message(body))))
    expect(outcomes.map((o) => o.status)).toEqual(bodies.map((b) => (b === 'poison' ? 'rejected' : 'fulfilled')))
    expect((outcomes[5] as PromiseRejectedResult).reason).toEqual(new Error('the transaction was rolled back'))
    // Stored in the order sent, each once, ids ascending.
    expect(db.stored.map((r) => r.body)).toEqual(bodies.filter((b) => b !== 'poison'))
    const ids = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value.message.id] : []))
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    // Halves, not one transaction per message: the poisoned one ends up alone after a few splits.
    expect(db.batches.length).toBeLessThan(bodies.length)
    expect(db.batches.filter((b) => b.includes('poison')).at(-1)).toEqual(['poison'])
  })

  it('should not retry a batch that failed because the database is unreachable', async () => {
    const outage = Object.assign(new Error('connection refused'), { code: 'ERR_POSTGRES_CONNECTION_REFUSED' })
    const db = fakeDatabase({ failWith: outage })
    const commits = new GroupCommit(db.write)
    const outcomes = await Promise.allSettled(['a', 'b', 'c', 'd'].map((body) => commits.append(message(body))))
    expect(outcomes.map((o) => (o.status === 'rejected' ? o.reason : o.status))).toEqual([outage, outage, outage, outage])
    expect(db.batches).toEqual([['a', 'b', 'c', 'd']])
  })

  it('should write what is pending when closed, then refuse new appends', async () => {
    const db = fakeDatabase({ delay: 10 })
    const commits = new GroupCommit(db.write)
    const first = commits.append(message('a'))
    await Bun.sleep(2)
    const pending = commits.append(message('b'))
    await commits.close()
    expect(db.stored.map((r) => r.body)).toEqual(['a', 'b'])
    expect((await first).message.id).toBe(1)
    expect((await pending).message.id).toBe(2)
    await expect(commits.append(message('c'))).rejects.toBeInstanceOf(StoreClosedError)
    await commits.close()
    expect(db.batches).toEqual([['a'], ['b']])
  })
})
