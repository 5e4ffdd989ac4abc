import type { AbuseLimits, Requester } from '../../abuse-limits.ts'
import { requireIdentity, type Caller } from '../../caller.ts'
import { badRequest, notFound, tooMany, unprocessable } from '../../errors.ts'
import type { Store } from '../../store/store.ts'
import { toReportDto } from '../../webhooks/payload.ts'
import type { RoomAccess } from '../rooms/access.ts'
import type { ReportBody, ReportDto } from './model.ts'

/**
 * Reports for moderation. A user may report what they can read: a message of a room they may use,
 * or a user the server knows. Each report is stored with its `report.created` webhook event, in one
 * transaction.
 */
export class ReportService {
  constructor(
    private readonly store: Store,
    private readonly access: RoomAccess,
    private readonly abuse: AbuseLimits,
  ) {}

  async report(caller: Caller, body: ReportBody, requester: Requester): Promise<ReportDto> {
    const { identity } = requireIdentity(caller)
    let roomId: number | null = null
    let userId = body.user_id ?? null
    if (body.message_id !== undefined) {
      const [message] = await this.store.messagesByIds([body.message_id])
      if (!message) throw notFound('message_not_found', `There is no message ${body.message_id}.`)
      // 404 for no room, 403 for a room the reporter may not use: as reading it would answer.
      await this.access.admit(message.roomId, caller)
      if (userId !== null && userId !== message.userId) throw unprocessable('user_id must be the author of the message reported.', [{ path: 'user_id', message: 'not the author of message_id' }])
      roomId = message.roomId
      userId = message.userId
    }
    // A report about a user is taken whether or not this server has seen them: any other answer
    // would tell the reporter which user ids exist.
    if (userId === identity.userId) throw badRequest('same_user', 'Users cannot report themselves.')
    const wait = this.abuse.report(requester)
    if (wait > 0) throw tooMany('too_many_reports', 'Too many reports lately; wait and try again.', wait)
    const report = await this.store.outbox.addReport({ reporterId: identity.userId, messageId: body.message_id ?? null, roomId, userId, reason: body.reason }, (r) => ({ report: toReportDto(r) }))
    return toReportDto(report)
  }
}
