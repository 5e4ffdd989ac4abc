import { z } from 'zod'
import { messageSchema } from '../../realtime/codec.ts'
import { cursor, integerLike, pageLimit, readableText } from '../shared-model.ts'

export const createRoomBodySchema = z.object({
  name: readableText(z.string().trim().min(1).max(100)).describe('Room name, 1–100 characters, something visible, no control characters but tab and newline'),
  post_id: integerLike().nullish().describe('The post this room belongs to; at most one room per post'),
})
export type CreateRoomBody = z.infer<typeof createRoomBodySchema>

export const listRoomsQuerySchema = z.object({
  limit: pageLimit,
  after: cursor.optional().describe('Return rooms with an id above this one'),
})

export const roomSummarySchema = z.object({
  id: z.number().int(),
  name: z.string(),
  post_id: z.number().int().nullable(),
  chat_url: z.string().describe('"<host>/ws/chat/<id>/chat/", built from the request Host'),
  created_at: z.string().describe('ISO 8601, UTC'),
  online_count: z.number().int().describe('Users with at least one open socket in the room'),
})
export type RoomSummary = z.infer<typeof roomSummarySchema>

const onlineUserSchema = z.object({
  user_id: z.string(),
  nickname: z.string(),
  profile_picture_url: z.string().nullable(),
})

export const roomDetailSchema = roomSummarySchema.extend({
  epoch: z.string().describe('The storage epoch: a client reconnecting with since= gives it as epoch=, so a replaced database is noticed'),
  online_users: z.array(onlineUserSchema),
  chat_messages: z.array(messageSchema).describe('The newest 50 messages, ascending'),
})
export type RoomDetail = z.infer<typeof roomDetailSchema>
