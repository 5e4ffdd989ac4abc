import type { Clock, Timer } from '../../clock.ts'
import type { Logger } from '../../logger.ts'
import type { Store } from '../../store/store.ts'
import { fileKeys, QUOTA_WINDOW_MS } from '../../store/uploads.ts'
import type { FileStorage } from '../../uploads/storage.ts'

/** How often uploads are looked through. */
const CLEAN_EVERY_MS = 60_000
/**
 * How long after its expiry an upload never sent is let go: a send that claimed it just before it
 * expired is still appending (it links the upload in the append's transaction).
 */
const EXPIRY_GRACE_MS = 10 * 60_000
/** Files deleted per batch, and batches per pass (the rest wait for the next pass). */
const BATCH = 100
const BATCHES_PER_PASS = 20

/** What one pass did. */
export interface Cleaned {
  /** Uploads never sent, now past their expiry. */
  expired: number
  /** Uploads whose files were deleted (expired, or their message unsent DELETED_RETENTION_DAYS ago). */
  deleted: number
}

/**
 * Deletes the files of uploads never sent (after UPLOAD_TTL_SECONDS) and of unsent messages (after
 * DELETED_RETENTION_DAYS), at start and every minute; forgets their rows once the daily quota no
 * longer counts them. Every instance does it: each step is the same whoever runs it, and deleting
 * a file twice is harmless.
 */
export class UploadCleaner {
  private timer: Timer | undefined
  private running: Promise<Cleaned> | undefined
  /** A pass was asked for while one ran: one more runs after it (a tick is never lost to a slow pass). */
  private again = false

  constructor(
    private readonly store: Pick<Store, 'uploads'>,
    private readonly storage: FileStorage,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  start(): void {
    void this.clean()
    this.timer = this.clock.setInterval(() => void this.clean(), CLEAN_EVERY_MS)
  }

  stop(): void {
    this.clock.clearInterval(this.timer)
  }

  /** One pass, or one more after the pass under way; never throws: what fails is tried again at the next. */
  clean(): Promise<Cleaned> {
    if (this.running) {
      this.again = true
      return this.running
    }
    this.running = (async () => {
      let cleaned: Cleaned
      do {
        this.again = false
        cleaned = await this.pass()
      } while (this.again)
      return cleaned
    })().finally(() => {
      this.running = undefined
    })
    return this.running
  }

  private async pass(): Promise<Cleaned> {
    const now = this.clock.wallNow()
    const cleaned: Cleaned = { expired: 0, deleted: 0 }
    try {
      cleaned.expired = await this.store.uploads.expire(now - EXPIRY_GRACE_MS, now)
      for (let batch = 0; batch < BATCHES_PER_PASS; batch++) {
        const due = await this.store.uploads.due(now, BATCH)
        for (const upload of due) {
          const keys = fileKeys(upload.id)
          await this.storage.delete(keys.file)
          if (upload.thumbnail) await this.storage.delete(keys.thumbnail)
          await this.store.uploads.filesDeleted(upload.id, now - QUOTA_WINDOW_MS)
          cleaned.deleted++
        }
        if (due.length < BATCH) break
      }
      await this.store.uploads.forgetOld(now - QUOTA_WINDOW_MS)
    } catch (err) {
      this.logger.warn('cleaning up uploads failed; trying again later', { err })
    }
    if (cleaned.deleted > 0) this.logger.info('deleted the files of uploads never sent or unsent', { ...cleaned })
    return cleaned
  }
}
