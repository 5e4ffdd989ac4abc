import { Elysia } from 'elysia'
import type { Callers } from '../../caller.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { parseRoomId, roomParamsSchema } from '../shared-model.ts'
import { markReadBodySchema, readMarkerSchema, unreadSchema } from './model.ts'
import type { ReadService } from './service.ts'

/** `POST /chat/v1/room/{room_id}/read/` and `GET /chat/v1/unread/`. */
export const readRoutes = (reads: ReadService, callers: Callers) =>
  new Elysia({ name: 'reads', prefix: '/chat/v1' })
    .post('/room/:room_id/read/', ({ params, body, request }) => reads.mark(callers(request.headers), parseRoomId(params.room_id), body.last_read_id), {
      params: roomParamsSchema,
      body: markReadBodySchema,
      detail: {
        summary: 'Move the read marker',
        description:
          'Moves the caller\'s read marker in the room forward (never back, never past the room\'s newest message). When it moves, every socket of the room gets `chat.read`. Sending a message moves the sender\'s marker to it. Also over the socket: `{"type": "chat.read", "last_read_id": N}`.',
        tags: ['read state'],
        security: security.userOrService,
        responses: responses({
          200: { description: 'Where the marker is now, and what is unread after it', schema: readMarkerSchema, example: { room: 7, last_read_id: 1024, unread_count: 0 } },
          401: { description: 'No identity', problem: { code: 'identity_required' } },
          403: { description: 'A private or direct room the caller is not a member of', problem: { code: 'not_a_member' } },
          404: { description: 'No such room', problem: { code: 'room_not_found' } },
          422: { description: 'last_read_id is not a message id or 0', problem: { code: 'validation_failed' } },
        }),
      },
    })
    .get('/unread/', ({ request }) => reads.unread(callers(request.headers)), {
      detail: {
        summary: 'Unread badge',
        description: "Unread messages across the caller's rooms (private and direct rooms they are a member of, open rooms they have sent to or set a marker in), and how many rooms have any.",
        tags: ['read state'],
        security: security.user,
        responses: responses({
          200: { description: 'The badge', schema: unreadSchema, example: { total: 5, rooms: 2 } },
          401: { description: 'No identity', problem: { code: 'identity_required' } },
        }),
      },
    })
