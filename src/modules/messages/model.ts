import { z } from 'zod'
import { attachmentIdsSchema, clientMsgIdSchema, MAX_ATTACHMENTS, messageSchema } from '../../realtime/codec.ts'
import { appDataSchema, cursor, integerLike, messageText, pageLimit } from '../shared-model.ts'

export const sendMessageBodySchema = (maxLength: number, maxDataBytes: number) =>
  z
    .object({
      kind: z.enum(['text', 'system']).optional().describe('`system` (service calls only): the app speaking in the room, with no sender'),
      data: appDataSchema(maxDataBytes).optional().describe('A system message\'s data (the app\'s own, e.g. {"event": "reserved"}), at most ROOM_DATA_BYTES as JSON'),
      silent: z.boolean().optional().describe('A system message that does not count as unread'),
      message: messageText(maxLength).or(z.literal('')).describe(`Message text, 1–${maxLength} characters, something visible, no control characters but tab and newline; "" only with attachments`),
      room: integerLike().describe('Room id'),
      client_msg_id: clientMsgIdSchema.nullish(),
      reply_to: integerLike().nullish().describe('The id of the message (of the same room) this one answers'),
      attachments: attachmentIdsSchema.optional().describe(`Uploads (POST /chat/v1/uploads/, by the sender, not yet sent) to send with it, 1–${MAX_ATTACHMENTS}`),
    })
    .refine((body) => body.message !== '' || body.attachments !== undefined, { path: ['message'], message: 'must not be empty' })

export const editMessageBodySchema = (maxLength: number) => z.object({ message: messageText(maxLength) })

/** Route params naming a message of a room. */
export const messageParamsSchema = z.object({ room_id: z.string().describe('Room id'), message_id: z.string().describe('Message id') })

/** … and one emoji (percent-encoded in the path). */
export const reactionParamsSchema = messageParamsSchema.extend({ emoji: z.string().describe('One emoji, percent-encoded (👍 is %F0%9F%91%8D)') })

export const changesQuerySchema = z.object({
  after_version: cursor.default(0).describe('The room version the client has (0: everything)'),
  limit: z.coerce.number().int().min(1).max(500).default(100).describe('How many changed messages at most (1–500)'),
})

export const changesSchema = z.object({
  version: z.number().int().describe('Every change up to this version is in `changes`: ask after it next time'),
  changes: z.array(messageSchema).describe('The latest form of each message changed after after_version, in version order'),
  truncated: z.boolean().describe('More changed than `limit`: the oldest changes were left out (reload the room)'),
})

export const messageHistorySchema = z.array(
  z.object({
    message: z.string(),
    at: z.string().describe('ISO 8601, UTC'),
    action: z.enum(['created', 'edited', 'deleted']),
    by: z.string().nullable().describe("Who: the author, a room owner, or null for the app's backend"),
  }),
)

export const historyQuerySchema = z.object({
  limit: pageLimit,
  before: cursor.optional().describe('Only messages with a smaller id (the newest of them)'),
  after: cursor.optional().describe('Only messages with a larger id (the oldest of them)'),
})
export type HistoryQuery = z.infer<typeof historyQuerySchema>
