import { Elysia } from 'elysia'
import { z } from 'zod'
import type { Callers } from '../../caller.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { adminPageSchema } from '../shared-model.ts'
import { deadLetterSchema } from './model.ts'
import type { DeadLetterService } from './service.ts'

/** `GET /chat/v1/admin/webhooks/dead/`: the service call that lists dead webhook events. */
export const deadLetterRoutes = (deadLetters: DeadLetterService, callers: Callers) =>
  new Elysia({ name: 'dead-letters', prefix: '/chat/v1' }).get('/admin/webhooks/dead/', ({ query, request }) => deadLetters.list(callers(request.headers), query), {
    query: adminPageSchema,
    detail: {
      summary: 'List dead webhook events (service call)',
      description: 'Webhook events given up on (a permanent 4xx, or still failing after WEBHOOK_MAX_AGE), oldest first, with the last error. `chat-server webhooks requeue <id|all>` sends them again.',
      tags: ['webhooks'],
      security: security.service,
      responses: responses({
        200: {
          description: 'Dead letters',
          schema: z.array(deadLetterSchema),
          example: [
            {
              id: 12,
              event_id: '3f2a9c1e7b8d-12',
              type: 'message.created',
              room_key: 'room:3',
              attempts: 1,
              last_error: 'HTTP 410 (not retried: the receiver refused it)',
              created_at: '2026-11-30T09:00:00.000Z',
              dead_at: '2026-11-30T09:00:01.000Z',
              data: {},
            },
          ],
        },
        403: { description: 'Not a service call', problem: { code: 'service_call_required' } },
      }),
    },
  })
