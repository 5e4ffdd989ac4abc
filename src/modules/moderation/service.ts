import { requireService, type Caller } from '../../caller.ts'
import { badRequest, conflict, forbidden, notFound, unprocessable } from '../../errors.ts'
import type { Broker } from '../../realtime/broker.ts'
import { toMessageDto, type AttachmentLinks } from '../../realtime/codec.ts'
import { evictEvent, memberRemovedEvent, userEvent } from '../../realtime/events.ts'
import type { AuditEntry, Sanction, WordFilter } from '../../store/moderation.ts'
import type { ReportRow } from '../../store/outbox.ts'
import type { RoomRow, Store } from '../../store/store.ts'
import type { SanctionKind } from '../../store/write-rules.ts'
import { toReportDto } from '../../webhooks/payload.ts'
import type { RoomAccess } from '../rooms/access.ts'
import type { AuditQuery, FilterBody, ModerationStanding, ReportQuery, SanctionDto } from './model.ts'
import { filterMatcher, type Screening } from './screening.ts'

/** Messages a queued report shows on each side of the one reported. */
const CONTEXT_MESSAGES = 10

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

const toSanctionDto = (s: Sanction): SanctionDto => ({ user_id: s.userId, until: iso(s.until), by: s.by, created_at: new Date(s.createdAt).toISOString() })

const toFilterDto = (f: WordFilter) => ({ id: f.id, pattern: f.pattern, regex: f.regex, action: f.action, rooms: f.rooms, created_at: new Date(f.createdAt).toISOString() })

const toAuditDto = (e: AuditEntry) => ({ id: e.id, at: new Date(e.at).toISOString(), actor: e.actor, action: e.action, room: e.roomId, user_id: e.userId, message_id: e.messageId, data: e.data })

/** True when the caller may moderate the room: a service call, a moderator of it (or of every room), or a private room's owner. */
async function mayModerate(store: Pick<Store, 'moderation'>, room: RoomRow, caller: Caller): Promise<boolean> {
  if (caller.service) return true
  const userId = caller.identity?.userId
  if (userId === undefined) return false
  if (room.kind === 'private' && room.ownerId === userId) return true
  return store.moderation.moderates(userId, room.id)
}

/** The caller's own standing in a room, as room detail shows it: whether they moderate it, whether (and until when) they are muted. */
export async function standingIn(store: Pick<Store, 'moderation'>, room: RoomRow, caller: Caller, now: number): Promise<ModerationStanding> {
  const userId = caller.identity?.userId
  if (userId === undefined) return { moderator: caller.service, muted: false, muted_until: null }
  const [moderator, sanction] = await Promise.all([mayModerate(store, room, caller), store.moderation.sanctionOf(room.id, userId, now)])
  const muted = sanction?.kind === 'mute'
  return { moderator, muted, muted_until: muted ? iso(sanction.until) : null }
}

/**
 * Moderation: who moderates, mutes and bans in rooms, word filters, the audit log and the report
 * queue. Mutes, bans and slow mode are enforced where writes commit (store/write-rules.ts); this
 * decides who may impose them: the app's backend, the room's moderators (per room, or every room),
 * and a private room's owner in their room.
 */
export class ModerationService {
  constructor(
    private readonly store: Store,
    private readonly access: RoomAccess,
    private readonly broker: Broker,
    private readonly screening: Screening,
    private readonly links: AttachmentLinks,
    private readonly now: () => number = Date.now,
  ) {}

  /** The room (404), if the caller may moderate it (403 `not_moderator`), and the acting user (null: the backend). */
  private async moderating(roomId: number, caller: Caller) {
    const room = await this.access.room(roomId)
    if (!(await mayModerate(this.store, room, caller))) throw forbidden('not_moderator', "Only the room's moderators, a private room's owner or the app's backend may do this.")
    return { room, actor: caller.service ? null : (caller.identity?.userId ?? null) }
  }

  private notSelf(actor: string | null, userId: string) {
    if (actor === userId) throw badRequest('same_user', 'Moderators cannot mute or ban themselves.')
  }

  /** `PUT …/mutes/{user_id}/`: until `until` (ISO, in the future) or until unmuted. */
  async mute(roomId: number, userId: string, until: string | undefined, caller: Caller): Promise<void> {
    const { room, actor } = await this.moderating(roomId, caller)
    this.notSelf(actor, userId)
    const ends = until === undefined ? null : Date.parse(until)
    if (ends !== null && ends <= this.now()) throw unprocessable('A mute ends in the future.', [{ path: 'until', message: 'must be in the future' }])
    await this.store.moderation.mute(room.id, userId, ends, actor)
  }

  /**
   * `PUT …/bans/{user_id}/`: their place in the room ends and their sockets there close (4403
   * `banned`) on every instance, in the room's order; 409 `owner` for a private room's owner.
   */
  async ban(roomId: number, userId: string, caller: Caller): Promise<void> {
    const { room, actor } = await this.moderating(roomId, caller)
    this.notSelf(actor, userId)
    const outcome = await this.store.moderation.ban(room.id, userId, actor)
    if (outcome === 'owner') throw conflict('owner', "A private room's owner cannot be banned from it.")
    if (outcome.wasMember) this.broker.publish(memberRemovedEvent(room.id, userId))
    this.broker.publish(evictEvent(room.id, userId, outcome.version, true))
    this.broker.publish(userEvent(userId, { type: 'removed', room: room.id }))
  }

  /** `DELETE …/mutes/{user_id}/` or `…/bans/{user_id}/`: 404 `not_muted` / `not_banned` when there was none. */
  async lift(roomId: number, userId: string, kind: SanctionKind, caller: Caller): Promise<void> {
    const { room, actor } = await this.moderating(roomId, caller)
    if (!(await this.store.moderation.lift(room.id, userId, kind, actor))) throw notFound(kind === 'mute' ? 'not_muted' : 'not_banned', `${userId} is not ${kind === 'mute' ? 'muted' : 'banned'} in room ${room.id}.`)
  }

  /** `GET …/mutes/` or `…/bans/`: the room's mutes or bans in force (moderators only). */
  async list(roomId: number, kind: SanctionKind, caller: Caller): Promise<SanctionDto[]> {
    const { room } = await this.moderating(roomId, caller)
    return (await this.store.moderation.sanctions(room.id, this.now())).filter((s) => s.kind === kind).map(toSanctionDto)
  }

  /** `PUT /chat/v1/admin/moderators/{user_id}/` (service call). */
  async setModerator(userId: string, rooms: readonly number[] | undefined, caller: Caller): Promise<{ user_id: string; rooms: number[] | null }> {
    requireService(caller, 'name moderators')
    await this.store.moderation.setModerator(userId, rooms ?? null, null)
    return this.moderator(userId, caller)
  }

  /** `DELETE /chat/v1/admin/moderators/{user_id}/` (service call): 404 `not_moderator` when they moderated nothing. */
  async removeModerator(userId: string, caller: Caller): Promise<void> {
    requireService(caller, 'remove moderators')
    if (!(await this.store.moderation.removeModerator(userId, null))) throw notFound('not_moderator', `${userId} moderates no room.`)
  }

  /** `GET /chat/v1/admin/moderators/{user_id}/` (service call): 404 `not_moderator`. */
  async moderator(userId: string, caller: Caller): Promise<{ user_id: string; rooms: number[] | null }> {
    requireService(caller, 'read moderators')
    const rooms = await this.store.moderation.moderatedBy(userId)
    if (rooms === null) throw notFound('not_moderator', `${userId} moderates no room.`)
    return { user_id: userId, rooms: rooms === 'every' ? null : rooms }
  }

  /** `PUT /chat/v1/admin/filters/` (service call): replaces every filter; 422 for a regular expression that does not compile. */
  async replaceFilters(body: FilterBody, caller: Caller) {
    requireService(caller, 'set word filters')
    body.forEach((f, i) => {
      try {
        filterMatcher(f.pattern, f.regex === true)
      } catch (err) {
        throw unprocessable('A filter pattern is not a valid regular expression.', [{ path: `${i}.pattern`, message: err instanceof Error ? err.message : 'invalid' }])
      }
    })
    const stored = await this.store.moderation.replaceFilters(
      body.map((f) => ({ pattern: f.pattern, regex: f.regex === true, action: f.action, rooms: f.rooms ?? null })),
      null,
    )
    await this.screening.reload()
    return stored.map(toFilterDto)
  }

  /** `GET /chat/v1/admin/filters/` (service call). */
  async filters(caller: Caller) {
    requireService(caller, 'read word filters')
    return (await this.store.moderation.filters()).map(toFilterDto)
  }

  /** `GET /chat/v1/admin/audit/` (service call). */
  async audit(query: AuditQuery, caller: Caller) {
    requireService(caller, 'read the audit log')
    return (await this.store.moderation.audit({ roomId: query.room, userId: query.user, after: query.after ?? 0, limit: query.limit })).map(toAuditDto)
  }

  /** `GET /chat/v1/admin/reports/` (service call): each with its message and the 10 messages on each side. */
  async reports(query: ReportQuery, caller: Caller) {
    requireService(caller, 'list reports')
    const found = await this.store.moderation.reports({ status: query.status, after: query.after ?? 0, limit: query.limit })
    return Promise.all(found.map((r) => this.queued(r)))
  }

  /** `PATCH /chat/v1/admin/reports/{id}/` (service call): 404 `report_not_found`. */
  async closeReport(id: number, status: 'resolved' | 'dismissed', caller: Caller) {
    requireService(caller, 'resolve reports')
    const report = await this.store.moderation.closeReport(id, status, null)
    if (!report) throw notFound('report_not_found', `There is no report ${id}.`)
    return this.queued(report)
  }

  private async queued(report: ReportRow) {
    const dto = toReportDto(report)
    if (report.messageId === null || report.roomId === null) return { ...dto, message: null, context: null }
    const [[message], before, after] = await Promise.all([
      this.store.messagesByIds([report.messageId]),
      this.store.listMessages(report.roomId, { limit: CONTEXT_MESSAGES, before: report.messageId }),
      this.store.listMessages(report.roomId, { limit: CONTEXT_MESSAGES, after: report.messageId }),
    ])
    const dtoOf = (rows: typeof before) => rows.map((m) => toMessageDto(m, this.links))
    return { ...dto, message: message ? toMessageDto(message, this.links) : null, context: { before: dtoOf(before), after: dtoOf(after) } }
  }
}
