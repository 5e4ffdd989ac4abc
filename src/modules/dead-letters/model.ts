import { z } from 'zod'

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
