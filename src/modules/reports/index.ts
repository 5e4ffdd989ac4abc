import { Elysia } from 'elysia'
import type { Callers } from '../../caller.ts'
import type { Config } from '../../config.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { requesterOf } from '../../gateway.ts'
import { reportBodySchema, reportSchema } from './model.ts'
import type { ReportService } from './service.ts'

const exampleReport = { id: 7, reporter: '42', message_id: 1024, user_id: '77', room: 3, reason: '외부 연락처로 거래 유도', created_at: '2026-11-30T09:00:00.000Z', status: 'open' as const, closed_at: null, closed_by: null }

/** `POST /chat/v1/report/`, and the service call that lists reports. */
export const reportRoutes = (reports: ReportService, callers: Callers, config: Config) =>
  new Elysia({ name: 'reports', prefix: '/chat/v1' }).post(
    '/report/',
    async ({ body, request, server, set }) => {
      set.status = 201
      return reports.report(callers(request.headers), body, requesterOf(request, server, config))
    },
    {
      body: reportBodySchema,
      detail: {
        summary: 'Report a message or a user',
        description:
          "For moderation: a message of a room the caller may use (its author is the user reported), or any user id (taken the same way whether or not the server has seen that user, so a report tells nothing about who exists). Stored, and sent to the app's backend as a `report.created` webhook. Limited per user (REPORTS_PER_HOUR).",
        tags: ['reports'],
        security: security.user,
        responses: responses({
          201: { description: 'Stored', schema: reportSchema, example: exampleReport },
          400: { description: 'Reporting oneself', problem: { code: 'same_user' } },
          401: { description: 'No identity', problem: { code: 'identity_required' } },
          403: { description: 'The message is in a room the caller may not use', problem: { code: 'not_a_member' } },
          404: { description: 'No such message', problem: { code: 'message_not_found' } },
          422: { description: 'Neither id, a reason that is empty or too long, or a user_id that is not the message author', problem: { code: 'validation_failed' } },
          429: { description: 'Too many reports lately', problem: { code: 'too_many_reports' } },
        }),
      },
    },
  )
