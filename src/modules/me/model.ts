import { z } from 'zod'
import type { Identity } from '../../identity.ts'

/** `GET /chat/v1/me/`: the identity the gateway forwarded with the request, as the server reads it. */
export const meSchema = z.object({
  user_id: z.string().describe("The caller's user id (the verified token's `sub`): what a client keys its per-user storage by"),
  nickname: z.string().describe('Display name, decoded'),
  email: z.string().describe("E-mail address; sent to clients as a message's `sender`"),
  profile_picture_url: z.string().nullable().describe('Avatar URL; null when the gateway sent none (or an empty one)'),
})
export type MeDto = z.infer<typeof meSchema>

/** The caller's identity in its wire shape, named as messages and members name the same fields. */
export function toMeDto(identity: Identity): MeDto {
  return { user_id: identity.userId, nickname: identity.nickname, email: identity.email, profile_picture_url: identity.profileUrl }
}
