import type { BatchObserver } from '../metrics.ts'
import { WriteHealth } from './storage-problem.ts'
import { isStorageOutage, type AppendResult, type MessageRow, type NewMessage } from './rows.ts'
import { type Reject, type Resolve, TurnQueue } from './turn-queue.ts'

/** A message its batch writer refused alone (say, to a room that does not exist) while the rest committed. */
export class Refusal {
  constructor(readonly error: unknown) {}
}

/** What one committed batch produced. */
export interface WrittenBatch {
  /** One per message, in the order given: what storing it produced, or its `Refusal`. */
  outcomes: (AppendResult | Refusal)[]
  /** The messages it stored, ascending id. */
  created: MessageRow[]
}

/**
 * Writes messages in one transaction. Returns once it has committed; throws when the transaction
 * failed as a whole, and then nothing of it is stored.
 */
export type BatchWriter = (batch: readonly NewMessage[]) => WrittenBatch | Promise<WrittenBatch>

/**
 * The group-commit queue both stores use. Every append made in one event-loop turn goes into one
 * batch, written by the store's `BatchWriter` in one transaction; what arrives meanwhile waits for
 * the next. Commit listeners see each committed batch before its promises settle.
 *
 * When a batch fails as a whole for a reason other than an outage (one message the database
 * refuses aborts the transaction), each half is written on its own, down to the one message that
 * fails: it is rejected alone and everyone else's messages are stored.
 */
export class GroupCommit {
  private readonly queue = new TurnQueue<NewMessage, AppendResult>((messages, resolves, rejects) => this.commit(messages, resolves, rejects))

  constructor(
    private readonly write: BatchWriter,
    private readonly observeBatch: BatchObserver = () => {},
    private readonly health: WriteHealth = new WriteHealth(),
  ) {}

  /** Queues a message; resolves once its batch has committed (a batch's appends resolve in append order). */
  append(message: NewMessage): Promise<AppendResult> {
    return this.queue.add(message)
  }

  /** Refuses new appends and resolves once everything queued before has been written. */
  close(): Promise<void> {
    return this.queue.close()
  }

  /** Writes one batch, or, when it fails but not for an outage, each half on its own. */
  private async commit(messages: NewMessage[], resolves: Resolve<AppendResult>[], rejects: Reject[]): Promise<void> {
    const started = performance.now()
    let written: WrittenBatch
    try {
      written = await this.write(messages)
    } catch (error) {
      if (messages.length === 1 || isStorageOutage(error)) {
        this.health.failed(error)
        for (const reject of rejects) reject(error)
        return
      }
      const half = messages.length >>> 1
      await this.commit(messages.slice(0, half), resolves.slice(0, half), rejects.slice(0, half))
      await this.commit(messages.slice(half), resolves.slice(half), rejects.slice(half))
      return
    }
    this.observeBatch(messages.length, (performance.now() - started) / 1000)
    this.health.succeeded()
    const { outcomes } = written
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i]!
      if (outcome instanceof Refusal) rejects[i]!(outcome.error)
      else resolves[i]!(outcome)
    }
  }
}
