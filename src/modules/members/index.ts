import { Elysia } from 'elysia'
import { z } from 'zod'
import type { Callers } from '../../caller.ts'
import type { Config } from '../../config.ts'
import { requesterOf } from '../../gateway.ts'
import { exampleMember } from '../examples.ts'
import { responses } from '../../openapi/responses.ts'
import { security } from '../../openapi/security.ts'
import { memberSchema } from '../rooms/model.ts'
import { parseRoomId, roomParamsSchema } from '../shared-model.ts'
import { addMemberBodySchema, blockSchema, memberParamsSchema, userParamsSchema } from './model.ts'
import { MAX_BLOCKS, parseUserId, type BlockService, type MemberService } from './service.ts'

const caller = security.anyone
const user = security.user
const roomRefusals = {
  401: { description: 'A private or direct room, and no identity', problem: { code: 'identity_required' } },
  403: { description: 'Not a member of this private or direct room (`not_a_member`), or not its owner (`not_owner`)', problem: { code: 'not_a_member' } },
  404: { description: 'No such room', problem: { code: 'room_not_found' } },
} as const
const fixedMembers = { 409: { description: 'An open room (`open_room`: no members) or a direct room (`direct_room`: its pair never changes)', problem: { code: 'direct_room' } } } as const

/** `/chat/v1/room/{room_id}/members/…`: the members of private rooms. */
export const memberRoutes = (members: MemberService, callers: Callers, config: Pick<Config, 'TRUSTED_PROXIES' | 'GATEWAY_SECRET'>) =>
  new Elysia({ name: 'members', prefix: '/chat/v1' })
    .get('/room/:room_id/members/', ({ params, request }) => members.list(parseRoomId(params.room_id), callers(request.headers)), {
      params: roomParamsSchema,
      detail: {
        summary: 'List members',
        description:
          "The owner, then the members by joining, with the last profile the gateway forwarded for each who has taken part in the room (sent, or read a message) or owns it; others' profiles are null but to themselves and the app's backend. Empty for open rooms.",
        tags: ['members'],
        security: caller,
        responses: responses({ 200: { description: 'Members', schema: z.array(memberSchema), example: [exampleMember] }, ...roomRefusals }),
      },
    })
    .post(
      '/room/:room_id/members/',
      async ({ params, body, request, server, set }) => {
        const { member, added } = await members.add(parseRoomId(params.room_id), body.user_id, callers(request.headers), requesterOf(request, server, config))
        set.status = added ? 201 : 200
        return member
      },
      {
        params: roomParamsSchema,
        body: addMemberBodySchema,
        detail: {
          summary: 'Add a member',
          description:
            "The owner or a service call adds a user to a private room: 201, or 200 if they already were a member. The room's sockets hear `chat.member.added`. A user who has blocked the owner cannot be added by them (403 `blocked`). Users' changes are limited (MEMBER_CHANGES_PER_MINUTE, 429 with Retry-After); service calls are not.",
          tags: ['members'],
          security: caller,
          responses: responses({
            201: { description: 'Added', schema: memberSchema, example: exampleMember },
            200: { description: 'Already a member', schema: memberSchema, example: exampleMember },
            ...roomRefusals,
            403: { description: 'Not a member of this private room (`not_a_member`), not its owner (`not_owner`), or the user has blocked the owner (`blocked`)', problem: { code: 'blocked' } },
            409: { description: 'An open or direct room (`open_room`, `direct_room`), or the room is full (`too_many_members`, see MAX_ROOM_MEMBERS)', problem: { code: 'too_many_members' } },
            422: { description: 'The user id is invalid', problem: { code: 'validation_failed' } },
            429: { description: 'Too many member changes by this user lately (Retry-After says how long to wait)', problem: { code: 'too_many_member_changes' } },
          }),
        },
      },
    )
    .delete(
      '/room/:room_id/members/:user_id/',
      async ({ params, request, server, set }) => {
        await members.remove(parseRoomId(params.room_id), parseUserId(params.user_id), callers(request.headers), requesterOf(request, server, config))
        set.status = 204
      },
      {
        params: memberParamsSchema,
        detail: {
          summary: 'Remove a member',
          description:
            "The owner or a service call removes a member; a member removes themself (leaves). 204. The room hears `chat.member.removed`, and the removed user's sockets in the room close with 4403 `removed`, on every instance.",
          tags: ['members'],
          security: caller,
          responses: responses({
            204: { description: 'Removed', empty: true },
            400: { description: 'The user id in the path is invalid', problem: { code: 'invalid_user_id' } },
            ...roomRefusals,
            ...fixedMembers,
            429: { description: 'Too many member changes by this user lately (Retry-After says how long to wait)', problem: { code: 'too_many_member_changes' } },
          }),
        },
      },
    )

/** `/chat/v1/blocks/…`: the caller's blocks. */
export const blockRoutes = (blocks: BlockService, callers: Callers) =>
  new Elysia({ name: 'blocks', prefix: '/chat/v1' })
    .get('/blocks/', ({ request }) => blocks.list(callers(request.headers)), {
      detail: {
        summary: 'List blocks',
        description: 'The users the caller has blocked, oldest first.',
        tags: ['blocks'],
        security: user,
        responses: responses({
          200: { description: 'Blocked users', schema: z.array(blockSchema), example: [{ user_id: '77', created_at: '2026-11-30T09:30:00.000Z' }] },
          401: { description: 'No identity', problem: { code: 'identity_required' } },
        }),
      },
    })
    .put(
      '/blocks/:user_id/',
      async ({ params, request, set }) => {
        await blocks.block(callers(request.headers), parseUserId(params.user_id))
        set.status = 204
      },
      {
        params: userParamsSchema,
        detail: {
          summary: 'Block a user',
          description:
            'Idempotent. Stops a new direct room between the two (403 `blocked`) and refuses sends in their existing direct rooms, for both (REST 403 `blocked`, socket `chat.error` `blocked`). Open and private rooms are unchanged: clients hide blocked users there.',
          tags: ['blocks'],
          security: user,
          responses: responses({
            204: { description: 'Blocked', empty: true },
            400: { description: 'The user id is invalid (`invalid_user_id`) or the caller (`same_user`)', problem: { code: 'same_user' } },
            401: { description: 'No identity', problem: { code: 'identity_required' } },
            409: { description: `The caller already blocks ${MAX_BLOCKS} users`, problem: { code: 'too_many_blocks' } },
          }),
        },
      },
    )
    .delete(
      '/blocks/:user_id/',
      async ({ params, request, set }) => {
        await blocks.unblock(callers(request.headers), parseUserId(params.user_id))
        set.status = 204
      },
      {
        params: userParamsSchema,
        detail: {
          summary: 'Unblock a user',
          description: 'Idempotent. Sends in their direct rooms are taken again unless the other user has blocked the caller too.',
          tags: ['blocks'],
          security: user,
          responses: responses({
            204: { description: 'Unblocked', empty: true },
            400: { description: 'The user id is invalid', problem: { code: 'invalid_user_id' } },
            401: { description: 'No identity', problem: { code: 'identity_required' } },
          }),
        },
      },
    )
