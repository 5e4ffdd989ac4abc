import { sql } from 'drizzle-orm'
import type { Dialect } from './membership.ts'

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

/**
 * The webhook outbox and the reports, on the store's database. Events are written by the stores in
 * the transaction of what they report, and only while `enabled` (WEBHOOK_URL is set). Any instance
 * may claim due events: each claim takes the oldest pending event of a key (so a key's events go out
 * in order), for a lease; a claim of an instance that died runs out and is taken over.
 */
export interface Outbox {
  /** Whether stores write events at all. */
  enabled: boolean
  /** Claims up to `limit` due events (each the oldest pending of its key) for `leaseMs`. */
  claim(instance: string, now: number, limit: number, leaseMs: number): Promise<WebhookEventRow[]>
  /** Replaces a claimed event's data (what is decided at its first attempt, kept for the retries). */
  setData(id: number, data: string): Promise<void>
  /** The receiver took it. */
  delivered(id: number, instance: string, now: number): Promise<void>
  /** It failed: tried again at `retryAt`, or dead-lettered when that is null. */
  failed(id: number, instance: string, error: string, retryAt: number | null, now: number): Promise<void>
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

/** The rows to insert for events written now. */
export const eventRows = (events: readonly NewWebhookEvent[], now: number) => events.map((e) => ({ key: e.key, type: e.type, data: JSON.stringify(e.data), createdAt: now, nextAttemptAt: now }))

/**
 * Claims due events, each the oldest pending of its key and not claimed by anyone now, in one
 * statement. On Postgres, rows another instance is claiming at the same moment are skipped.
 */
export function claimQuery(instance: string, now: number, limit: number, leaseMs: number, dialect: Dialect) {
  return sql`update webhook_events set claimed_by = ${instance}, claimed_until = ${now + leaseMs}
    where id in (
      select e.id from webhook_events e
      where e.status = 'pending' and e.next_attempt_at <= ${now} and (e.claimed_until is null or e.claimed_until < ${now})
        and not exists (select 1 from webhook_events o where o.status = 'pending' and o.key = e.key and o.id < e.id)
      order by e.id
      limit ${limit}${dialect === 'postgres' ? sql` for update skip locked` : sql``}
    )
    returning id, key, type, data, created_at as "createdAt", status, attempts, next_attempt_at as "nextAttemptAt", last_error as "lastError", finished_at as "finishedAt"`
}

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
