import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Presence } from '../realtime/presence.ts'
import type { AttachmentLinks } from '../realtime/codec.ts'
import type { MessageRow, Store } from '../store/store.ts'
import { version } from '../version.ts'
import { eventIdPrefix, messageEventId, toEnvelope, type WebhookEnvelope } from './payload.ts'
import { Batcher, RoomNow, Semaphore, type Outgoing } from './room-queue.ts'
import { RequestFailed, webhookPoster, type WebhookPoster } from './post.ts'
import { signatureHeader } from './signing.ts'

type Outcome = { kind: 'delivered' } | { kind: 'retry'; error: string; retryAfterMs: number | null } | { kind: 'dead'; error: string }

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now; null when absent or unreadable. */
function retryAfterMs(header: string | null, now = Date.now()): number | null {
  if (header === null) return null
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? null : Math.max(0, at - now)
}

/** What the store keeps of a `message.created` event that must be retried (with the message, for the dead-letter list). */
type StoredMessageEvent = {
  messageId: number
  eventId?: string
  message?: MessageRow
  offlineUserIds?: string[]
}

/** What one delivery lets the outbox record. */
type Delivered = { event: number } | { room: number; message: number }

/** An event ready to send: its envelope, what its delivery records, and how its failure is recorded (whether its room goes on). */
interface Prepared {
  envelope: WebhookEnvelope
  delivered: Delivered
  failed(outcome: Exclude<Outcome, { kind: 'delivered' }>, now: number): Promise<boolean>
}

/** A room's due events in a batched pass: those sent so far (`next`), and who is offline there now. */
interface RoomState {
  queue: Outgoing[]
  next: number
  now: RoomNow
}

/** The messages a room's queue sends (read from the messages table). */
const messagesOf = (queue: readonly Outgoing[]) => queue.flatMap((item) => (item.kind === 'message' ? [item.message] : []))

/** A room's share of one batch. */
interface BatchPart {
  room: RoomState
  items: Outgoing[]
}

/**
 * Sends a pass's events to WEBHOOK_URL and records what became of them: each event, or batch of
 * events (WEBHOOK_BATCH), is prepared, POSTed, then recorded as delivered, to be retried, or dead.
 * At most WEBHOOK_CONCURRENCY requests at once.
 */
export class WebhookSender {
  private readonly requests: Semaphore
  private readonly poster: WebhookPoster
  private idPrefix = ''
  private stopped = false
  /** Deliveries recorded together: those answered in the same turn share one transaction. */
  private readonly deliveries = new Batcher<Delivered>((items) => {
    const events: number[] = []
    const rooms = new Map<number, number>()
    for (const item of items) {
      if ('event' in item) events.push(item.event)
      else rooms.set(item.room, Math.max(item.message, rooms.get(item.room) ?? 0))
    }
    return this.store.outbox.delivered({ events, rooms }, Date.now())
  })

  /** The delivered counter, labelled once (it counts events, not POSTs). */
  private readonly deliveredCount
  /** Events per POST (WEBHOOK_BATCH). */
  private readonly batchSize: number

  constructor(
    private readonly store: Store,
    private readonly presence: Presence,
    private readonly config: Config & { WEBHOOK_URL: string; WEBHOOK_SECRET: string },
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Signs the URLs of messages' attachments (fresh at each attempt). */
    private readonly links: AttachmentLinks,
  ) {
    this.requests = new Semaphore(config.WEBHOOK_CONCURRENCY)
    this.poster = webhookPoster(config.WEBHOOK_URL, config.WEBHOOK_TIMEOUT * 1000, config.HTTP_PROXY)
    this.deliveredCount = metrics.webhookDeliveries.labels('delivered')
    this.batchSize = config.WEBHOOK_BATCH
  }

  /** Reads the database's epoch, which event ids start with. */
  async start(): Promise<void> {
    // Ids are unique per database: its epoch's start, then the event's number.
    this.idPrefix = eventIdPrefix(await this.store.epoch())
  }

  /** Sends nothing more: rooms stop before their next event or batch. */
  stop(): void {
    this.stopped = true
  }

  /** Closes the connections kept to WEBHOOK_URL. */
  close(): void {
    this.poster.close()
  }

  /**
   * The rooms' due events. One at a time (WEBHOOK_BATCH=1): each room's in order, rooms side by
   * side. In batches: rounds, each POSTing every room's next events (up to WEBHOOK_BATCH in all per
   * POST, a room's in order), so no room has more than one batch in flight and a room whose batch
   * failed waits for its retry.
   */
  async sendQueues(queues: Outgoing[][]) {
    if (this.batchSize === 1) return void (await Promise.all(queues.map((queue) => this.sendRoom(queue))))
    let active: RoomState[] = queues.map((queue) => ({ queue, next: 0, now: new RoomNow(this.store, this.presence, this.config.OFFLINE_USERS_LIMIT, messagesOf(queue)) }))
    while (active.length > 0 && !this.stopped) {
      const batches: BatchPart[][] = []
      let batch: BatchPart[] = []
      let size = 0
      for (const room of active) {
        if (size === this.batchSize) {
          batches.push(batch)
          batch = []
          size = 0
        }
        const items = room.queue.slice(room.next, room.next + this.batchSize - size)
        batch.push({ room, items })
        size += items.length
      }
      if (batch.length > 0) batches.push(batch)
      const going = await Promise.all(batches.map((parts) => this.sendBatch(parts)))
      active = batches.flatMap((parts, i) => (going[i] ? parts.map((part) => part.room) : [])).filter((room) => room.next < room.queue.length)
    }
  }

  /**
   * One POST of the parts' events as a JSON array. Delivered: each is recorded, and the rooms go on.
   * Refused for good (a 4xx): each is dead-lettered, in order, and the rooms go on. To be retried:
   * the first event of each room is recorded as failed (the rest wait behind it, unsent, and go
   * again with the same ids), and the rooms stop until then. Whether the rooms go on.
   */
  private async sendBatch(parts: BatchPart[]): Promise<boolean> {
    const prepared = await Promise.all(parts.map((part) => Promise.all(part.items.map((item) => this.prepare(item, part.room.now)))))
    const outcome = await this.requests.run(() => this.post(prepared.flat().map((p) => p.envelope)))
    for (const part of parts) part.room.next += part.items.length
    if (outcome.kind === 'delivered') {
      const sent = prepared.flat()
      await this.recordDelivery(...sent.map((p) => p.delivered))
      return true
    }
    const now = Date.now()
    if (outcome.kind === 'dead') {
      for (const room of prepared) for (const p of room) await p.failed(outcome, now)
      return true
    }
    await Promise.all(prepared.map((room) => room[0]?.failed(outcome, now)))
    return false
  }

  /** A room's due events, in order, until one fails (WEBHOOK_BATCH=1). */
  private async sendRoom(queue: Outgoing[]) {
    const room = new RoomNow(this.store, this.presence, this.config.OFFLINE_USERS_LIMIT, messagesOf(queue))
    for (const item of queue) {
      if (this.stopped) return
      const prepared = await this.prepare(item, room)
      const outcome = await this.requests.run(() => this.post(prepared.envelope))
      const goOn = outcome.kind === 'delivered' ? await this.recordDelivery(prepared.delivered) : await prepared.failed(outcome, Date.now())
      if (!goOn) return
    }
  }

  /**
   * An event as it is sent (an outbox row, or a message's `message.created` read from the messages
   * table, with who is offline decided at its first attempt and kept for the retries), what its
   * delivery records, and how its failure is recorded: a message's first failure makes it an outbox
   * event, retried from then on like the others. Each is recorded before the room's next is sent,
   * so a crash repeats at most what was sent but not recorded yet.
   */
  private async prepare(item: Outgoing, room: RoomNow): Promise<Prepared> {
    if (item.kind === 'event') {
      const { event } = item
      const stored = JSON.parse(event.data) as Record<string, unknown>
      const message = stored.message as MessageRow | undefined
      if (event.type === 'message.created' && message && !stored.offlineUserIds) stored.offlineUserIds = await room.offline(message)
      return {
        envelope: toEnvelope(event, this.idPrefix, stored, this.links),
        delivered: { event: event.id },
        failed: async (outcome, now) => {
          const retryAt = outcome.kind === 'retry' ? this.retryAt(event.attempts, event.createdAt, outcome.retryAfterMs, now) : null
          await this.store.outbox.failed(event.id, outcome.error, retryAt, now, JSON.stringify(stored))
          return this.recordFailure(retryAt, event.type, outcome.error)
        },
      }
    }
    const { message } = item
    const stored: StoredMessageEvent = { messageId: message.id, eventId: messageEventId(message.id), message, offlineUserIds: await room.offline(message) }
    return {
      envelope: toEnvelope({ id: message.id, type: 'message.created', createdAt: message.createdAt }, this.idPrefix, stored, this.links),
      delivered: { room: message.roomId, message: message.id },
      failed: async (outcome, now) => {
        const retryAt = outcome.kind === 'retry' ? this.retryAt(0, message.createdAt, outcome.retryAfterMs, now) : null
        await this.store.outbox.messageFailed(message, JSON.stringify(stored), outcome.error, retryAt, now)
        return this.recordFailure(retryAt, 'message.created', outcome.error)
      },
    }
  }

  private async recordDelivery(...items: Delivered[]): Promise<true> {
    await this.deliveries.record(...items)
    this.deliveredCount.inc(items.length)
    return true
  }

  /** Counts a failure; whether the room goes on (past a dead letter, not past a retry). */
  private recordFailure(retryAt: number | null, type: string, error: string): boolean {
    this.metrics.webhookDeliveries.labels(retryAt === null ? 'dead' : 'retry').inc()
    if (retryAt !== null) return false
    this.logger.warn('webhook dead-lettered', { type, error })
    return true
  }

  /** Outbox events that name their message (written before messages were read from their table) get it filled in. */
  async fillMessages(queue: Outgoing[]) {
    const named = queue.flatMap((item) => (item.kind === 'event' && item.event.type === 'message.created' ? [{ event: item.event, stored: JSON.parse(item.event.data) as StoredMessageEvent }] : []))
    const wanted = named.filter((n) => n.stored.message === undefined)
    if (wanted.length === 0) return
    const rows = new Map((await this.store.messagesByIds(wanted.map((n) => n.stored.messageId))).map((m) => [m.id, m]))
    for (const { event, stored } of wanted) {
      const message = rows.get(stored.messageId)
      if (message) event.data = JSON.stringify({ ...stored, message })
    }
  }

  /** POSTs one event (its object), or a batch (an array of them, one signature over the whole body). */
  private async post(sent: WebhookEnvelope | WebhookEnvelope[]): Promise<Outcome> {
    const body = JSON.stringify(sent)
    const named: Record<string, string> = Array.isArray(sent) ? { 'x-chat-event-count': String(sent.length) } : { 'x-chat-event-id': sent.id }
    try {
      const answer = await this.poster.post(
        {
          'content-type': 'application/json',
          'user-agent': `gateway-chat/${version}`,
          ...named,
          'x-chat-signature': signatureHeader(this.config.WEBHOOK_SECRET, body, Math.floor(Date.now() / 1000)),
        },
        body,
      )
      if (answer.status >= 200 && answer.status < 300) return { kind: 'delivered' }
      const error = `HTTP ${answer.status}`
      if (answer.status === 408 || answer.status === 429 || answer.status >= 500) return { kind: 'retry', error, retryAfterMs: retryAfterMs(answer.retryAfter) }
      return { kind: 'dead', error: `${error} (not retried: the receiver refused it)` }
    } catch (err) {
      const error = err instanceof RequestFailed && err.name === 'TimeoutError' ? `no answer within ${this.config.WEBHOOK_TIMEOUT} s` : err instanceof Error ? err.message : String(err)
      return { kind: 'retry', error, retryAfterMs: null }
    }
  }

  /**
   * When to try again: about WEBHOOK_RETRY_MIN_MS after the first failure, doubling up to
   * WEBHOOK_RETRY_MAX, half of it random (so failed events do not all come back at once), or when
   * Retry-After says; null (dead) past WEBHOOK_MAX_AGE.
   */
  private retryAt(attempts: number, since: number, retryAfter: number | null, now: number): number | null {
    const ceiling = this.config.WEBHOOK_RETRY_MAX * 1000
    const backoff = Math.min(ceiling, this.config.WEBHOOK_RETRY_MIN_MS * 2 ** Math.min(30, attempts))
    const delay = retryAfter ?? backoff / 2 + (Math.random() * backoff) / 2
    const at = now + delay
    return at - since > this.config.WEBHOOK_MAX_AGE * 1000 ? null : at
  }
}
