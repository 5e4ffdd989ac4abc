import { z } from 'zod'
import { messageSchema } from '../../realtime/codec.ts'
import { memberSchema, roomSummarySchema } from '../rooms/model.ts'

export const inboxQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(30).describe('Rooms per page (1–100)'),
  cursor: z.string().max(200).optional().describe("The previous page's next_cursor (give post_id again with it)"),
  post_id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().describe("Only the rooms about this post: a seller's chats about a post"),
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

/** The frames of the user stream `WS /ws/chat/inbox/` (server to client only). */
export const inboxFrameSchemas = {
  ready: z
    .object({ type: z.literal('inbox.ready'), unread: z.object({ total: z.number().int(), rooms: z.number().int() }) })
    .describe('The stream is live: every change from now on arrives on it. Fetch `GET /chat/v1/inbox/` now (after this frame), and again after any reconnect.'),
  message: z
    .object({ type: z.literal('inbox.message'), room: z.number().int(), message: messageSchema, unread_count: z.number().int() })
    .describe("A new message in one of the user's rooms (their own too, from any device: unread_count is then 0)"),
  read: z.object({ type: z.literal('inbox.read'), room: z.number().int(), last_read_id: z.number().int(), unread_count: z.number().int() }).describe("The user's own read marker moved (on any device)"),
  room: z.object({ type: z.literal('inbox.room'), room: inboxRoomSchema }).describe('The user gained a room: made a member, or took part in an open room (as an inbox entry)'),
  removed: z
    .object({ type: z.literal('inbox.removed'), room: z.number().int() })
    .describe('The room left the list: the user is no longer in it, or hid it (a newer message brings it back, as an `inbox.message` of a room the list lacks)'),
  roomUpdated: z.object({ type: z.literal('inbox.room.updated'), room: roomSummarySchema }).describe("A room's name, data or status changed (its summary as a service call sees it: keep the entry's own `peer`)"),
  updated: z
    .object({ type: z.literal('inbox.message.updated'), room: z.number().int(), message: messageSchema, unread_count: z.number().int() })
    .describe("A message in one of the user's rooms was edited or unsent: its new form (show it if it is the room's last message), with the room's unread count after it (an unsent unread message stops counting)"),
}
export type InboxFrame = { [K in keyof typeof inboxFrameSchemas]: z.infer<(typeof inboxFrameSchemas)[K]> }[keyof typeof inboxFrameSchemas]
