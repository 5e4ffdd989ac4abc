import type { Logger } from '../logger.ts'
import type { MessageRow, SequencedStore } from '../store/store.ts'

export type { SequencedStore }

/** At most this many messages are read from the store at once. */
const FILL_BATCH = 500
/** After a failed read, wait this long before the next, doubling up to the maximum. */
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 5000

/**
 * One room's messages, delivered in `seq` order: the order the database committed them in, not the
 * order Redis brought them. A message that arrives early waits; a gap is read from the store. The
 * store's promise makes that safe: whoever sees seq n knows every seq up to n is committed, so a
 * read of a range below a seen (or read) seq returns all of that range that will ever exist.
 */
export class RoomOrder {
  /** The next seq to deliver; null until `start` says where the room stood. */
  private next: number | null = null
  /** Messages that arrived before their turn, by seq (all >= next once next is known). */
  private readonly early = new Map<number, MessageRow>()
  /** The highest seq known to be committed. */
  private known = 0
  private filling = false
  private retryMs = 0
  private closed = false
  /** Replays waiting for the stream to pass a seq. */
  private waiters: { seq: number; resolve: () => void }[] = []

  constructor(
    private readonly roomId: number,
    private readonly store: SequencedStore,
    private readonly deliver: (row: MessageRow) => void,
    private readonly logger: Logger,
  ) {}

  /** The room stood at `lastSeq` when its subscription began: deliver from the seq after it. */
  start(lastSeq: number): void {
    this.next = lastSeq + 1
    this.known = Math.max(this.known, lastSeq)
    // What arrived between SUBSCRIBE and the read of lastSeq is older than the start: not ours to send.
    for (const seq of this.early.keys()) if (seq < this.next) this.early.delete(seq)
    this.drain()
  }

  /** Takes a committed message into the order (duplicates and late copies are dropped). */
  accept(row: MessageRow): void {
    const seq = row.seq
    if (this.closed || seq === undefined || (this.next !== null && seq < this.next)) return
    this.known = Math.max(this.known, seq)
    this.early.set(seq, row)
    this.drain()
  }

  /** Everything up to `lastSeq` is committed (read after the subscription was restored): deliver it. */
  catchUp(lastSeq: number): void {
    if (this.closed || lastSeq <= this.known) return
    this.known = lastSeq
    this.drain()
  }

  /**
   * Resolves once the room's messages up to `seq` are delivered. The caller read `seq` from the
   * database, so it is committed: if it never comes through Redis, it is read from the store.
   */
  whenDelivered(seq: number): Promise<void> {
    if (this.closed || (this.next !== null && this.next > seq)) return Promise.resolve()
    const { promise, resolve } = Promise.withResolvers<void>()
    this.waiters.push({ seq, resolve })
    this.catchUp(seq)
    return promise
  }

  /** Stops: nothing more is delivered, and waiting replays go ahead. */
  close(): void {
    this.closed = true
    this.early.clear()
    for (const waiter of this.waiters) waiter.resolve()
    this.waiters = []
  }

  /** Delivers what is next in order; on a gap, reads the missing messages from the store. */
  private drain() {
    if (this.next === null || this.closed) return
    for (let row = this.early.get(this.next); row; row = this.early.get(this.next)) {
      this.early.delete(this.next)
      this.next++
      this.deliver(row)
    }
    if (this.waiters.length > 0) {
      const next = this.next
      for (const waiter of this.waiters) if (waiter.seq < next) waiter.resolve()
      this.waiters = this.waiters.filter((w) => w.seq >= next)
    }
    if (this.filling) return
    // The gap runs from next to just below the first early message, or to the highest known seq.
    let end = this.known
    for (const seq of this.early.keys()) if (seq <= end) end = seq - 1
    if (end < this.next) return
    this.fill(this.next, Math.min(end, this.next + FILL_BATCH - 1)).catch((err) => this.logger.error('delivering missed messages failed', { room: this.roomId, err }))
  }

  /** Reads [from, to], all of it committed, and delivers it; on failure, waits before the next try. */
  private async fill(from: number, to: number) {
    this.filling = true
    let rows: MessageRow[] | null = null
    try {
      rows = await this.store.messagesBySeq(this.roomId, from, to)
      this.retryMs = 0
    } catch (err) {
      this.retryMs = Math.min(Math.max(this.retryMs * 2, RETRY_MIN_MS), RETRY_MAX_MS)
      this.logger.error('reading missed messages failed; retrying', { room: this.roomId, err, retryMs: this.retryMs })
      await Bun.sleep(this.retryMs)
    } finally {
      this.filling = false
    }
    if (rows) this.take(rows, to)
    this.drain()
  }

  /**
   * Delivers a read of everything committed up to `to`. A seq missing from it does not exist, so
   * the stream moves past it: that is what keeps an empty read from being asked again and again.
   */
  private take(rows: MessageRow[], to: number) {
    if (this.closed || this.next === null) return
    for (const row of rows) if (row.seq !== undefined && row.seq >= this.next) this.early.set(row.seq, row)
    for (; this.next <= to; this.next++) {
      const row = this.early.get(this.next)
      if (!row) {
        this.logger.warn('a message position is missing from the store; skipping it', { room: this.roomId, seq: this.next })
        continue
      }
      this.early.delete(this.next)
      this.deliver(row)
    }
  }
}
