import { type Clock, realClock, type Timer } from '../clock.ts'
import type { Thumbnail, ThumbnailJob } from './thumbnail-job.ts'

/** What the worker answers to a job: the thumbnail (null when the codec could not make one) and the memory its codecs now hold. */
export interface ThumbnailReply {
  id: number
  thumbnail: Thumbnail | null
  error?: string
  memoryBytes: number
}

export interface ThumbnailerOptions {
  /** Workers decoding at once (default 1: the machine's other core keeps serving chat). */
  workers?: number
  /**
   * A worker whose WebAssembly memories passed this many bytes is ended after its job, and a new
   * one started for the next: those memories grow to fit the largest image and never shrink.
   * The default, 256 MiB, lets a 12-megapixel photo (48 MB decoded) through without a restart.
   */
  recycleAboveBytes?: number
  /** A job still running after this long has its worker ended, and no thumbnail (default 30 s). */
  timeoutMs?: number
  clock?: Clock
  /** Told why a thumbnail could not be made (the upload is stored without one). */
  onFailure?: (reason: string) => void
}

interface Job {
  id: number
  request: ThumbnailJob
  resolve: (thumbnail: Thumbnail | null) => void
}

interface Slot {
  worker: Worker | null
  job: Job | null
  timer: Timer | null
}

/**
 * Beside this file when run from source. In the compiled binary this module is bundled into the
 * entry (src/index.ts, at the bundle's root) and build.ts embeds the worker as its own
 * entrypoint, under the same path relative to src/ as in the tree.
 */
const WORKER_URL = new URL(import.meta.url.endsWith('/uploads/thumbnail.ts') ? './thumbnail-worker.ts' : './uploads/thumbnail-worker.ts', import.meta.url).href

/**
 * Makes thumbnails on worker threads, one job per worker at a time, the others queued in order.
 * A job never rejects: a worker that fails, crashes or runs too long gives no thumbnail.
 */
export class Thumbnailer {
  private readonly slots: Slot[]
  private readonly queue: Job[] = []
  private readonly recycleAboveBytes: number
  private readonly timeoutMs: number
  private readonly clock: Clock
  private readonly onFailure: (reason: string) => void
  private nextId = 1
  /** Workers started so far (restarts included): tests read it to see a worker replaced. */
  started = 0

  constructor(options: ThumbnailerOptions = {}) {
    this.slots = Array.from({ length: Math.max(1, options.workers ?? 1) }, () => ({ worker: null, job: null, timer: null }))
    this.recycleAboveBytes = options.recycleAboveBytes ?? 256 * 1024 * 1024
    this.timeoutMs = options.timeoutMs ?? 30_000
    this.clock = options.clock ?? realClock
    this.onFailure = options.onFailure ?? (() => {})
  }

  /** The thumbnail of an image whose structure and size were already checked; null when none could be made. */
  make(request: ThumbnailJob): Promise<Thumbnail | null> {
    return new Promise((resolve) => {
      this.queue.push({ id: this.nextId++, request, resolve })
      this.dispatch()
    })
  }

  /** Ends every worker; queued and running jobs get no thumbnail. */
  close(): void {
    for (const job of this.queue.splice(0)) job.resolve(null)
    for (const slot of this.slots) this.end(slot, 'the thumbnailer closed')
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue
      const job = this.queue.shift()!
      slot.job = job
      slot.worker ??= this.spawn(slot)
      slot.timer = this.clock.setTimeout(() => this.end(slot, `no thumbnail after ${this.timeoutMs} ms`), this.timeoutMs)
      slot.worker.postMessage({ id: job.id, ...job.request })
    }
  }

  private spawn(slot: Slot): Worker {
    const worker = new Worker(WORKER_URL)
    this.started++
    // An idle worker does not keep the process alive.
    ;(worker as unknown as { unref(): void }).unref()
    worker.onmessage = (event: MessageEvent<ThumbnailReply>) => {
      const reply = event.data
      if (slot.worker !== worker || slot.job?.id !== reply.id) return
      if (reply.error) this.onFailure(reply.error)
      this.finish(slot, reply.thumbnail)
      if (reply.memoryBytes > this.recycleAboveBytes) this.retire(slot)
      this.dispatch()
    }
    worker.onerror = (event) => {
      event.preventDefault()
      if (slot.worker === worker) this.end(slot, `the thumbnail worker failed: ${event.message}`)
    }
    worker.addEventListener('close', () => {
      if (slot.worker === worker) this.end(slot, 'the thumbnail worker stopped')
    })
    return worker
  }

  private finish(slot: Slot, thumbnail: Thumbnail | null): void {
    if (slot.timer !== null) this.clock.clearTimeout(slot.timer)
    slot.timer = null
    const job = slot.job
    slot.job = null
    job?.resolve(thumbnail)
  }

  /** Ends the slot's worker (a new one starts for the next job). */
  private retire(slot: Slot): void {
    const worker = slot.worker
    slot.worker = null
    worker?.terminate()
  }

  /** Gives the running job no thumbnail, ends the worker, and goes on with the queue. */
  private end(slot: Slot, reason: string): void {
    if (slot.job) this.onFailure(reason)
    this.finish(slot, null)
    this.retire(slot)
    this.dispatch()
  }
}
