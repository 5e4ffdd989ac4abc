import { Elysia } from 'elysia'
import type { Callers } from '../../caller.ts'
import type { Config } from '../../config.ts'
import { exampleDirectRoom, exampleMessage } from '../examples.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { publicHost } from '../../http.ts'
import { inboxQuerySchema, inboxSchema } from './model.ts'
import type { InboxService } from './service.ts'

const { epoch: _epoch, online_users: _online, chat_messages: _messages, ...exampleSummary } = exampleDirectRoom

/** `GET /chat/v1/inbox/`. */
export const inboxRoutes = (inbox: InboxService, callers: Callers, config: Config) =>
  new Elysia({ name: 'inbox', prefix: '/chat/v1' }).get('/inbox/', ({ query, request }) => inbox.page(callers(request.headers), query, publicHost(request, config.PUBLIC_URL)), {
    query: inboxQuerySchema,
    detail: {
      summary: 'Inbox',
      description:
        "The caller's rooms (private and direct rooms they are a member of, open rooms they have sent to or set a marker in), latest activity first, with the last message, the unread count, the read marker and, for direct rooms, both members. Page with `cursor` (the previous `next_cursor`): pages read as of the first page's moment, so they never repeat a room while messages keep arriving; newer activity shows on a new first page (or live on the user stream).",
      tags: ['read state'],
      security: security.user,
      responses: responses({
        200: {
          description: 'A page of the inbox',
          schema: inboxSchema,
          example: { rooms: [{ ...exampleSummary, last_message: { ...exampleMessage, room: exampleSummary.id }, unread_count: 1, last_read_id: 1000 }], next_cursor: null },
        },
        400: { description: 'A query value is invalid, or the cursor is not one this server gave', problem: { code: 'invalid_cursor' } },
        401: { description: 'No identity', problem: { code: 'identity_required' } },
      }),
    },
  })
