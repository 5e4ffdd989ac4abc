import { z } from 'zod'
import { messageSchema } from '../../realtime/codec.ts'
import { reportSchema } from '../reports/model.ts'
import { cursor, pageLimit } from '../shared-model.ts'

const roomIds = z.array(z.number().int().positive().max(Number.MAX_SAFE_INTEGER)).max(1000)

/** `PUT /chat/v1/admin/moderators/{user_id}/`. */
export const moderatorBodySchema = z
  .object({ rooms: roomIds.min(1).optional().describe('The rooms they moderate; absent: every room') })
  .optional()
  .describe('Absent or empty: a moderator of every room')

export const moderatorSchema = z.object({
  user_id: z.string(),
  rooms: z.array(z.number().int()).nullable().describe('The rooms they moderate; null: every room'),
})

/** The caller's own standing in a room (room detail's `moderation`). */
export const moderationStandingSchema = z
  .object({
    moderator: z.boolean().describe('The caller may mute, ban, unsend any message and set slow mode here'),
    muted: z.boolean().describe('The caller is muted here: they read, but sends, edits and reactions answer 403 `muted`'),
    muted_until: z.string().nullable().describe('When the mute ends (ISO 8601), or null: until unmuted (or not muted)'),
  })
  .describe("The caller's own standing in the room")
export type ModerationStanding = z.infer<typeof moderationStandingSchema>

/** `PUT /chat/v1/room/{id}/mutes/{user_id}/`. */
export const muteBodySchema = z.object({ until: z.iso.datetime({ offset: true }).optional().describe('When the mute ends (ISO 8601, in the future); absent: until unmuted') }).optional()

export const sanctionSchema = z.object({
  user_id: z.string(),
  until: z.string().nullable().describe('When it ends (ISO 8601), or null: until lifted'),
  by: z.string().nullable().describe("Who imposed it (null: the app's backend)"),
  created_at: z.string().describe('ISO 8601'),
})
export type SanctionDto = z.infer<typeof sanctionSchema>

const filterActionSchema = z.enum(['refuse', 'mask', 'flag'])

export const filterBodySchema = z
  .array(
    z.object({
      pattern: z.string().min(1).max(200).describe('A word (matched anywhere, ignoring case) or, with `regex`, a regular expression (JavaScript syntax, flags `giu`)'),
      regex: z.boolean().optional().describe('True: `pattern` is a regular expression'),
      action: filterActionSchema.describe('`refuse`: 422 `filtered` (socket `chat.error` `filtered`); `mask`: each character of the match becomes •; `flag`: stored as is, with a `message.flagged` webhook'),
      rooms: roomIds.min(1).optional().describe('Only in these rooms; absent: every room'),
    }),
  )
  .max(1000)
  .describe('The whole list: it replaces the filters there were')
export type FilterBody = z.infer<typeof filterBodySchema>

export const filterSchema = z.object({
  id: z.number().int(),
  pattern: z.string(),
  regex: z.boolean(),
  action: filterActionSchema,
  rooms: z.array(z.number().int()).nullable(),
  created_at: z.string(),
})

export const auditQuerySchema = z.object({
  room: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional().describe('Only actions in this room'),
  user: z.string().min(1).max(255).optional().describe('Only actions about this user'),
  limit: pageLimit,
  after: cursor.optional().describe('Only those with a larger id'),
})
export type AuditQuery = z.infer<typeof auditQuerySchema>

export const auditEntrySchema = z.object({
  id: z.number().int(),
  at: z.string().describe('ISO 8601'),
  actor: z.string().nullable().describe("Who acted (null: the app's backend)"),
  action: z
    .string()
    .describe('`mute`, `unmute`, `ban`, `unban`, `message.unsent` / `message.edited` (by someone other than its author), `filters.replaced`, `moderator.set`, `moderator.removed`, `report.resolved`, `report.dismissed`'),
  room: z.number().int().nullable(),
  user_id: z.string().nullable().describe('Who it was about'),
  message_id: z.number().int().nullable(),
  data: z.record(z.string(), z.unknown()).nullable(),
})

export const reportQuerySchema = z.object({
  status: z.enum(['open', 'resolved', 'dismissed']).optional().describe('Only reports of this status'),
  limit: pageLimit,
  after: cursor.optional().describe('Only those with a larger id'),
})
export type ReportQuery = z.infer<typeof reportQuerySchema>

export const reportPatchSchema = z.object({ status: z.enum(['resolved', 'dismissed']) })

export const queuedReportSchema = reportSchema.extend({
  message: messageSchema.nullable().describe('The message reported, as stored now (null: a report about a user)'),
  context: z
    .object({ before: z.array(messageSchema), after: z.array(messageSchema) })
    .nullable()
    .describe('The 10 messages before and the 10 after it in its room, ascending'),
})
