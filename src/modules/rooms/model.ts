import { z } from 'zod'
import { userIdSchema } from '../../identity.ts'
import { messageSchema } from '../../realtime/codec.ts'
import { cursor, integerLike, pageLimit, readableText } from '../shared-model.ts'

const roomName = readableText(z.string().trim().min(1).max(100))

export const roomKindSchema = z.enum(['open', 'private', 'direct'])

/** The create-room body; `maxMembers` is MAX_ROOM_MEMBERS. */
export const createRoomBodySchema = (maxMembers: number) =>
  z.object({
    name: roomName.describe('Room name, 1–100 characters, something visible, no control characters but tab and newline'),
    post_id: integerLike().nullish().describe('The post this room belongs to; at most one open room per post (private rooms are not keyed by it)'),
    kind: roomKindSchema.default('open').describe('`open` (default): anyone reads and sends. `private`: its owner and members only. `direct`: two members; service calls only (users call /chat/v1/direct-room/)'),
    members: z.array(userIdSchema).max(maxMembers).optional().describe(`Private and direct rooms: the members' user ids (with the owner, at most ${maxMembers}; a direct room exactly two)`),
    owner: userIdSchema.optional().describe('Private rooms, service calls only: the owner (a user creating the room owns it)'),
  })
export type CreateRoomBody = z.infer<ReturnType<typeof createRoomBodySchema>>

export const directRoomBodySchema = z.object({
  user_id: userIdSchema.describe('The other user'),
  post_id: integerLike().nullish().describe('The post the two talk about; one direct room per pair and post (no post is its own key)'),
  name: roomName.optional().describe('Room name when the room is created (default empty: clients name a direct room after the other member)'),
})
export type DirectRoomBody = z.infer<typeof directRoomBodySchema>

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
})
export type RoomDetail = z.infer<typeof roomDetailSchema>
