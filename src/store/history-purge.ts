import type { Logger } from '../logger.ts'
import type { Store } from './store.ts'

/** How often the kept texts of edited and unsent messages are looked through. */
const PURGE_EVERY_MS = 60 * 60 * 1000

/**
 * Forgets the original texts of edited and unsent messages DELETED_RETENTION_DAYS after their last
 * change, at start and every hour. Every instance does it (the delete is the same whoever runs it).
 */
export class HistoryPurge {
  private timer: ReturnType<typeof setInterval> | undefined

  constructor(
    private readonly store: Pick<Store, 'purgeHistory'>,
    private readonly retentionDays: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    void this.purge()
    this.timer = setInterval(() => void this.purge(), PURGE_EVERY_MS)
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  /** One pass; how many kept texts it forgot (never throws: the next pass tries again). */
  async purge(now = Date.now()): Promise<number> {
    try {
      const purged = await this.store.purgeHistory(now - this.retentionDays * 86_400_000)
      if (purged > 0) this.logger.info('forgot the kept texts of messages changed long ago', { purged, retentionDays: this.retentionDays })
      return purged
    } catch (err) {
      this.logger.warn('purging the kept texts of changed messages failed; trying again later', { err })
      return 0
    }
  }
}
