import { Elysia } from 'elysia'
import { z } from 'zod'
import { exampleMessage } from '../examples.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { tooMany } from '../../errors.ts'
import { requireIdentity, type Callers } from '../../caller.ts'
import type { Metrics } from '../../metrics.ts'
import { messageSchema, toMessageDto } from '../../realtime/codec.ts'
import { oneCursor, parseRoomId, roomParamsSchema } from '../shared-model.ts'
import { historyQuerySchema, sendMessageBodySchema } from './model.ts'
import type { RateLimiter } from '../../realtime/rate-limits.ts'
import type { MessageService } from './service.ts'

/** `/chat/v1/room/{room_id}/messages/` and `/chat/v1/message/`. */
export const messageRoutes = (messages: MessageService, callers: Callers, maxMessageLength: number, metrics: Metrics, limiter: RateLimiter) => {
  const receivedOverRest = metrics.messagesReceived.labels('rest')
  return (
    new Elysia({ name: 'messages', prefix: '/chat/v1' })
      .get(
        '/room/:room_id/messages/',
        async ({ params, query, request }) => {
          const rows = await messages.history(parseRoomId(params.room_id), oneCursor(query), callers(request.headers))
          return rows.map(toMessageDto)
        },
        {
          params: roomParamsSchema,
          query: historyQuerySchema,
          detail: {
            summary: 'Message history',
            description: 'Ascending by id: the newest `limit`, or the newest below `before`, or the oldest above `after`. Give at most one of `before` and `after`.',
            tags: ['messages'],
            security: security.anyone,
            responses: responses({
              200: { description: 'Messages, ascending id', schema: z.array(messageSchema), example: [exampleMessage] },
              400: { description: 'A query value is invalid', problem: { code: 'invalid_query' } },
              401: { description: 'A private or direct room, and no identity', problem: { code: 'identity_required' } },
              403: { description: 'A private or direct room the caller is not a member of (service calls read any room)', problem: { code: 'not_a_member' } },
              404: { description: 'No such room', problem: { code: 'room_not_found' } },
            }),
          },
        },
      )
      // Derived before body validation, so a request without identity is 401 whatever its body.
      .derive(({ request }) => ({ sender: requireIdentity(callers(request.headers)) }))
      .post(
        '/message/',
        async ({ body, sender, set }) => {
          const wait = limiter.restMessage(sender.identity.userId)
          if (wait > 0) throw tooMany('rate_limited', 'Too many messages from this user; wait and send again.', wait)
          receivedOverRest.inc()
          const { message, duplicate } = await messages.send(sender, body.room, body.message, body.client_msg_id ?? null)
          set.status = duplicate ? 200 : 201
          return toMessageDto(message)
        },
        {
          body: sendMessageBodySchema(maxMessageLength),
          detail: {
            summary: 'Send a message',
            description:
              'Stores the message as the user the gateway identifies, then broadcasts it as `chat.message` to every socket of the room. A repeated `client_msg_id` (same user, same room) is not stored again: the answer is 200 with the stored message.',
            tags: ['messages'],
            security: security.userOrService,
            responses: responses({
              201: { description: 'Stored and broadcast', schema: messageSchema, example: exampleMessage },
              200: { description: 'This client_msg_id was already stored; the stored message', schema: messageSchema, example: exampleMessage },
              400: { description: 'The identity headers or the body are malformed', problem: { code: 'invalid_identity', example: { errors: [{ path: 'email', message: 'Invalid email address' }] } } },
              401: { description: 'No identity: X-User-Id is missing', problem: { code: 'identity_required' } },
              403: { description: 'A private or direct room the sender is not a member of (`not_a_member`), or a direct room whose two people have blocked each other (`blocked`)', problem: { code: 'not_a_member' } },
              404: { description: 'No such room', problem: { code: 'room_not_found' } },
              429: { description: 'This user is sending too fast (the Retry-After header says how long to wait)', problem: { code: 'rate_limited' } },
              503: {
                description: 'Storage or live delivery is unavailable for a moment (`storage_unavailable`), or the database refuses writes (`storage_read_only`, `storage_damaged`); the message was not stored',
                problem: { code: 'storage_unavailable' },
              },
              507: { description: "The server's disk is full; the message was not stored", problem: { code: 'storage_full' } },
              422: { description: 'A field is invalid; each one is listed', problem: { code: 'validation_failed', example: { errors: [{ path: 'message', message: 'must not be empty' }] } } },
            }),
          },
        },
      )
  )
}
