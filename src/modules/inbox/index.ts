import { Elysia } from 'elysia'
import type { Callers } from '../../caller.ts'
import type { Config } from '../../config.ts'
import { exampleDirectRoom, exampleMessage } from '../examples.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { publicHost } from '../../http.ts'
import { inboxQuerySchema, inboxSchema } from './model.ts'
import type { InboxService } from './service.ts'
import type { RoomHiding } from './hide.ts'
import { parseRoomId, roomParamsSchema } from '../shared-model.ts'
import { z } from 'zod'

const { epoch: _epoch, online_users: _online, chat_messages: _messages, ...exampleSummary } = exampleDirectRoom

/** `GET /chat/v1/inbox/`. */
export const inboxRoutes = (inbox: InboxService, hiding: RoomHiding, callers: Callers, config: Config) =>
  new Elysia({ name: 'inbox', prefix: '/chat/v1' })
    .delete(
      '/inbox/:room_id/',
      async ({ params, query, request, set }) => {
        await hiding.hide(parseRoomId(params.room_id), query.leave === 'true', callers(request.headers))
        set.status = 204
      },
      {
        params: roomParamsSchema,
        query: z.object({ leave: z.enum(['true', 'false']).optional().describe('`true` in a direct room: also leave it (the other member is told; no one can send there any more)') }),
        detail: {
          summary: 'Hide a room from the inbox (나가기)',
          description:
            'The room leaves the caller\'s inbox, unread total and user stream (`inbox.removed` to their other devices) until a newer message arrives in it. With `?leave=true` in a direct room the caller also leaves it: it stays out of their inbox, the other member gets a system message `{data: {event: "left", user_id}}`, and further sends there answer 409 `peer_left`.',
          tags: ['read state'],
          security: security.user,
          responses: responses({
            204: { description: 'Hidden (and left)', empty: true },
            401: { description: 'No identity', problem: { code: 'identity_required' } },
            403: { description: 'A private or direct room the caller is not a member of', problem: { code: 'not_a_member' } },
            404: { description: "No such room (`room_not_found`), or not in the caller's inbox (`not_in_inbox`)", problem: { code: 'not_in_inbox' } },
            409: { description: '`leave=true` on a room that is not direct', problem: { code: 'not_a_direct_room' } },
          }),
        },
      },
    )
    .get('/inbox/', ({ query, request }) => inbox.page(callers(request.headers), query, publicHost(request, config.PUBLIC_URL)), {
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
          503: { description: 'Redis, where who is online is kept, cannot be reached for a moment; try again shortly', problem: { code: 'presence_unavailable' } },
        }),
      },
    })
