import { z } from 'zod'
import { userIdSchema } from '../../identity.ts'

export const addMemberBodySchema = z.object({ user_id: userIdSchema.describe('The user to add') })

/** Route params naming a room and a user (`DELETE /room/{room_id}/members/{user_id}/`). */
export const memberParamsSchema = z.object({ room_id: z.string().describe('Room id'), user_id: z.string().describe('User id') })

/** Route params naming a user (`/blocks/{user_id}/`). */
export const userParamsSchema = z.object({ user_id: z.string().describe('User id') })

export const blockSchema = z.object({
  user_id: z.string().describe('The blocked user'),
  created_at: z.string().describe('ISO 8601, UTC'),
})
export type BlockDto = z.infer<typeof blockSchema>
