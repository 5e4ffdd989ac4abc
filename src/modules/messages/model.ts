import { z } from 'zod'
import { clientMsgIdSchema } from '../../realtime/codec.ts'
import { cursor, integerLike, messageText, pageLimit } from '../shared-model.ts'

export const sendMessageBodySchema = (maxLength: number) =>
  z.object({
    message: messageText(maxLength),
    room: integerLike().describe('Room id'),
    client_msg_id: clientMsgIdSchema.nullish(),
  })

export const historyQuerySchema = z.object({
  limit: pageLimit,
  before: cursor.optional().describe('Only messages with a smaller id (the newest of them)'),
  after: cursor.optional().describe('Only messages with a larger id (the oldest of them)'),
})
export type HistoryQuery = z.infer<typeof historyQuerySchema>
