import { Elysia } from 'elysia'
import { z } from 'zod'
import type { Callers } from '../../caller.ts'
import { exampleDirectRoom, exampleRoomDetail, exampleRoomSummary } from '../examples.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import type { Config } from '../../config.ts'
import { requesterOf } from '../../gateway.ts'
import { publicHost } from '../../http.ts'
import { nextLink, oneCursor, parseRoomId, roomParamsSchema } from '../shared-model.ts'
import { createRoomBodySchema, directRoomBodySchema, listRoomsQuerySchema, roomDetailSchema, roomSummarySchema, updateRoomBodySchema } from './model.ts'
import type { RoomService } from './service.ts'

const optionalCaller = security.anyone

/** `/chat/v1/rooms/`, `/chat/v1/create-room/`, `/chat/v1/direct-room/`, `/chat/v1/room/{room_id}/`. */
export const roomRoutes = (rooms: RoomService, callers: Callers, config: Config) =>
  new Elysia({ name: 'rooms', prefix: '/chat/v1' })
    .get(
      '/rooms/',
      async ({ query, request, set }) => {
        const { rooms: page, next } = await rooms.list(oneCursor(query), publicHost(request, config.PUBLIC_URL), callers(request.headers))
        if (next) set.headers.link = nextLink(next)
        return page
      },
      {
        query: listRoomsQuerySchema,
        detail: {
          summary: 'List rooms',
          description:
            'Open rooms and, with identity, the caller\'s private and direct rooms: the newest `limit` (default 50) first, by descending id. While more exist, a `Link: <?limit=50&before=…>; rel="next"` header gives the next page: a reference to resolve against the URL asked (`new URL(ref, response.url)`), so it keeps any prefix a gateway adds. `after` lists oldest first instead, rooms with a larger id. The body stays the seed\'s bare array.',
          tags: ['rooms'],
          security: optionalCaller,
          responses: responses({
            200: { description: 'Room summaries, newest first (oldest first with `after`); a `Link` header with rel="next" while more exist', schema: z.array(roomSummarySchema), example: [exampleRoomSummary] },
            400: {
              description: 'A query value is invalid, or both `before` and `after` were given',
              problem: { code: 'invalid_query', example: { errors: [{ path: 'limit', message: 'Too big: expected number to be <=200' }] } },
            },
            503: { description: 'Redis, where who is online is kept, cannot be reached for a moment; try again shortly', problem: { code: 'presence_unavailable' } },
          }),
        },
      },
    )
    .post(
      '/create-room/',
      async ({ body, request, server, set }) => {
        const { room, created } = await rooms.create(body, publicHost(request, config.PUBLIC_URL), requesterOf(request, server, config), callers(request.headers))
        set.status = created ? 201 : 200
        return room
      },
      {
        body: createRoomBodySchema(config.MAX_ROOM_MEMBERS, config.ROOM_DATA_BYTES),
        detail: {
          summary: 'Create a room',
          description:
            'Open rooms (the default) are idempotent per `post_id`: 201 with the new room, or 200 with the open room that already exists for that post. A private room is always new: the identified caller owns it, with `members`; a service call may name any `owner`. A service call may also create a `direct` room for two `members` (201, or 200 with their existing one).',
          tags: ['rooms'],
          security: optionalCaller,
          responses: responses({
            201: { description: 'The new room', schema: roomDetailSchema, example: { ...exampleRoomDetail, online_count: 0, online_users: [], chat_messages: [] } },
            200: { description: 'The room that already exists for this post_id (open) or pair and post (direct)', schema: roomDetailSchema, example: exampleRoomDetail },
            401: { description: 'A private room without identity (and not a service call)', problem: { code: 'identity_required' } },
            403: {
              description:
                "`owner` or kind `direct` from a caller who is not the app's backend (`service_call_required`), a direct pair that blocked each other, or a private room with a member who has blocked its owner (`blocked`); the post's open room already exists and the caller is banned from it (`banned`), as reading it would answer",
              problem: { code: 'service_call_required' },
            },
            429: { description: 'Too many rooms created by this user or from this address lately (Retry-After says how long to wait)', problem: { code: 'too_many_rooms' } },
            400: { description: 'The body is not JSON', problem: { code: 'invalid_body' } },
            422: { description: 'A field is invalid; each one is listed', problem: { code: 'validation_failed', example: { errors: [{ path: 'name', message: 'Too small: expected string to have >=1 characters' }] } } },
          }),
        },
      },
    )
    .post(
      '/direct-room/',
      async ({ body, request, server, set }) => {
        const { room, created } = await rooms.directWith(body, publicHost(request, config.PUBLIC_URL), requesterOf(request, server, config), callers(request.headers))
        set.status = created ? 201 : 200
        return room
      },
      {
        body: directRoomBodySchema(config.ROOM_DATA_BYTES),
        detail: {
          summary: 'Open a direct room',
          description:
            'The direct room of the caller and `user_id` about `post_id`: 201 with a new room, or 200 with the one the pair already has for that post (no post_id is its own key). Safe when requests race, on any instance. Its two members never change.',
          tags: ['rooms'],
          security: security.userOrService,
          responses: responses({
            201: { description: 'The new direct room', schema: roomDetailSchema, example: exampleDirectRoom },
            200: { description: "The pair's existing direct room for this post", schema: roomDetailSchema, example: exampleDirectRoom },
            400: { description: '`user_id` is the caller (`same_user`), or the body is not JSON', problem: { code: 'same_user' } },
            401: { description: 'No identity', problem: { code: 'identity_required' } },
            403: {
              description: 'One of the two has blocked the other (`blocked`), or the room exists and the caller is no longer its member, having been banned from it (`not_a_member`), as reading it would answer',
              problem: { code: 'blocked' },
            },
            429: { description: 'Too many rooms created by this user or from this address lately', problem: { code: 'too_many_rooms' } },
            422: { description: 'A field is invalid; each one is listed', problem: { code: 'validation_failed', example: { errors: [{ path: 'user_id', message: 'Too small: expected string to have >=1 characters' }] } } },
          }),
        },
      },
    )
    .patch('/room/:room_id/', ({ params, body, request }) => rooms.update(parseRoomId(params.room_id), body, publicHost(request, config.PUBLIC_URL), callers(request.headers)), {
      params: roomParamsSchema,
      body: updateRoomBodySchema(config.ROOM_DATA_BYTES),
      detail: {
        summary: 'Change a room',
        description:
          "The app's backend keeps the post's details on the room (`data`: title, price, picture, status) and archives it when the post is sold or gone (`status: \"archived\"`: read-only, every write answers 409 `room_archived`; `active` reopens it). The owner of a private room may rename it. Every socket of the room hears `chat.room.updated` in the room's order (a reconnect with since_version= replays it), the streams following the room `inbox.room.updated`, and webhooks `room.updated`. A change that changes nothing is not heard.",
        tags: ['rooms'],
        security: security.userOrService,
        responses: responses({
          200: { description: 'The room as changed', schema: roomDetailSchema, example: exampleDirectRoom },
          401: { description: 'No identity, and not a service call', problem: { code: 'identity_required' } },
          403: {
            description: "`data` or `status` from a user (`service_call_required`), a rename by someone other than a private room's owner (`not_owner`), or not a member (`not_a_member`)",
            problem: { code: 'not_owner' },
          },
          404: { description: 'No such room', problem: { code: 'room_not_found' } },
          422: {
            description: 'A field is invalid (a `data` past ROOM_DATA_BYTES, no field to change); each one is listed',
            problem: { code: 'validation_failed', example: { errors: [{ path: 'data', message: 'must be at most 4096 bytes as JSON' }] } },
          },
        }),
      },
    })
    .get('/room/:room_id/', ({ params, request }) => rooms.detail(parseRoomId(params.room_id), publicHost(request, config.PUBLIC_URL), callers(request.headers)), {
      params: roomParamsSchema,
      detail: {
        summary: 'Room detail',
        description: 'The room with who is online, its newest 50 messages (ascending) and, for private and direct rooms, its members. Private and direct rooms answer only their members and service calls.',
        tags: ['rooms'],
        security: optionalCaller,
        responses: responses({
          200: { description: 'The room', schema: roomDetailSchema, example: exampleRoomDetail },
          401: { description: 'A private or direct room, and no identity', problem: { code: 'identity_required' } },
          403: { description: 'A private or direct room the caller is not a member of', problem: { code: 'not_a_member' } },
          404: { description: 'No such room', problem: { code: 'room_not_found' } },
          503: { description: 'Redis, where who is online is kept, cannot be reached for a moment; try again shortly', problem: { code: 'presence_unavailable' } },
        }),
      },
    })
