import { z } from 'zod'

/** A message id or 0 (nothing read); its decimal string is taken too, as everywhere in the API. */
const markerId = z.preprocess((value) => (typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER))

export const markReadBodySchema = z.object({
  last_read_id: markerId.describe('The newest message id read; a larger one than the newest in the room is clamped, a smaller one than the marker changes nothing'),
})

export const readMarkerSchema = z.object({
  room: z.number().int(),
  last_read_id: z.number().int().describe('Where the marker is now'),
  unread_count: z.number().int().describe("The room's messages after the marker (never the user's own)"),
})
export type ReadMarkerDto = z.infer<typeof readMarkerSchema>

export const unreadSchema = z.object({
  total: z.number().int().describe("Unread messages across the user's rooms"),
  rooms: z.number().int().describe('Rooms with any unread message'),
})
export type UnreadDto = z.infer<typeof unreadSchema>
