import { Elysia } from 'elysia'
import { z } from 'zod'
import type { Callers } from '../../caller.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { memberParamsSchema, userParamsSchema } from '../members/model.ts'
import { parseUserId } from '../members/service.ts'
import { exampleMessage } from '../examples.ts'
import { parsePathId, parseRoomId, roomParamsSchema } from '../shared-model.ts'
import { auditEntrySchema, auditQuerySchema, filterBodySchema, filterSchema, moderatorBodySchema, moderatorSchema, muteBodySchema, queuedReportSchema, reportPatchSchema, reportQuerySchema, sanctionSchema } from './model.ts'
import type { ModerationService } from './service.ts'

const serviceOnly = { 403: { description: 'Not a service call', problem: { code: 'service_call_required' } } } as const
const moderatorOnly = {
  403: { description: "Not a moderator of the room, its owner (a private room) or the app's backend", problem: { code: 'not_moderator' } },
  404: { description: 'No such room', problem: { code: 'room_not_found' } },
} as const
const exampleSanction = { user_id: '77', until: '2026-12-06T18:00:00.000Z', by: '42', created_at: '2026-12-06T17:00:00.000Z' }
const exampleFilter = { id: 1, pattern: '직거래만', regex: false, action: 'flag' as const, rooms: null, created_at: '2026-12-06T17:00:00.000Z' }
const exampleQueuedReport = {
  id: 7,
  reporter: '42',
  message_id: 1024,
  user_id: '77',
  room: 3,
  reason: '외부 연락처로 거래 유도',
  created_at: '2026-12-06T09:00:00.000Z',
  status: 'open' as const,
  closed_at: null,
  closed_by: null,
  message: exampleMessage,
  context: { before: [], after: [] },
}
const exampleAudit = { id: 12, at: '2026-12-06T17:00:00.000Z', actor: '42', action: 'mute', room: 7, user_id: '77', message_id: null, data: { until: 1765044000000 } }

const sanctionRoutes = (moderation: ModerationService, callers: Callers, kind: 'mute' | 'ban') => {
  const path = kind === 'mute' ? 'mutes' : 'bans'
  const what = kind === 'mute' ? 'Mute' : 'Ban'
  return new Elysia({ name: `moderation-${path}` })
    .get(`/room/:room_id/${path}/`, ({ params, request }) => moderation.list(parseRoomId(params.room_id), kind, callers(request.headers)), {
      params: roomParamsSchema,
      detail: {
        summary: `List the room's ${path}`,
        description: `The ${path} in force, oldest first (moderators, a private room's owner and service calls).`,
        tags: ['moderation'],
        security: security.userOrService,
        responses: responses({ 200: { description: `${what}s`, schema: z.array(sanctionSchema), example: [exampleSanction] }, ...moderatorOnly }),
      },
    })
    .delete(
      `/room/:room_id/${path}/:user_id/`,
      async ({ params, request, set }) => {
        await moderation.lift(parseRoomId(params.room_id), parseUserId(params.user_id), kind, callers(request.headers))
        set.status = 204
      },
      {
        params: memberParamsSchema,
        detail: {
          summary: kind === 'mute' ? 'Unmute a user' : 'Lift a ban',
          description: kind === 'mute' ? 'They may write again at once, on every instance.' : 'They may come back: an open room takes them at once; a private room needs its owner to add them again.',
          tags: ['moderation'],
          security: security.userOrService,
          responses: responses({ 204: { description: 'Lifted', empty: true }, ...moderatorOnly, 404: { description: `No such room, or no ${kind} to lift`, problem: { code: kind === 'mute' ? 'not_muted' : 'not_banned' } } }),
        },
      },
    )
}

/** Moderators, mutes and bans, word filters, the audit log and the report queue. */
export const moderationRoutes = (moderation: ModerationService, callers: Callers) =>
  new Elysia({ name: 'moderation', prefix: '/chat/v1' })
    .put(
      '/room/:room_id/mutes/:user_id/',
      async ({ params, body, request, set }) => {
        await moderation.mute(parseRoomId(params.room_id), parseUserId(params.user_id), body?.until, callers(request.headers))
        set.status = 204
      },
      {
        params: memberParamsSchema,
        body: muteBodySchema,
        detail: {
          summary: 'Mute a user in a room',
          description:
            "They keep reading but cannot send, edit or react there (REST 403 `muted` with Retry-After when the mute ends; socket `chat.error` `muted`), from the moment this answers, on every instance (checked where each write commits). A later mute replaces an earlier one. By the room's moderators, a private room's owner, or a service call; recorded in the audit log.",
          tags: ['moderation'],
          security: security.userOrService,
          responses: responses({
            204: { description: 'Muted', empty: true },
            400: { description: 'Muting oneself', problem: { code: 'same_user' } },
            ...moderatorOnly,
            422: { description: '`until` is not in the future', problem: { code: 'validation_failed' } },
          }),
        },
      },
    )
    .put(
      '/room/:room_id/bans/:user_id/',
      async ({ params, request, set }) => {
        await moderation.ban(parseRoomId(params.room_id), parseUserId(params.user_id), callers(request.headers))
        set.status = 204
      },
      {
        params: memberParamsSchema,
        detail: {
          summary: 'Ban a user from a room',
          description:
            "Their place in the room ends (a private room's membership, an open room's participation), their sockets in it close with 4403 `banned` on every instance (in the room's order: nothing committed after the ban reaches them), new handshakes answer 403 `banned`, and their writes there answer 403 `banned`. By the room's moderators, a private room's owner, or a service call; recorded in the audit log.",
          tags: ['moderation'],
          security: security.userOrService,
          responses: responses({
            204: { description: 'Banned', empty: true },
            400: { description: 'Banning oneself', problem: { code: 'same_user' } },
            ...moderatorOnly,
            409: { description: "A private room's owner", problem: { code: 'owner' } },
          }),
        },
      },
    )
    .use(sanctionRoutes(moderation, callers, 'mute'))
    .use(sanctionRoutes(moderation, callers, 'ban'))
    .get('/admin/moderators/:user_id/', ({ params, request }) => moderation.moderator(parseUserId(params.user_id), callers(request.headers)), {
      params: userParamsSchema,
      detail: {
        summary: 'Read a moderator (service call)',
        tags: ['moderation'],
        security: security.service,
        responses: responses({
          200: { description: 'The rooms they moderate', schema: moderatorSchema, example: { user_id: '42', rooms: null } },
          ...serviceOnly,
          404: { description: 'Moderates no room', problem: { code: 'not_moderator' } },
        }),
      },
    })
    .put('/admin/moderators/:user_id/', ({ params, body, request }) => moderation.setModerator(parseUserId(params.user_id), body?.rooms, callers(request.headers)), {
      params: userParamsSchema,
      body: moderatorBodySchema,
      detail: {
        summary: 'Name a moderator (service call)',
        description: 'Of the rooms named, or of every room when none are: they may unsend any message, mute, ban and set slow mode there, and slow mode does not hold them. Replaces the rooms they moderated.',
        tags: ['moderation'],
        security: security.service,
        responses: responses({ 200: { description: 'Named', schema: moderatorSchema, example: { user_id: '42', rooms: [7, 8] } }, ...serviceOnly }),
      },
    })
    .delete(
      '/admin/moderators/:user_id/',
      async ({ params, request, set }) => {
        await moderation.removeModerator(parseUserId(params.user_id), callers(request.headers))
        set.status = 204
      },
      {
        params: userParamsSchema,
        detail: {
          summary: 'Remove a moderator (service call)',
          tags: ['moderation'],
          security: security.service,
          responses: responses({ 204: { description: 'Removed', empty: true }, ...serviceOnly, 404: { description: 'Moderates no room', problem: { code: 'not_moderator' } } }),
        },
      },
    )
    .get('/admin/filters/', ({ request }) => moderation.filters(callers(request.headers)), {
      detail: {
        summary: 'List word filters (service call)',
        tags: ['moderation'],
        security: security.service,
        responses: responses({ 200: { description: 'Filters', schema: z.array(filterSchema), example: [exampleFilter] }, ...serviceOnly }),
      },
    })
    .put('/admin/filters/', ({ body, request }) => moderation.replaceFilters(body, callers(request.headers)), {
      body: filterBodySchema,
      detail: {
        summary: 'Set word filters (service call)',
        description:
          'Replaces every filter. Applied to messages, edits and room names before they are stored, in order: `refuse` answers 422 `filtered` (socket `chat.error` `filtered`), `mask` replaces each character of a match with • (the text as written kept for service calls), `flag` stores as is and sends a `message.flagged` webhook. This instance applies them at once, the others within FILTER_REFRESH_MS. Recorded in the audit log.',
        tags: ['moderation'],
        security: security.service,
        responses: responses({
          200: { description: 'The filters as stored', schema: z.array(filterSchema), example: [exampleFilter] },
          ...serviceOnly,
          422: { description: 'A regular expression that does not compile, or a field out of range', problem: { code: 'validation_failed' } },
        }),
      },
    })
    .get('/admin/audit/', ({ query, request }) => moderation.audit(query, callers(request.headers)), {
      query: auditQuerySchema,
      detail: {
        summary: 'Read the audit log (service call)',
        description: 'Every moderation action, oldest first; page with `after` (the last id seen).',
        tags: ['moderation'],
        security: security.service,
        responses: responses({ 200: { description: 'Actions', schema: z.array(auditEntrySchema), example: [exampleAudit] }, ...serviceOnly }),
      },
    })
    .get('/admin/reports/', ({ query, request }) => moderation.reports(query, callers(request.headers)), {
      query: reportQuerySchema,
      detail: {
        summary: 'The report queue (service call)',
        description: 'Reports, oldest first (`status=open`: those still to handle), each with the message reported as it is now and the 10 messages before and after it in its room; page with `after` (the last id seen).',
        tags: ['reports'],
        security: security.service,
        responses: responses({ 200: { description: 'Reports', schema: z.array(queuedReportSchema), example: [exampleQueuedReport] }, ...serviceOnly }),
      },
    })
    .patch('/admin/reports/:report_id/', ({ params, body, request }) => moderation.closeReport(parsePathId(params.report_id, 'report'), body.status, callers(request.headers)), {
      params: z.object({ report_id: z.string().describe('Report id') }),
      body: reportPatchSchema,
      detail: {
        summary: 'Resolve or dismiss a report (service call)',
        description: 'Recorded in the audit log; a report may be decided again (its latest decision counts).',
        tags: ['reports'],
        security: security.service,
        responses: responses({
          200: { description: 'The report as decided', schema: queuedReportSchema, example: { ...exampleQueuedReport, status: 'resolved', closed_at: '2026-12-06T17:10:00.000Z' } },
          ...serviceOnly,
          404: { description: 'No such report', problem: { code: 'report_not_found' } },
        }),
      },
    })
