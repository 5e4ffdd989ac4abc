import { z } from 'zod'
import { characterCount } from '../../realtime/protocol.ts'
import { badRequest } from '../../errors.ts'
import { cursor, integerLike, pageLimit } from '../shared-model.ts'

/** Message text: not blank, at most `maxLength` characters (code points). */
export const messageText = (maxLength: number) =>
  z
    .string()
    .refine((text) => text.trim().length > 0, { message: 'must not be empty' })
    .refine((text) => text.length <= maxLength || characterCount(text) <= maxLength, { message: `must be at most ${maxLength} characters` })
    .describe(`Message text, 1–${maxLength} characters`)

export const clientMsgId = z.string().min(1).max(64).describe('Client-chosen id; a repeat from the same user in the same room is stored once')

export const sendMessageBodySchema = (maxLength: number) =>
  z.object({
    message: messageText(maxLength),
    room: integerLike().describe('Room id'),
    client_msg_id: clientMsgId.nullish(),
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
