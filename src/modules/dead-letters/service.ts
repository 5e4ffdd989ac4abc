import { requireService, type Caller } from '../../caller.ts'
import type { AttachmentLinks } from '../../realtime/codec.ts'
import type { Store } from '../../store/store.ts'
import { eventIdPrefix, toEnvelope } from '../../webhooks/payload.ts'
import type { AdminPage } from '../shared-model.ts'
import type { DeadLetterDto } from './model.ts'

/** Webhook events that were given up on, for the app's backend (re-queued with `chat-server webhooks requeue`). */
export class DeadLetterService {
  constructor(
    private readonly store: Store,
    private readonly links: AttachmentLinks,
  ) {}

  /** Service calls: oldest first, with the envelope receivers would have seen. */
  async list(caller: Caller, page: AdminPage): Promise<DeadLetterDto[]> {
    requireService(caller, 'list dead webhook events')
    const prefix = eventIdPrefix(await this.store.epoch())
    return (await this.store.outbox.dead(page.limit, page.after ?? 0)).map((row) => {
      const envelope = toEnvelope(row, prefix, JSON.parse(row.data) as Record<string, unknown>, this.links)
      return {
        id: row.id,
        event_id: envelope.id,
        type: row.type,
        room_key: row.key,
        attempts: row.attempts,
        last_error: row.lastError,
        created_at: envelope.created_at,
        dead_at: row.finishedAt === null ? null : new Date(row.finishedAt).toISOString(),
        data: envelope.data,
      }
    })
  }
}
