import type { Database } from 'bun:sqlite'
import type { Logger } from '../logger.ts'

/** The worker's entrypoint, beside this file in the sources and in the compiled binary alike (see build.ts). */
const WORKER_URL = new URL(import.meta.url.endsWith('/store/checkpointer.ts') ? './checkpoint-worker.ts' : './store/checkpoint-worker.ts', import.meta.url).href

/** The worker is told of writes at most this often (it decides when to pass; see checkpoint-worker.ts). */
const TELL_EVERY_MS = 10
/**
 * While the worker runs, the server's own connection checkpoints only when the WAL holds this many
 * pages (about 40 MB at SQLite's 4 KB pages): a bound on the file should the worker fall behind,
 * which under a sustained load it does, since a pass never copies what was written meanwhile.
 */
const BACKSTOP_PAGES = 10_000
/** SQLite's own default: what the server's connection goes back to without the worker. */
const DEFAULT_PAGES = 1000

export type CheckpointerRequest = { kind: 'start'; path: string } | { kind: 'wrote' } | { kind: 'stop' }
export type CheckpointerReply = { kind: 'started' } | { kind: 'failed'; error: string } | { kind: 'passFailed'; error: string } | { kind: 'recovered' } | { kind: 'stopped' }

/**
 * Keeps SQLite's checkpoints off the thread that serves chat. In WAL mode every commit appends
 * whole pages to the WAL, and a checkpoint copies them back into the database file and syncs both
 * files; SQLite runs it inside the commit that crossed 1,000 pages, on the thread that committed,
 * which held every message of the next turns for milliseconds: under the fan-out load, WAL pages
 * came at about 85 MB a second and checkpoints were what the p99 was made of. Here a worker thread,
 * with its own connection, makes passive passes (they never wait for the server nor make it wait)
 * as the server writes, about one per 100 pages written and at most one per 10 ms; the server's
 * connection checkpoints only past BACKSTOP_PAGES, copying what the worker had not yet. Durability
 * is unchanged (synchronous=NORMAL either way). When the worker cannot run (it failed to start or
 * stopped), the server checkpoints by itself as SQLite does by default, and says so once.
 *
 * The worker starts at the first write: a command that only reads, or a server nobody writes to,
 * starts no thread.
 */
export class WalCheckpointer {
  private worker: Worker | null = null
  private toldAt = Number.NEGATIVE_INFINITY
  /** Why the worker is not used (then the connection checkpoints by itself); null while it may be. */
  private failure: string | null = null
  private stopping: Promise<void> | null = null

  constructor(
    private readonly path: string,
    private readonly client: Database,
    /** Hears of a thread that failed and of passes that failed (and recovered). */
    private readonly logger: Pick<Logger, 'warn' | 'info'> | undefined,
  ) {}

  /** A transaction committed: the worker makes a pass (starting it at the first write). */
  wrote(): void {
    if (this.failure !== null || this.stopping) return
    const now = performance.now()
    if (now - this.toldAt < TELL_EVERY_MS) return
    this.toldAt = now
    if (this.worker) this.worker.postMessage({ kind: 'wrote' } satisfies CheckpointerRequest)
    else this.start()
  }

  /** Stops the worker, its connection closed before the server's own closes. */
  stop(): Promise<void> {
    this.stopping ??= this.stopWorker()
    return this.stopping
  }

  private start() {
    let worker: Worker
    try {
      worker = new Worker(WORKER_URL)
    } catch (error) {
      return this.fail(error instanceof Error ? error.message : String(error))
    }
    this.worker = worker
    // The worker does not keep the process alive.
    ;(worker as unknown as { unref(): void }).unref()
    worker.addEventListener('message', (event: MessageEvent<CheckpointerReply>) => {
      const reply = event.data
      if (reply.kind === 'failed') this.fail(reply.error)
      else if (reply.kind === 'passFailed') this.logger?.warn('a SQLite checkpoint failed; the checkpointer tries again as the server writes', { path: this.path, error: reply.error })
      else if (reply.kind === 'recovered') this.logger?.info('SQLite checkpoints succeed again', { path: this.path })
    })
    worker.addEventListener('error', (event) => {
      event.preventDefault()
      this.fail(event.message)
    })
    worker.addEventListener('close', () => {
      if (!this.stopping) this.fail('the checkpointer thread stopped')
    })
    this.client.run(`PRAGMA wal_autocheckpoint = ${BACKSTOP_PAGES}`)
    worker.postMessage({ kind: 'start', path: this.path } satisfies CheckpointerRequest)
  }

  /** The connection checkpoints by itself again. */
  private fail(error: string) {
    if (this.failure !== null || this.stopping) return
    this.failure = error
    this.client.run(`PRAGMA wal_autocheckpoint = ${DEFAULT_PAGES}`)
    this.worker?.terminate()
    this.worker = null
    this.logger?.warn('the SQLite checkpointer thread failed; the server checkpoints by itself', { path: this.path, error })
  }

  private async stopWorker() {
    const worker = this.worker
    if (!worker) return
    this.worker = null
    const stopped = new Promise<void>((resolve) => {
      worker.addEventListener('message', (event: MessageEvent<CheckpointerReply>) => {
        if (event.data.kind === 'stopped') resolve()
      })
      worker.addEventListener('close', () => resolve())
    })
    worker.postMessage({ kind: 'stop' } satisfies CheckpointerRequest)
    // A worker stuck in a pass (a slow disk) is ended rather than waited for.
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([stopped, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))])
    clearTimeout(timer)
    worker.terminate()
  }
}
