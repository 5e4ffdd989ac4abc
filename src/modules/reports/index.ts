import { Elysia } from 'elysia'
import { z } from 'zod'
import type { Callers } from '../../caller.ts'
import type { Config } from '../../config.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { requesterOf } from '../../gateway.ts'
import { adminPageSchema } from '../shared-model.ts'
import { reportBodySchema, reportSchema } from './model.ts'
import type { ReportService } from './service.ts'

const exampleReport = { id: 7, reporter: '42', message_id: 1024, user_id: '77', room: 3, reason: 'spam links', created_at: '2026-11-30T09:00:00.000Z' }
const serviceOnly = { 403: { description: 'Not a service call', problem: { code: 'service_call_required' } } } as const

/** `POST /chat/v1/report/`, and the service call that lists reports. */
export const reportRoutes = (reports: ReportService, callers: Callers, config: Config) =>
  new Elysia({ name: 'reports', prefix: '/chat/v1' })
    .post(
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
    .get('/admin/reports/', ({ query, request }) => reports.list(callers(request.headers), query), {
      query: adminPageSchema,
      detail: {
        summary: 'List reports (service call)',
        description: 'Reports, oldest first; page with `after` (the last id seen).',
        tags: ['reports'],
        security: security.service,
        responses: responses({ 200: { description: 'Reports', schema: z.array(reportSchema), example: [exampleReport] }, ...serviceOnly }),
      },
    })
