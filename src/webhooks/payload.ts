import { toMessageDto, type AttachmentLinks } from '../realtime/codec.ts'

/** A message as an event stored it: events written before attachments existed have none. */
const messageOf = (stored: MessageRow): MessageRow => (stored.attachments ? stored : { ...stored, attachments: [] })
import type { ReportRow, WebhookEventRow } from '../store/outbox.ts'
import type { MessageRow } from '../store/store.ts'

/** What is POSTed: `{id, type, created_at, data}`; `id` is what receivers dedupe by. */
export interface WebhookEnvelope {
  id: string
  type: WebhookEventRow['type']
  created_at: string
  data: Record<string, unknown>
}

/** The public shape of a report. */
export const toReportDto = (r: ReportRow) => ({
  id: r.id,
  reporter: r.reporterId,
  message_id: r.messageId,
  user_id: r.userId,
  room: r.roomId,
  reason: r.reason,
  created_at: new Date(r.createdAt).toISOString(),
  status: r.status,
  closed_at: r.closedAt === null ? null : new Date(r.closedAt).toISOString(),
  closed_by: r.closedBy,
})

/**
 * What event ids start with: the database's epoch (ids restart with a new database). Then comes
 * the outbox row, or `m<message id>` for a message's `message.created` (kept by its retries).
 */
export const eventIdPrefix = (epoch: string) => `${epoch.replaceAll('-', '').slice(0, 12)}-`

/** The id a message's `message.created` event has, however it is sent (see eventIdPrefix). */
export const messageEventId = (messageId: number) => `m${messageId}`

/** The stored data of an event (what the store wrote, and what its attempts decided) as receivers get it. */
export function toEnvelope(event: Pick<WebhookEventRow, 'id' | 'type' | 'createdAt'>, idPrefix: string, stored: Record<string, unknown>, links: AttachmentLinks): WebhookEnvelope {
  const id = typeof stored.eventId === 'string' ? stored.eventId : String(event.id)
  return { id: `${idPrefix}${id}`, type: event.type, created_at: new Date(event.createdAt).toISOString(), data: publicData(event.type, stored, links) }
}

function publicData(type: WebhookEventRow['type'], stored: Record<string, unknown>, links: AttachmentLinks): Record<string, unknown> {
  switch (type) {
    case 'message.created': {
      const message = stored.message as MessageRow | undefined
      // A message that could not be read back (never expected: messages are never deleted) is named by id.
      if (!message) return { message: null, message_id: stored.messageId, offline_user_ids: [] }
      return { message: toMessageDto(messageOf(message), links), room: message.roomId, offline_user_ids: stored.offlineUserIds ?? [] }
    }
    case 'message.updated':
    case 'message.deleted': {
      // Its form after the change: an unsent message's text is gone from it (service calls read the original from its history).
      const message = stored.message as MessageRow
      return { message: toMessageDto(messageOf(message), links), room: message.roomId }
    }
    case 'message.flagged': {
      // The message as stored (masked, when a filter or the guard masked it), why, and the text as written.
      const message = stored.message as MessageRow
      return { message: toMessageDto(messageOf(message), links), room: message.roomId, reasons: stored.reasons, original: stored.original ?? null }
    }
    case 'room.created': {
      const room = stored.room as { id: number; name: string; postId: number | null; createdAt: number; kind: string; ownerId: string | null }
      return { room: { id: room.id, name: room.name, post_id: room.postId, kind: room.kind, owner: room.ownerId, created_at: new Date(room.createdAt).toISOString() }, members: stored.members ?? [] }
    }
    case 'room.updated':
      // The room's summary as the change left it (stored with the change).
      return { room: stored.room }
    case 'member.added':
    case 'member.removed':
      return { room: stored.room, user_id: stored.userId }
    case 'report.created':
      return { report: stored.report }
  }
}
