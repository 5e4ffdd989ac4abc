import { z } from 'zod'
import { userIdSchema } from '../../identity.ts'
import { messageText, pageLimit, cursor } from '../shared-model.ts'

export const reportBodySchema = z
  .object({
    reason: messageText(500).describe('Why: 1–500 characters'),
    message_id: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().describe('The message reported'),
    user_id: userIdSchema.optional().describe('The user reported (the author, when a message is named too)'),
  })
  .refine((body) => body.message_id !== undefined || body.user_id !== undefined, { message: 'name message_id, user_id, or both', path: ['message_id'] })
export type ReportBody = z.infer<typeof reportBodySchema>

export const reportSchema = z.object({
  id: z.number().int(),
  reporter: z.string(),
  message_id: z.number().int().nullable(),
  user_id: z.string().nullable(),
  room: z.number().int().nullable().describe('The room of the message reported, if any'),
  reason: z.string(),
  created_at: z.string().describe('ISO 8601'),
})
export type ReportDto = z.infer<typeof reportSchema>

export const adminPageSchema = z.object({ limit: pageLimit, after: cursor.optional().describe('Only those with a larger id') })
export type AdminPage = z.infer<typeof adminPageSchema>

export const deadLetterSchema = z.object({
  id: z.number().int().describe('The outbox row (give it to re-queue)'),
  event_id: z.string().describe('The id receivers saw'),
  type: z.string(),
  room_key: z.string(),
  attempts: z.number().int(),
  last_error: z.string().nullable(),
  created_at: z.string(),
  dead_at: z.string().nullable(),
  data: z.record(z.string(), z.unknown()),
})
export type DeadLetterDto = z.infer<typeof deadLetterSchema>
