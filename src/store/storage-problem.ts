/**
 * Storage that answers but cannot write: a full disk, a read-only database (a replica after a
 * failover, a file system remounted read-only), damaged pages. Each has its own code, so an
 * operator (readiness) and a client (the refused write) learn which, not "cannot be reached".
 */
export type StorageProblemCode = 'storage_full' | 'storage_read_only' | 'storage_damaged'

/** SQLite's codes and Postgres's SQLSTATEs (Bun SQL's `errno`) for each problem. */
const SQLITE: Record<string, StorageProblemCode> = {
  SQLITE_FULL: 'storage_full',
  SQLITE_READONLY: 'storage_read_only',
  SQLITE_CORRUPT: 'storage_damaged',
  SQLITE_NOTADB: 'storage_damaged',
}
const SQLSTATE: Record<string, StorageProblemCode> = {
  '53100': 'storage_full', // disk_full
  '25006': 'storage_read_only', // read_only_sql_transaction
  XX001: 'storage_damaged', // data_corrupted
  XX002: 'storage_damaged', // index_corrupted
}

/** What an error says about storage that cannot write, looking through drizzle's cause chain; null for other errors. */
export function storageProblemOf(error: unknown): StorageProblemCode | null {
  for (let e = error, depth = 0; typeof e === 'object' && e !== null && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof StorageProblem) return e.code
    const { code, errno } = e as { code?: unknown; errno?: unknown }
    if (typeof code === 'string') {
      const found = SQLITE[code] ?? SQLITE[code.replace(/_[A-Z]+$/, '')]
      if (found) return found
    }
    if (typeof errno === 'string' && SQLSTATE[errno]) return SQLSTATE[errno]
  }
  return null
}

/** Thrown by a store's readiness check while it cannot write. */
export class StorageProblem extends Error {
  constructor(
    readonly code: StorageProblemCode,
    message: string,
  ) {
    super(message)
    this.name = 'StorageProblem'
  }
}

/** What each problem means for whoever sent the write. */
export const storageProblemText: Record<StorageProblemCode, string> = {
  storage_full: 'The server’s storage is full; nothing was stored. Try again later.',
  storage_read_only: 'The server’s storage is read-only right now; nothing was stored. Try again shortly.',
  storage_damaged: 'The server’s storage reported damage; nothing was stored.',
}

/**
 * The last write's verdict on a store: set when a write fails for one of the problems above,
 * cleared by the next write that commits. Readiness reports it until then.
 */
export class WriteHealth {
  private last: StorageProblem | null = null

  get problem(): StorageProblem | null {
    return this.last
  }

  failed(error: unknown): void {
    const code = storageProblemOf(error)
    if (code) this.last = new StorageProblem(code, error instanceof Error ? error.message : String(error))
  }

  succeeded(): void {
    this.last = null
  }

  /** Runs a write whose outcome says whether storage can write (a heartbeat, readiness's probe). */
  async probe(write: () => unknown): Promise<void> {
    try {
      await write()
    } catch (error) {
      this.failed(error)
      throw error
    }
    // Damage does not heal by itself: only a message that commits again clears it.
    if (this.last?.code !== 'storage_damaged') this.succeeded()
  }

  /** After a write failed for one of the problems: a probe write confirms it (thrown) or clears it. */
  async recheck(write: () => unknown): Promise<void> {
    const problem = this.last
    if (!problem) return
    try {
      await this.probe(write)
    } catch {
      throw this.last ?? problem
    }
    if (this.last) throw this.last
  }
}
