import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Presence } from '../realtime/presence.ts'
import type { MessageRow, Store } from '../store/store.ts'
import type { WebhookEventRow } from '../store/outbox.ts'
import { version } from '../version.ts'
import { eventIdPrefix, toEnvelope } from './payload.ts'
import { signatureHeader } from './signing.ts'

/** How often due events are looked for when nothing wakes the dispatcher sooner. */
const POLL_MS = 250
/** How often the pending count and the oldest pending age are refreshed for the metrics. */
const STATS_MS = 5000
/** Delivered events are forgotten after a day (dead letters are kept until re-queued). */
const KEEP_DELIVERED_MS = 86_400_000
const PRUNE_MS = 600_000

type Outcome = { kind: 'delivered' } | { kind: 'retry'; error: string; retryAfterMs: number | null } | { kind: 'dead'; error: string }

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now; null when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null) return null
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}

/**
 * Sends the outbox's events to WEBHOOK_URL, from every instance: each claims due events (the oldest
 * pending of each room, so a room's events go out in order) for a lease longer than a request may
 * take, POSTs them signed, and records the outcome. Failures are retried with exponential backoff
 * and jitter (Retry-After honoured) until WEBHOOK_MAX_AGE, then dead-lettered; other 4xx answers
 * dead-letter at once. An instance that dies holding a claim loses it when the lease runs out.
 */
export class WebhookDispatcher {
  private readonly instance = crypto.randomUUID()
  private readonly leaseMs: number
  private inflight = 0
  private readonly running = new Set<Promise<void>>()
  private stopped = false
  private ticking = false
  private again = false
  private readonly timers: ReturnType<typeof setInterval>[] = []
  private idPrefix = ''

  constructor(
    private readonly store: Store,
    private readonly presence: Presence,
    private readonly config: Config & { WEBHOOK_URL: string; WEBHOOK_SECRET: string },
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.leaseMs = 2 * config.WEBHOOK_TIMEOUT * 1000 + 1000
  }

  async start(): Promise<void> {
    // Ids are unique per database: its epoch's start, then the event's number.
    this.idPrefix = eventIdPrefix(await this.store.epoch())
    this.timers.push(setInterval(() => this.wake(), POLL_MS))
    this.timers.push(setInterval(() => void this.refreshStats(), STATS_MS))
    this.timers.push(setInterval(() => void this.prune(), PRUNE_MS))
    for (const timer of this.timers) timer.unref()
    void this.refreshStats()
    this.wake()
  }

  /** Looks for due events now (something was just written, or a delivery ended). */
  wake(): void {
    if (this.stopped) return
    if (this.ticking) {
      this.again = true
      return
    }
    this.ticking = true
    void this.tick().finally(() => {
      this.ticking = false
      if (this.again) {
        this.again = false
        this.wake()
      }
    })
  }

  /** Stops claiming; waits for the requests in flight (they are bounded by WEBHOOK_TIMEOUT). */
  async stop(): Promise<void> {
    this.stopped = true
    for (const timer of this.timers) clearInterval(timer)
    await Promise.allSettled([...this.running])
  }

  private async tick() {
    const free = this.config.WEBHOOK_CONCURRENCY - this.inflight
    if (free <= 0) return
    let events: WebhookEventRow[]
    try {
      events = await this.store.outbox.claim(this.instance, Date.now(), free, this.leaseMs)
    } catch (err) {
      return this.logger.warn('claiming webhook events failed; will retry', { err })
    }
    for (const event of events) {
      this.inflight++
      const delivery = this.deliver(event).finally(() => {
        this.inflight--
        this.running.delete(delivery)
        this.wake()
      })
      this.running.add(delivery)
    }
  }

  private async deliver(event: WebhookEventRow) {
    try {
      if (event.type === 'message.created') await this.noteOffline(event)
      const outcome = await this.post(event)
      const now = Date.now()
      if (outcome.kind === 'delivered') {
        await this.store.outbox.delivered(event.id, this.instance, now)
        this.metrics.webhookDeliveries.labels('delivered').inc()
        return
      }
      const retryAt = outcome.kind === 'retry' ? this.retryAt(event, outcome.retryAfterMs, now) : null
      await this.store.outbox.failed(event.id, this.instance, outcome.error, retryAt, now)
      this.metrics.webhookDeliveries.labels(retryAt === null ? 'dead' : 'retry').inc()
      if (retryAt === null) this.logger.warn('webhook dead-lettered', { event: event.id, type: event.type, error: outcome.error })
    } catch (err) {
      // Recording the outcome failed (the database is away): the lease runs out and it is sent again.
      this.logger.warn('recording a webhook outcome failed; it will be sent again', { event: event.id, err })
    }
  }

  /**
   * A message's `offline_user_ids`, decided once, at its first attempt (moments after the commit):
   * the room's members (or an open room's first participants) but the sender with no socket in the
   * room on any instance. Kept with the event, so every retry says the same.
   */
  private async noteOffline(event: WebhookEventRow) {
    const stored = JSON.parse(event.data) as { message: MessageRow; offlineUserIds?: string[] }
    if (stored.offlineUserIds) return
    const { roomId, userId } = stored.message
    const [everyone, online] = await Promise.all([this.store.membership.userIdsOf(roomId, this.config.OFFLINE_USERS_LIMIT + 1), this.presence.online(roomId)])
    const here = new Set(online.map((u) => u.user_id))
    stored.offlineUserIds = everyone.filter((id) => id !== userId && !here.has(id)).slice(0, this.config.OFFLINE_USERS_LIMIT)
    event.data = JSON.stringify(stored)
    await this.store.outbox.setData(event.id, event.data)
  }

  private async post(event: WebhookEventRow): Promise<Outcome> {
    const body = JSON.stringify(toEnvelope(event, this.idPrefix))
    const id = `${this.idPrefix}${event.id}`
    try {
      const res = await fetch(this.config.WEBHOOK_URL, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': `gateway-chat/${version}`,
          'x-chat-event-id': id,
          'x-chat-signature': signatureHeader(this.config.WEBHOOK_SECRET, body, Math.floor(Date.now() / 1000)),
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.config.WEBHOOK_TIMEOUT * 1000),
      })
      await res.arrayBuffer().catch(() => {})
      if (res.status >= 200 && res.status < 300) return { kind: 'delivered' }
      const error = `HTTP ${res.status}`
      if (res.status === 408 || res.status === 429 || res.status >= 500) return { kind: 'retry', error, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) }
      return { kind: 'dead', error: `${error} (not retried: the receiver refused it)` }
    } catch (err) {
      const error = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${this.config.WEBHOOK_TIMEOUT} s` : `request failed: ${err instanceof Error ? err.message : String(err)}`
      return { kind: 'retry', error, retryAfterMs: null }
    }
  }

  /**
   * When to try again: about WEBHOOK_RETRY_MIN_MS after the first failure, doubling up to
   * WEBHOOK_RETRY_MAX, half of it random (so failed events do not all come back at once), or when
   * Retry-After says; null (dead) past WEBHOOK_MAX_AGE.
   */
  private retryAt(event: WebhookEventRow, retryAfter: number | null, now: number): number | null {
    const ceiling = this.config.WEBHOOK_RETRY_MAX * 1000
    const backoff = Math.min(ceiling, this.config.WEBHOOK_RETRY_MIN_MS * 2 ** Math.min(30, event.attempts))
    const delay = retryAfter ?? backoff / 2 + (Math.random() * backoff) / 2
    const at = now + delay
    return at - event.createdAt > this.config.WEBHOOK_MAX_AGE * 1000 ? null : at
  }

  private async refreshStats() {
    try {
      const stats = await this.store.outbox.stats(Date.now())
      this.metrics.webhookPending.set(stats.pending)
      this.metrics.webhookOldestPendingSeconds.set(stats.oldestPendingMs / 1000)
      this.metrics.webhookDeadLetters.set(stats.dead)
    } catch (err) {
      this.logger.warn('reading webhook outbox figures failed', { err })
    }
  }

  private async prune() {
    try {
      await this.store.outbox.prune(Date.now() - KEEP_DELIVERED_MS)
    } catch (err) {
      this.logger.warn('pruning delivered webhook events failed', { err })
    }
  }
}
