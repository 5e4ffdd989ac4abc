import { Elysia } from 'elysia'
import { z } from 'zod'
import { exampleRoomDetail, exampleRoomSummary } from '../../docs/examples.ts'
import { responses } from '../../docs/responses.ts'
import type { Config } from '../../config.ts'
import { requesterOf } from '../../gateway.ts'
import { publicHost } from '../../http.ts'
import { parseRoomId, roomParamsSchema } from '../shared-model.ts'
import { createRoomBodySchema, listRoomsQuerySchema, roomDetailSchema, roomSummarySchema } from './model.ts'
import type { RoomService } from './service.ts'

/** `/chat/v1/rooms/`, `/chat/v1/create-room/`, `/chat/v1/room/{room_id}/`. */
export const roomRoutes = (rooms: RoomService, config: Config) =>
  new Elysia({ name: 'rooms', prefix: '/chat/v1' })
    .get('/rooms/', ({ query, request }) => rooms.list(query, publicHost(request, config.PUBLIC_URL)), {
      query: listRoomsQuerySchema,
      detail: {
        summary: 'List rooms',
        description: 'Room summaries in ascending id order, paged with `after` (the last id of the previous page).',
        tags: ['rooms'],
        responses: responses({
          200: { description: 'Room summaries, ascending id', schema: z.array(roomSummarySchema), example: [exampleRoomSummary] },
          400: { description: 'A query value is invalid', problem: { code: 'invalid_query', example: { errors: [{ path: 'limit', message: 'Too big: expected number to be <=200' }] } } },
        }),
      },
    })
    .post(
      '/create-room/',
      async ({ body, request, server, set }) => {
        const { room, created } = await rooms.create(body, publicHost(request, config.PUBLIC_URL), requesterOf(request, server, config))
        set.status = created ? 201 : 200
        return room
      },
      {
        body: createRoomBodySchema,
        detail: {
          summary: 'Create a room',
          description: 'Idempotent per `post_id`: 201 with the new room, or 200 with the room that already exists for that post.',
          tags: ['rooms'],
          responses: responses({
            201: { description: 'The new room', schema: roomDetailSchema, example: { ...exampleRoomDetail, online_count: 0, online_users: [], chat_messages: [] } },
            200: { description: 'The room that already exists for this post_id', schema: roomDetailSchema, example: exampleRoomDetail },
            429: { description: 'Too many rooms created by this user or from this address lately (Retry-After says how long to wait)', problem: { code: 'too_many_rooms' } },
            400: { description: 'The body is not JSON', problem: { code: 'invalid_body' } },
            422: { description: 'A field is invalid; each one is listed', problem: { code: 'validation_failed', example: { errors: [{ path: 'name', message: 'Too small: expected string to have >=1 characters' }] } } },
          }),
        },
      },
    )
    .get('/room/:room_id/', ({ params, request }) => rooms.detail(parseRoomId(params.room_id), publicHost(request, config.PUBLIC_URL)), {
      params: roomParamsSchema,
      detail: {
        summary: 'Room detail',
        description: 'The room with who is online and its newest 50 messages (ascending).',
        tags: ['rooms'],
        responses: responses({
          200: { description: 'The room', schema: roomDetailSchema, example: exampleRoomDetail },
          404: { description: 'No such room', problem: { code: 'room_not_found' } },
        }),
      },
    })
