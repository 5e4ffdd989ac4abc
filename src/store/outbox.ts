import { sql } from 'drizzle-orm'

/** What the app's backend hears of (see the README's webhook section). */
export type WebhookType = 'message.created' | 'room.created' | 'member.added' | 'member.removed' | 'report.created'

/** An event to write beside what it reports, in the same transaction. */
export interface NewWebhookEvent {
  /** Events of one key are sent in order: `room:<id>`, or `user:<id>` for what concerns no room. */
  key: string
  type: WebhookType
  data: Record<string, unknown>
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
}

/** How many lanes the outbox has (the migrations create their rows). */
export const LANES = 64

/** The lane of a key: every event of a key goes through the same lane, so in order. */
export const laneOf = (key: string) => Bun.hash.crc32(key) % LANES

/**
 * The webhook outbox and the reports, on the store's database. Events are written by the stores in
 * the transaction of what they report, and only while `enabled` (WEBHOOK_URL is set). Events go out
 * through lanes (a hash of their key): an instance leases lanes, renews its lease while it lives,
 * and sends each lane's events in id order; a lane of an instance that died is taken over when its
 * lease runs out.
 */
export interface Outbox {
  /** Whether stores write events at all. */
  enabled: boolean
  /** Renews this instance's lanes and takes free or expired ones, up to `most` in all; the lanes it holds. */
  leaseLanes(instance: string, now: number, leaseMs: number, most: number): Promise<number[]>
  /** Gives the instance's lanes up (it is stopping). */
  releaseLanes(instance: string): Promise<void>
  /** A lane's pending events, oldest first (due or not: a later event of a key waits for an earlier one). */
  pendingIn(lane: number, limit: number): Promise<WebhookEventRow[]>
  /** The receiver took them. */
  delivered(ids: readonly number[], now: number): Promise<void>
  /** It failed: tried again at `retryAt` (with `data`, what the attempt decided), or dead-lettered when that is null. */
  failed(id: number, error: string, retryAt: number | null, now: number, data: string): Promise<void>
  /** Pending events, the age of the oldest, dead letters. */
  stats(now: number): Promise<{ pending: number; oldestPendingMs: number; dead: number }>
  /** Dead letters, oldest first, after `afterId`. */
  dead(limit: number, afterId: number): Promise<WebhookEventRow[]>
  /** Puts dead letters back to be sent now (all of them when `ids` is 'all'); how many. */
  requeue(ids: readonly number[] | 'all', now: number): Promise<number>
  /** Forgets events delivered before `before`; how many. */
  prune(before: number): Promise<number>
  /** Stores a report and, in the same transaction, its `report.created` event. */
  addReport(input: Omit<ReportRow, 'id' | 'createdAt'>, toData: (report: ReportRow) => Record<string, unknown>): Promise<ReportRow>
  /** Reports, oldest first, after `afterId`. */
  reports(limit: number, afterId: number): Promise<ReportRow[]>
}

/**
 * Takes this instance's lanes back and free or expired ones, in one statement. The condition is
 * repeated outside the subquery: on Postgres, a row another instance leased meanwhile is checked
 * again as it is now, and left to it.
 */
export function leaseQuery(instance: string, now: number, leaseMs: number, most: number) {
  const takeable = sql`(owner = ${instance} or owner is null or until < ${now})`
  return sql`update webhook_lanes set owner = ${instance}, until = ${now + leaseMs}
    where ${takeable} and lane in (select lane from webhook_lanes where ${takeable} order by case when owner = ${instance} then 0 else 1 end, lane limit ${most})
    returning lane`
}

/** The rows to insert for events written now. */
export const eventRows = (events: readonly NewWebhookEvent[], now: number) => events.map((e) => ({ key: e.key, lane: laneOf(e.key), type: e.type, data: JSON.stringify(e.data), createdAt: now, nextAttemptAt: now }))

/** Rows as drivers give them (Postgres: bigints as strings). */
export const toEventRow = (row: Record<string, unknown>): WebhookEventRow => ({
  id: Number(row.id),
  key: String(row.key),
  type: row.type as WebhookType,
  data: String(row.data),
  createdAt: Number(row.createdAt),
  status: row.status as WebhookEventRow['status'],
  attempts: Number(row.attempts),
  nextAttemptAt: Number(row.nextAttemptAt),
  lastError: (row.lastError as string | null) ?? null,
  finishedAt: row.finishedAt === null || row.finishedAt === undefined ? null : Number(row.finishedAt),
})

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

export const memberEvent = (type: 'member.added' | 'member.removed', roomId: number, userId: string): NewWebhookEvent => ({ key: `room:${roomId}`, type, data: { room: roomId, userId } })
