/** Thrown for work asked of a store after `close()`. */
export class StoreClosedError extends Error {
  constructor() {
    super('store is closed')
    this.name = 'StoreClosedError'
  }
}

export type Resolve<Result> = (result: Result) => void
export type Reject = (error: unknown) => void

/**
 * Commits one batch and settles each of its items, item `i` through `resolves[i]` or `rejects[i]`.
 * Returns a promise when the commit is asynchronous (Postgres), nothing when it is not (SQLite).
 */
export type CommitBatch<Item, Result> = (items: Item[], resolves: Resolve<Result>[], rejects: Reject[]) => Promise<void> | void

/**
 * The queue under GroupCommit and SavepointBatch. Everything added in one event-loop turn is
 * committed as one batch once the turn is over; what is added while a batch is being committed
 * waits for the next, so batches commit one at a time, in the order their items were added.
 */
export class TurnQueue<Item, Result> {
  // Three parallel arrays rather than an object per item: every message stored passes through here.
  private items: Item[] = []
  private resolves: Resolve<Result>[] = []
  private rejects: Reject[] = []
  private flushing: Promise<void> | null = null
  private closed = false

  constructor(private readonly commit: CommitBatch<Item, Result>) {}

  /** Queues an item; settles as its batch's commit settles it. */
  add(item: Item): Promise<Result> {
    if (this.closed) return Promise.reject(new StoreClosedError())
    return new Promise((resolve, reject) => {
      this.items.push(item)
      this.resolves.push(resolve)
      this.rejects.push(reject)
      this.flushing ??= this.nextTurn()
    })
  }

  /** Refuses new items and resolves once everything queued before has been committed. */
  async close(): Promise<void> {
    this.closed = true
    while (this.flushing) await this.flushing
  }

  private async nextTurn(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve))
    const items = this.items
    const resolves = this.resolves
    const rejects = this.rejects
    this.items = []
    this.resolves = []
    this.rejects = []
    try {
      // A synchronous commit is not awaited: the queue is ready for the next batch before the
      // callers it settled run.
      const committing = this.commit(items, resolves, rejects)
      if (committing instanceof Promise) await committing
    } finally {
      // Whatever arrived while this batch was committed goes into the next one.
      this.flushing = this.items.length > 0 ? this.nextTurn() : null
    }
  }
}
