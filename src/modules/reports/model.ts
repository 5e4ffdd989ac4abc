import { z } from 'zod'
import { userIdSchema } from '../../identity.ts'
import { messageText } from '../shared-model.ts'

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
  status: z.enum(['open', 'resolved', 'dismissed']).describe('`open` until someone resolves or dismisses it (PATCH /chat/v1/admin/reports/{id}/)'),
  closed_at: z.string().nullable().describe('When it was resolved or dismissed (ISO 8601)'),
  closed_by: z.string().nullable().describe("Who resolved or dismissed it (null: the app's backend, or still open)"),
})
export type ReportDto = z.infer<typeof reportSchema>
