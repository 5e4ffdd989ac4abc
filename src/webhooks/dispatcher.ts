import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Presence } from '../realtime/presence.ts'
import type { MessageRow, Store } from '../store/store.ts'
import { LANES, laneOf, type WebhookEventRow } from '../store/outbox.ts'
import { version } from '../version.ts'
import { eventIdPrefix, toEnvelope } from './payload.ts'
import { signatureHeader } from './signing.ts'

/** How often due events are looked for when nothing wakes the dispatcher sooner. */
const POLL_MS = 500
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

/** How many of a lane's pending events one pass over it reads. */
const PASS_EVENTS = 500

/** Collects items added in one turn and hands them over together; each `record` resolves once written. */
class Batcher<T> {
  private items: T[] = []
  private written: Promise<void> | null = null

  constructor(private readonly write: (items: T[]) => Promise<void>) {}

  record(item: T): Promise<void> {
    this.items.push(item)
    this.written ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const items = this.items
      this.items = []
      this.written = null
      return this.write(items)
    })
    return this.written
  }
}

/**
 * A room as one pass finds it, read once for all its messages in the pass: who is in it (with when
 * they joined) and who has a socket in it now.
 */
class RoomNow {
  private read: Promise<{ roster: { userId: string; joinedAt: number }[]; online: Set<string> }> | null = null

  constructor(
    private readonly store: Store,
    private readonly presence: Presence,
    private readonly limit: number,
  ) {}

  /** Those in the room when the message was sent, but its sender, with no socket in the room now. */
  async offline(message: MessageRow): Promise<string[]> {
    this.read ??= Promise.all([this.store.membership.roster(message.roomId, this.limit + 1), this.presence.online(message.roomId)]).then(([roster, online]) => ({ roster, online: new Set(online.map((u) => u.user_id)) }))
    const { roster, online } = await this.read
    // Who joined after the message did not miss it.
    return roster
      .filter((m) => m.joinedAt <= message.createdAt && m.userId !== message.userId && !online.has(m.userId))
      .map((m) => m.userId)
      .slice(0, this.limit)
  }
}

/** Lets at most `limit` tasks run at once. */
class Semaphore {
  private running = 0
  private readonly waiting: (() => void)[] = []
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.running++
    try {
      return await task()
    } finally {
      this.running--
      this.waiting.shift()?.()
    }
  }
}

/**
 * Sends the outbox's events to WEBHOOK_URL. Events go out through lanes (a hash of their room): an
 * instance leases lanes and renews the lease while it lives, so each lane, and each room, is sent
 * by one instance at a time, in id order; a dead instance's lanes are taken over when its lease
 * runs out. A pass over a lane sends each room's due events one after another (rooms side by side,
 * at most WEBHOOK_CONCURRENCY requests at once) and stops a room at its first failure: the events
 * after it wait for its retry. Failures are retried with exponential backoff and jitter
 * (Retry-After honoured) until WEBHOOK_MAX_AGE, then dead-lettered; other 4xx answers dead-letter
 * at once.
 */
export class WebhookDispatcher {
  private readonly instance = crypto.randomUUID()
  private readonly leaseMs: number
  private readonly requests: Semaphore
  /** Lanes with a pass running, and whether another was asked for meanwhile. */
  private readonly passes = new Map<number, { again: boolean; done: Promise<void> }>()
  private stopped = false
  private readonly timers: ReturnType<typeof setInterval>[] = []
  private idPrefix = ''
  private lanes: number[] = []
  /** Deliveries recorded together: those answered in the same turn share one update. */
  private readonly deliveredLog = new Batcher<number>((ids) => this.store.outbox.delivered(ids, Date.now()))

  constructor(
    private readonly store: Store,
    private readonly presence: Presence,
    private readonly config: Config & { WEBHOOK_URL: string; WEBHOOK_SECRET: string },
    private readonly metrics: Metrics,
    private readonly logger: Logger,
  ) {
    this.leaseMs = 2 * config.WEBHOOK_TIMEOUT * 1000 + 2000
    this.requests = new Semaphore(config.WEBHOOK_CONCURRENCY)
  }

  async start(): Promise<void> {
    // Ids are unique per database: its epoch's start, then the event's number.
    this.idPrefix = eventIdPrefix(await this.store.epoch())
    this.timers.push(setInterval(() => void this.lease(), Math.min(POLL_MS * 4, this.leaseMs / 3)))
    this.timers.push(setInterval(() => this.wake(), POLL_MS))
    this.timers.push(setInterval(() => void this.refreshStats(), STATS_MS))
    this.timers.push(setInterval(() => void this.prune(), PRUNE_MS))
    for (const timer of this.timers) timer.unref()
    void this.refreshStats()
    await this.lease()
    this.wake()
  }

  /** Looks for due events in every lane this instance holds. */
  wake(): void {
    if (this.stopped) return
    for (const lane of this.lanes) this.pass(lane)
  }

  /** A room's event was just written here: its lane is looked at now, rather than at the next poll. */
  wakeRoom(roomId: number): void {
    const lane = laneOf(`room:${roomId}`)
    if (!this.stopped && this.lanes.includes(lane)) this.pass(lane)
  }

  /** Stops sending; waits for the requests in flight (bounded by WEBHOOK_TIMEOUT), gives the lanes up. */
  async stop(): Promise<void> {
    this.stopped = true
    for (const timer of this.timers) clearInterval(timer)
    await Promise.allSettled([...this.passes.values()].map((p) => p.done))
    await this.store.outbox.releaseLanes(this.instance).catch(() => {})
  }

  /** Renews this instance's lanes and takes free or expired ones. */
  private async lease() {
    if (this.stopped) return
    try {
      this.lanes = await this.store.outbox.leaseLanes(this.instance, Date.now(), this.leaseMs, LANES)
    } catch (err) {
      // Without a lease nothing is sent from here; another instance (or this one, later) takes over.
      this.lanes = []
      this.logger.warn('leasing webhook lanes failed; will retry', { err })
    }
  }

  /** Runs a pass over the lane, or asks the running one for another after it. */
  private pass(lane: number) {
    const running = this.passes.get(lane)
    if (running) return void (running.again = true)
    const state = { again: false, done: Promise.resolve() }
    state.done = (async () => {
      do {
        state.again = false
        await this.sendLane(lane).catch((err: unknown) => this.logger.warn('a webhook pass failed; will retry', { lane, err }))
      } while (state.again && !this.stopped && this.lanes.includes(lane))
      this.passes.delete(lane)
    })()
    this.passes.set(lane, state)
  }

  /** One pass: each room's due events in order, rooms side by side. */
  private async sendLane(lane: number) {
    const events = await this.store.outbox.pendingIn(lane, PASS_EVENTS)
    const now = Date.now()
    const rooms = new Map<string, WebhookEventRow[]>()
    const waiting = new Set<string>()
    for (const event of events) {
      // A room's later events wait behind one that is not due yet (it failed and waits to retry).
      if (waiting.has(event.key)) continue
      if (event.nextAttemptAt > now) {
        waiting.add(event.key)
        continue
      }
      const list = rooms.get(event.key)
      if (list) list.push(event)
      else rooms.set(event.key, [event])
    }
    await this.fillMessages([...rooms.values()].flat())
    await Promise.all([...rooms.values()].map((list) => this.sendRoom(list)))
    if (events.length === PASS_EVENTS && rooms.size > 0) this.passes.get(lane)!.again = true
  }

  /**
   * A room's due events, in order, until one fails. Each is recorded as delivered before the next
   * is sent, so a crash repeats at most the one whose answer was not recorded yet.
   */
  private async sendRoom(events: WebhookEventRow[]) {
    const room = new RoomNow(this.store, this.presence, this.config.OFFLINE_USERS_LIMIT)
    for (const event of events) {
      if (this.stopped) return
      const outcome = await this.requests.run(() => this.attempt(event, room))
      const now = Date.now()
      if (outcome.kind === 'delivered') {
        await this.deliveredLog.record(event.id)
        this.metrics.webhookDeliveries.labels('delivered').inc()
        continue
      }
      const retryAt = outcome.kind === 'retry' ? this.retryAt(event, outcome.retryAfterMs, now) : null
      // The data goes back with the failure: the retries send what this attempt decided.
      await this.store.outbox.failed(event.id, outcome.error, retryAt, now, event.data)
      this.metrics.webhookDeliveries.labels(retryAt === null ? 'dead' : 'retry').inc()
      if (retryAt !== null) return
      // The room goes on past a dead letter.
      this.logger.warn('webhook dead-lettered', { event: event.id, type: event.type, error: outcome.error })
    }
  }

  /** `message.created` events name their message; the pass reads them all at once and fills them in. */
  private async fillMessages(events: WebhookEventRow[]) {
    const named = events.filter((e) => e.type === 'message.created').map((e) => ({ event: e, stored: JSON.parse(e.data) as { messageId?: number; message?: MessageRow } }))
    const wanted = named.filter((n) => n.stored.message === undefined && n.stored.messageId !== undefined)
    if (wanted.length === 0) return
    const rows = new Map((await this.store.messagesByIds(wanted.map((n) => n.stored.messageId!))).map((m) => [m.id, m]))
    for (const { event, stored } of wanted) {
      const message = rows.get(stored.messageId!)
      if (message) event.data = JSON.stringify({ ...stored, message })
    }
  }

  private async attempt(event: WebhookEventRow, room: RoomNow): Promise<Outcome> {
    if (event.type === 'message.created') await this.noteOffline(event, room)
    return this.post(event)
  }

  /**
   * A message's `offline_user_ids`, decided once, at its first attempt (moments after the commit):
   * the room's members (or an open room's first participants) but the sender with no socket in the
   * room on any instance. Stored with the event if the attempt fails, so every retry says the same.
   */
  private async noteOffline(event: WebhookEventRow, room: RoomNow) {
    const stored = JSON.parse(event.data) as { message?: MessageRow; offlineUserIds?: string[] }
    if (!stored.message || stored.offlineUserIds) return
    stored.offlineUserIds = await room.offline(stored.message)
    event.data = JSON.stringify(stored)
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
