import { z } from 'zod'
import { badRequest } from '../../errors.ts'
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

/** `before` and `after` together would be ambiguous; refuse rather than guess. */
export function checkHistoryQuery(query: HistoryQuery): HistoryQuery {
  if (query.before !== undefined && query.after !== undefined) {
    throw badRequest('invalid_query', 'Give at most one of "before" and "after".', [{ path: 'before', message: 'cannot be combined with after' }])
  }
  return query
}
