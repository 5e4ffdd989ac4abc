import { z } from 'zod'
import { messageSchema } from '../../realtime/codec.ts'
import { memberSchema, roomSummarySchema } from '../rooms/model.ts'

export const inboxQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(30).describe('Rooms per page (1–100)'),
  cursor: z.string().max(200).optional().describe("The previous page's next_cursor"),
})
export type InboxQuery = z.infer<typeof inboxQuerySchema>

export const inboxRoomSchema = roomSummarySchema.extend({
  last_message: messageSchema.nullable().describe("The room's newest message as of the first page"),
  unread_count: z.number().int().describe('Messages after the read marker'),
  last_read_id: z.number().int(),
  members: z.array(memberSchema).describe('Direct rooms: both members, with their cached profiles; empty otherwise'),
})
export type InboxRoom = z.infer<typeof inboxRoomSchema>

export const inboxSchema = z.object({
  rooms: z.array(inboxRoomSchema).describe('Latest activity first: the newest message, else the room’s creation'),
  next_cursor: z.string().nullable().describe('For the next page; null after the last'),
})
export type InboxDto = z.infer<typeof inboxSchema>
