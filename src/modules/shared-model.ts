import { z } from 'zod'
import { badRequest, notFound } from '../errors.ts'
import { characterCount, textProblem } from '../text.ts'

/**
 * An integer that also accepts its decimal string, as the original server's serializers did
 * (`"post_id": "7"` is taken as 7). Either way at most `Number.MAX_SAFE_INTEGER` (zod's `int()`),
 * which both stores' id and post_id columns hold.
 */
export const integerLike = () => z.preprocess((value) => (typeof value === 'string' && /^\d{1,16}$/.test(value) ? Number(value) : value), z.number().int().positive())

/** `limit`, `after`, `before` query values. */
export const pageLimit = z.coerce.number().int().min(1).max(200).default(50).describe('How many to return (1–200)')
export const cursor = z.coerce.number().int().min(0)

/** A page of what a service call lists (reports, dead letters): oldest first, after an id. */
export const adminPageSchema = z.object({ limit: pageLimit, after: cursor.optional().describe('Only those with a larger id') })
export type AdminPage = z.infer<typeof adminPageSchema>

/** `before` and `after` together would be ambiguous; refuse rather than guess. */
export function oneCursor<Query extends { before?: number; after?: number }>(query: Query): Query {
  if (query.before !== undefined && query.after !== undefined) {
    throw badRequest('invalid_query', 'Give at most one of "before" and "after".', [{ path: 'before', message: 'cannot be combined with after' }])
  }
  return query
}

/**
 * A `Link` header value naming the next page as a query-only reference (`<?limit=50&before=120>`):
 * resolved against the URL the client asked, it keeps whatever host and path prefix a gateway adds.
 */
export function nextLink(query: Record<string, number | undefined>): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(query)) if (value !== undefined) search.set(key, String(value))
  return `<?${search}>; rel="next"`
}

/** Route params with a room id; a value that is not a positive integer is an unknown room, as in the seed. */
export const roomParamsSchema = z.object({ room_id: z.string().describe('Room id') })

/**
 * Parses the id of a `thing` (a room, a message, a post) from a path segment: 1 to
 * `Number.MAX_SAFE_INTEGER`; 404 `<thing>_not_found` when it cannot name one.
 */
export function parsePathId(raw: string, thing: 'room' | 'message' | 'post' | 'report'): number {
  const id = /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(id) || id < 1) throw notFound(`${thing}_not_found`, `There is no ${thing} ${JSON.stringify(raw)}.`)
  return id
}

/** Parses a room id from a path segment; 404 `room_not_found` when it cannot name a room. */
export const parseRoomId = (raw: string): number => parsePathId(raw, 'room')

/**
 * Text people read (a message, a room name): something visible, no control characters but tab and
 * newline. An empty value is left to the schema's own length rule.
 */
export const readableText = (schema: z.ZodString) =>
  schema.superRefine((text, ctx) => {
    const problem = text.length > 0 ? textProblem(text) : null
    if (problem) ctx.addIssue({ code: 'custom', message: problem.message })
  })

/** Message text: readable, 1 to `maxLength` characters (code points, so an emoji is one). */
export const messageText = (maxLength: number) =>
  readableText(z.string().min(1, 'must not be empty'))
    .refine((text) => text.length <= maxLength || characterCount(text) <= maxLength, { message: `must be at most ${maxLength} characters` })
    .describe(`Message text, 1–${maxLength} characters, something visible, no control characters but tab and newline`)

/**
 * What the app's backend keeps on a room or a system message: a JSON object of at most `maxBytes`
 * (ROOM_DATA_BYTES) as JSON. Its keys and values are the app's own; the server only carries them.
 */
export const appDataSchema = (maxBytes: number) => z.record(z.string(), z.unknown()).refine((data) => Buffer.byteLength(JSON.stringify(data)) <= maxBytes, { message: `must be at most ${maxBytes} bytes as JSON` })
