import { Elysia } from 'elysia'
import { identityFromHeaders } from '../../identity.ts'
import { toMessageDto } from '../../realtime/protocol.ts'
import { parseRoomId, roomParamsSchema } from '../shared-model.ts'
import { checkHistoryQuery, historyQuerySchema, sendMessageBodySchema } from './model.ts'
import type { Metrics } from '../../metrics.ts'
import type { MessageService } from './service.ts'

/** `/chat/v1/room/{room_id}/messages/` and `/chat/v1/message/`. */
export const messageRoutes = (messages: MessageService, maxMessageLength: number, metrics: Metrics) =>
  new Elysia({ name: 'messages', prefix: '/chat/v1' })
    .get(
      '/room/:room_id/messages/',
      async ({ params, query }) => {
        const rows = await messages.history(parseRoomId(params.room_id), checkHistoryQuery(query))
        return rows.map(toMessageDto)
      },
      {
        params: roomParamsSchema,
        query: historyQuerySchema,
        detail: {
          summary: 'Message history',
          description: 'Ascending by id: the newest `limit`, or the newest below `before`, or the oldest above `after`.',
          tags: ['messages'],
        },
      },
    )
    // Derived before body validation, so a request without identity is 401 whatever its body.
    .derive(({ request }) => ({ sender: identityFromHeaders(request.headers) }))
    .post(
      '/message/',
      async ({ body, sender, set }) => {
        metrics.messagesReceived.inc({ source: 'rest' })
        const { message, duplicate } = await messages.send(sender, body.room, body.message, body.client_msg_id ?? null)
        set.status = duplicate ? 200 : 201
        return toMessageDto(message)
      },
      {
        body: sendMessageBodySchema(maxMessageLength),
        detail: {
          summary: 'Send a message',
          description:
            'Stores the message as the user the gateway identifies, then broadcasts it to the room. A repeated `client_msg_id` returns the stored message with 200.',
          tags: ['messages'],
        },
      },
    )
