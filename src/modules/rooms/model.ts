import { z } from 'zod'
import { moderationStandingSchema } from '../moderation/model.ts'
import { userIdSchema } from '../../identity.ts'
import { messageSchema } from '../../realtime/codec.ts'
import { appDataSchema, cursor, integerLike, messageText, pageLimit, readableText } from '../shared-model.ts'

const roomName = readableText(z.string().trim().min(1).max(100))

export const roomKindSchema = z.enum(['open', 'private', 'direct'])

const roomStatusSchema = z.enum(['active', 'archived'])

const roomDataDescription = "Service calls only: what the app keeps on the room (the post's title, price, picture, status), a JSON object of at most ROOM_DATA_BYTES"

/** The create-room body; `maxMembers` is MAX_ROOM_MEMBERS, `maxDataBytes` ROOM_DATA_BYTES. */
export const createRoomBodySchema = (maxMembers: number, maxDataBytes: number) =>
  z.object({
    data: appDataSchema(maxDataBytes).optional().describe(roomDataDescription),
    name: roomName.describe('Room name, 1–100 characters, something visible, no control characters but tab and newline'),
    post_id: integerLike().nullish().describe('The post this room belongs to; at most one open room per post (private rooms are not keyed by it)'),
    kind: roomKindSchema.default('open').describe('`open` (default): anyone reads and sends. `private`: its owner and members only. `direct`: two members; service calls only (users call /chat/v1/direct-room/)'),
    members: z.array(userIdSchema).max(maxMembers).optional().describe(`Private and direct rooms: the members' user ids (with the owner, at most ${maxMembers}; a direct room exactly two)`),
    owner: userIdSchema.optional().describe('Private rooms, service calls only: the owner (a user creating the room owns it)'),
  })
export type CreateRoomBody = z.infer<ReturnType<typeof createRoomBodySchema>>

export const directRoomBodySchema = (maxDataBytes: number) =>
  z.object({
    data: appDataSchema(maxDataBytes).optional().describe(roomDataDescription),
    user_id: userIdSchema.describe('The other user'),
    post_id: integerLike().nullish().describe('The post the two talk about; one direct room per pair and post (no post is its own key)'),
    name: roomName.optional().describe('Room name when the room is created (default empty: clients name a direct room after the other member)'),
  })
export type DirectRoomBody = z.infer<ReturnType<typeof directRoomBodySchema>>

/** `PATCH /chat/v1/room/{id}/`: what to change (at least one field). */
export const updateRoomBodySchema = (maxDataBytes: number) =>
  z
    .object({
      name: roomName.optional().describe("The room's name (service calls, and the owner of a private room)"),
      data: appDataSchema(maxDataBytes).nullable().optional().describe(`${roomDataDescription}; null clears it`),
      status: roomStatusSchema.optional().describe('Service calls only: `archived` makes the room read-only (409 `room_archived` to every write), `active` reopens it'),
      slow_mode_seconds: z.number().int().min(0).max(86_400).optional().describe("Service calls and the room's moderators (and a private room's owner): one message per this many seconds per user; 0 turns slow mode off"),
    })
    .refine((body) => body.name !== undefined || body.data !== undefined || body.status !== undefined || body.slow_mode_seconds !== undefined, { message: 'must change name, data, status or slow_mode_seconds' })
export type UpdateRoomBody = z.infer<ReturnType<typeof updateRoomBodySchema>>

/** `POST /chat/v1/posts/{post_id}/messages/`: a system message into every room about the post. */
export const postEventBodySchema = (maxLength: number, maxDataBytes: number) =>
  z.object({
    message: messageText(maxLength).describe('The system message\'s text ("거래가 완료되었어요")'),
    data: appDataSchema(maxDataBytes).optional().describe('The system message\'s data (the app\'s own, e.g. {"event": "sold"})'),
    status: roomStatusSchema.optional().describe('`archived`: the rooms become read-only, before the message is stored (a send racing it is stored before the message or refused); `active` reopens them'),
    silent: z.boolean().optional().describe('True: the message does not count as unread'),
  })
export type PostEventBody = z.infer<ReturnType<typeof postEventBodySchema>>

export const postEventResultSchema = z.object({ rooms: z.array(z.number().int()).describe('The rooms about the post, each of which got the message') })

export const postParamsSchema = z.object({ post_id: z.string().describe('Post id') })

export const listRoomsQuerySchema = z.object({
  limit: pageLimit,
  before: cursor.optional().describe('Newest first, rooms with an id below this one (the `Link: rel="next"` header carries it)'),
  after: cursor.optional().describe('Oldest first instead, rooms with an id above this one (to page forward, or to look for rooms made since)'),
  post_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().describe("Only the rooms about this post (open, and the caller's private and direct ones): a seller's chats about a post"),
})
export type ListRoomsQuery = z.infer<typeof listRoomsQuerySchema>

export const peerSchema = z
  .object({
    user_id: z.string(),
    nickname: z.string().nullable().describe('As in `members`: shown once they have taken part in the room (sent, or read a message), else null'),
    profile_picture_url: z.string().nullable(),
  })
  .describe('The other member of a direct room, to name the room after')

export const roomSummarySchema = z.object({
  id: z.number().int(),
  name: z.string(),
  post_id: z.number().int().nullable(),
  chat_url: z.string().describe('"<host>/ws/chat/<id>/chat/", built from the request Host'),
  created_at: z.string().describe('ISO 8601, UTC'),
  online_count: z.number().int().describe('Users with at least one open socket in the room'),
  kind: roomKindSchema,
  member_count: z.number().int().nullable().describe('Owner and members; null for open rooms'),
  status: roomStatusSchema.describe('`archived`: read-only (its post was sold or removed); sends, edits and reactions answer 409 `room_archived`'),
  slow_mode_seconds: z.number().int().describe('Slow mode: each user may send one message per this many seconds (0: off; the owner of a private room and moderators are not held to it)'),
  data: z.record(z.string(), z.unknown()).nullable().describe("What the app's backend keeps on the room (the post's title, price, picture), or null"),
  peer: peerSchema.nullable().describe("Direct rooms, to a user who is one of the two: the other member (a direct room's `name` is usually empty). Null for open and private rooms and for service calls, which read `members`"),
})
export type RoomSummary = z.infer<typeof roomSummarySchema>
export type PeerDto = z.infer<typeof peerSchema>

const onlineUserSchema = z.object({
  user_id: z.string(),
  nickname: z.string(),
  profile_picture_url: z.string().nullable(),
})

export const memberSchema = z.object({
  user_id: z.string(),
  nickname: z
    .string()
    .nullable()
    .describe(
      "The last nickname the gateway forwarded for this user, once they have taken part in the room (sent, or read a message) or own it; null before that (but to themselves and the app's backend), or if the server has never seen them. The caller's own entry carries the nickname and picture of the request it answers",
    ),
  profile_picture_url: z.string().nullable(),
  role: z.enum(['owner', 'member']),
  last_read_id: z.number().int().describe('Their read marker: the newest message id they have read (0: none)'),
  joined_at: z.string().describe('ISO 8601, UTC'),
})
export type MemberDto = z.infer<typeof memberSchema>

export const roomDetailSchema = roomSummarySchema.extend({
  epoch: z.string().describe('The storage epoch: a client reconnecting with since= gives it as epoch=, so a replaced database is noticed'),
  version: z.number().int().describe("The room's version (it grows with every stored change): reconnect with since_version= to hear every change after it"),
  online_users: z.array(onlineUserSchema),
  chat_messages: z.array(messageSchema).describe('The newest 50 messages, ascending'),
  members: z.array(memberSchema).describe('Private and direct rooms: the owner, then the members by joining; empty for open rooms'),
  moderation: moderationStandingSchema,
})
export type RoomDetail = z.infer<typeof roomDetailSchema>
