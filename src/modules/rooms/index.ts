import { Elysia } from 'elysia'
import { requestHost } from '../../http.ts'
import { parseRoomId, roomParamsSchema } from '../shared-model.ts'
import { createRoomBodySchema, listRoomsQuerySchema } from './model.ts'
import type { RoomService } from './service.ts'

/** `/chat/v1/rooms/`, `/chat/v1/create-room/`, `/chat/v1/room/{room_id}/`. */
export const roomRoutes = (rooms: RoomService) =>
  new Elysia({ name: 'rooms', prefix: '/chat/v1' })
    .get('/rooms/', ({ query, request }) => rooms.list(query, requestHost(request)), {
      query: listRoomsQuerySchema,
      detail: { summary: 'List rooms', description: 'Rooms in ascending id order, paged with `after`.', tags: ['rooms'] },
    })
    .post(
      '/create-room/',
      async ({ body, request, set }) => {
        const { room, created } = await rooms.create(body, requestHost(request))
        set.status = created ? 201 : 200
        return room
      },
      {
        body: createRoomBodySchema,
        detail: {
          summary: 'Create a room',
          description: 'Idempotent per `post_id`: 201 with the new room, or 200 with the room that already exists for that post.',
          tags: ['rooms'],
        },
      },
    )
    .get('/room/:room_id/', ({ params, request }) => rooms.detail(parseRoomId(params.room_id), requestHost(request)), {
      params: roomParamsSchema,
      detail: { summary: 'Room detail', description: 'The room with who is online and its newest 50 messages.', tags: ['rooms'] },
    })
