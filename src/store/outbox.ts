import { sql } from 'drizzle-orm'
import { WEBHOOK_LANES } from '../db/schema.ts'
import { afterCommit, run, type QueryBuilder, type SqlDatabase } from './sql-database.ts'
import type { MessageRow, Screened } from './rows.ts'

/** What the app's backend hears of (see the README's webhook section). */
export type WebhookType = 'message.created' | 'message.updated' | 'message.deleted' | 'message.flagged' | 'room.created' | 'room.updated' | 'member.added' | 'member.removed' | 'report.created'

/** An event to write beside what it reports, in the same transaction. */
export interface NewWebhookEvent {
  /** Events of one key are sent in order: `room:<id>`, or `user:<id>` for what concerns no room. */
  key: string
  type: WebhookType
  data: Record<string, unknown>
  /** Where it stands among the room's messages (sent after this message, before any later one); by default the room's newest now. */
  position?: number
}

/** An event of the outbox, as stored. */
export interface WebhookEventRow {
  id: number
  key: string
  type: WebhookType
  /** The event's `data`, as JSON text. */
  data: string
  createdAt: number
  status: 'pending' | 'delivered' | 'dead'
  attempts: number
  nextAttemptAt: number
  lastError: string | null
  finishedAt: number | null
  /** For a room's event: the room's newest message when it was written (it goes out after that message). */
  position: number
}

/** A room whose messages' `message.created` events are not all done: those after `after` wait. */
export interface RoomBehind {
  roomId: number
  /** The newest message sent. */
  after: number
  /** The room's newest message (null: none) and its version, read with the cursor. */
  newest: number | null
  version: number
}

/** A report of a message or a user. */
export interface ReportRow {
  id: number
  reporterId: string
  messageId: number | null
  roomId: number | null
  userId: string | null
  reason: string
  createdAt: number
  /** `open` until someone resolves or dismisses it. */
  status: ReportStatus
  closedAt: number | null
  closedBy: string | null
}

export type ReportStatus = 'open' | 'resolved' | 'dismissed'

/** What a delivery pass hands back to be recorded: outbox events by id, and each room's newest message sent. */
export interface Deliveries {
  events: number[]
  rooms: Map<number, number>
}

/** How many lanes the outbox has (the migrations create their rows). */
export const LANES = WEBHOOK_LANES

/** The room a key names, or null (a user's key). */
const roomOfKey = (key: string): number | null => (key.startsWith('room:') ? Number(key.slice(5)) : null)

/**
 * The lane of a key: every event of a key goes through the same lane, so in order. A room's lane
 * is `id % LANES`, which the rooms' index of pending messages is built on.
 */
export function laneOf(key: string): number {
  const room = roomOfKey(key)
  return room === null ? Bun.hash.crc32(key) % LANES : room % LANES
}

/**
 * The webhook outbox and the reports, on the store's database.
 *
 * A `message.created` event is not written at all: the messages table is its log, and each room
 * keeps the newest message whose event is done (`rooms.webhook_message_id`), so an append costs
 * nothing more while webhooks are on. Every other event (room, member, report) is a row of the
 * outbox written in the transaction of what it reports, placed among the room's messages by its
 * `position`. A message whose first attempt fails becomes a row too, and is retried like the rest.
 *
 * Events go out through lanes: an instance leases lanes, renews the lease while it lives, and
 * sends each lane's events in order per room; a lane of an instance that died is taken over when
 * its lease runs out.
 */
export interface Outbox {
  /** Whether webhooks are on: stores write events only then. */
  enabled: boolean
  /**
   * Who hears, once a transaction that wrote events has committed, which lanes they went into (the
   * webhook dispatcher, which looks at them then rather than at its next poll). Set once, while the
   * instance is wired.
   */
  written: (lanes: readonly number[]) => void
  /**
   * Called at start-up with whether this server sends webhooks. Turned on after being off, each
   * room's cursor moves to its newest message: what was stored meanwhile is not sent.
   */
  follow(on: boolean): Promise<void>
  /**
   * Renews this instance's lanes and takes free or expired ones, up to `most` in all; the lanes it
   * holds. A lane another instance released counts as free once it was released at or before `freeSince`.
   */
  leaseLanes(instance: string, now: number, leaseMs: number, most: number, freeSince?: number): Promise<number[]>
  /** Gives the instance's lanes up (it is stopping), or only `only` (another instance's share), released at `now`. */
  releaseLanes(instance: string, only?: readonly number[], now?: number): Promise<void>
  /** A lane's pending events by position, then id (due or not: a later event of a key waits for an earlier one). */
  pendingIn(lane: number, limit: number): Promise<WebhookEventRow[]>
  /** A lane's rooms with messages whose events are not done yet, by id, after room `afterRoom`. */
  roomsBehind(lane: number, limit: number, afterRoom?: number): Promise<RoomBehind[]>
  /** Of `lanes`, those with pending events (due or not) or rooms behind: the ones a pass would find something in. */
  lanesWithWork(lanes: readonly number[]): Promise<number[]>
  /** The receiver took them (rooms: the newest message of each). */
  delivered(done: Deliveries, now: number): Promise<void>
  /** It failed: tried again at `retryAt` (with `data`, what the attempt decided), or dead-lettered when that is null. */
  failed(id: number, error: string, retryAt: number | null, now: number, data: string): Promise<void>
  /**
   * A message's first attempt failed: it becomes an outbox event (retried at `retryAt`, or dead
   * when that is null) with `data`, and the room's cursor moves past it, in one transaction.
   */
  messageFailed(message: { id: number; roomId: number; createdAt: number }, data: string, error: string, retryAt: number | null, now: number): Promise<void>
  /** Pending events (outbox rows and messages), the age of the oldest, dead letters. */
  stats(now: number): Promise<{ pending: number; oldestPendingMs: number; dead: number }>
  /** Dead letters, oldest first, after `afterId`. */
  dead(limit: number, afterId: number): Promise<WebhookEventRow[]>
  /** Puts dead letters back to be sent now (all of them when `ids` is 'all'); how many. */
  requeue(ids: readonly number[] | 'all', now: number): Promise<number>
  /** Forgets events delivered before `before`; how many. */
  prune(before: number): Promise<number>
  /** Stores a report and, in the same transaction, its `report.created` event. */
  addReport(input: Omit<ReportRow, 'id' | 'createdAt' | 'status' | 'closedAt' | 'closedBy'>, toData: (report: ReportRow) => Record<string, unknown>): Promise<ReportRow>
  /** Reports, oldest first, after `afterId`. */
  reports(limit: number, afterId: number): Promise<ReportRow[]>
}

/**
 * A transaction's step (see sql-database.ts): writes events in it, if the outbox is on. A room's
 * event takes the room's newest message as its position, read in the same statement: on Postgres,
 * writers of the room hold its row lock, so a message that commits later has a larger id and is
 * sent after the event.
 */
export function* writeEvents(t: SqlDatabase['t'], outbox: Outbox, tx: QueryBuilder, events: readonly NewWebhookEvent[]) {
  if (!outbox.enabled || events.length === 0) return
  const now = Date.now()
  const rows = events.map((e) => {
    const room = roomOfKey(e.key)
    const position = e.position ?? (room === null ? 0 : sql`(select coalesce(${t.rooms.lastMessageId}, 0) from ${t.rooms} where ${t.rooms.id} = ${room})`)
    return { key: e.key, lane: laneOf(e.key), type: e.type, data: JSON.stringify(e.data), createdAt: now, nextAttemptAt: now, position }
  })
  yield* run(tx.insert(t.webhookEvents).values(rows))
  const lanes = [...new Set(rows.map((row) => row.lane))]
  yield* afterCommit(() => outbox.written(lanes))
}

/** The room a `room.created` event describes (as stored; the dispatcher shapes what is sent). */
interface CreatedRoom {
  id: number
  name: string
  postId: number | null
  createdAt: number
  kind: string
  ownerId?: string | null
}

export const roomCreatedEvent = (room: CreatedRoom, memberIds: readonly string[]): NewWebhookEvent => ({
  key: `room:${room.id}`,
  type: 'room.created',
  data: { room: { id: room.id, name: room.name, postId: room.postId, createdAt: room.createdAt, kind: room.kind, ownerId: room.ownerId ?? null }, members: memberIds },
})

/** A message was edited (`message.updated`: its new form) or unsent (`message.deleted`). */
export const messageChangedEvent = (type: 'message.updated' | 'message.deleted', message: MessageRow): NewWebhookEvent => ({ key: `room:${message.roomId}`, type, data: { message } })

/**
 * `message.flagged`: moderation flagged a message as it was stored (`sent`, or edited): the message
 * as stored, why, and the text as written when it was masked.
 */
export function messageFlaggedEvent(message: MessageRow, screened: Screened, sent: boolean): NewWebhookEvent {
  const event: NewWebhookEvent = { key: `room:${message.roomId}`, type: 'message.flagged', data: { message, reasons: screened.reasons, original: screened.original } }
  // A message just sent: right after its own `message.created` (the room's newest is still the one before it, in an append's transaction).
  return sent ? { ...event, position: message.id } : event
}

export const memberEvent = (type: 'member.added' | 'member.removed', roomId: number, userId: string): NewWebhookEvent => ({ key: `room:${roomId}`, type, data: { room: roomId, userId } })

export const reportEvent = (report: ReportRow, data: Record<string, unknown>): NewWebhookEvent => ({ key: report.roomId === null ? `user:${report.userId}` : `room:${report.roomId}`, type: 'report.created', data })
