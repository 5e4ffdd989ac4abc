import { z } from 'zod'
import { badRequest, fieldErrors, unauthorized } from './errors.ts'
import { hasControl, labelProblem } from './text.ts'

/**
 * True for an avatar URL a page may load: an absolute http(s) URL, or a relative one on the same
 * host (`/media/p.jpg`, `media/p.jpg`), but never one a browser reads as another host (`//host`,
 * anything with a backslash) or another scheme (`javascript:`, `data:`).
 */
function isSafeProfileUrl(value: string): boolean {
  if (hasControl(value) || /[\s\\]/.test(value)) return false
  // A scheme is letters, digits, +, - and . before the first colon, ahead of any / ? or #.
  if (!/^[a-z][a-z0-9+.-]*:/i.test(value)) return !value.startsWith('//')
  if (!/^https?:\/\//i.test(value)) return false
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== ''
  } catch {
    return false
  }
}

/**
 * What gateways send for a user without a picture: empty (the seed's nginx), or a missing value
 * formatted into the URL (`null` from Java's String.format, as in the seed's Spring filter; `None`,
 * `undefined`). All mean no picture.
 */
const NO_PICTURE = new Set(['', 'null', 'none', 'undefined'])

/** `profile_url`: no picture (see NO_PICTURE), a relative path on the same host, or an absolute http(s) URL. */
const profileUrl = z
  .string()
  .max(2048)
  .transform((value) => (NO_PICTURE.has(value.trim().toLowerCase()) ? '' : value))
  .refine((value) => value === '' || isSafeProfileUrl(value), {
    message: 'must be empty, a relative path (not starting with "//", no backslash), or an absolute http(s) URL',
  })

/** A one-line label people see or logs record: no control or bidi characters, something visible. */
const label = (schema: z.ZodString) =>
  schema.superRefine((value, ctx) => {
    const problem = value.length > 0 ? labelProblem(value) : null
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  })

/** A user id as the gateway forwards it (and as clients name other users). */
export const userIdSchema = label(z.string().min(1).max(64))

/** The user the gateway vouches for, as it arrives (query parameters or decoded headers). */
export const identityInputSchema = z.object({
  user_id: userIdSchema.describe('Stable user id from the verified token (its `sub`); no control characters'),
  nickname: label(z.string().trim().min(1).max(50)).describe('Display name; percent-encoded UTF-8 in headers; something visible, no control or bidi characters'),
  email: label(z.string().max(254))
    .refine((value) => /^[^\s@]+@[^\s@]+$/.test(value), { message: 'must be local@domain' })
    .describe("E-mail address as the gateway's user record holds it (any local@domain: `admin@localhost` too); sent to clients as `sender`"),
  profile_url: profileUrl.optional().describe('Avatar URL: a relative path or an http(s) URL; empty, `null`, `None` or `undefined` for no picture'),
})

/** A validated identity, as the rest of the server uses it. */
export interface Identity {
  userId: string
  nickname: string
  email: string
  profileUrl: string | null
}

/** The identity headers a gateway forwards, in documentation order. */
export const identityHeaders = {
  userId: 'x-user-id',
  nickname: 'x-nickname',
  email: 'x-email',
  profileUrl: 'x-profile-url',
} as const

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Decodes a header value: percent-encoded UTF-8 (what browsers and the reference gateway send), or
 * raw UTF-8 bytes, which the runtime hands over one character per byte (what the seed's nginx Lua
 * step sends: `ngx.req.set_header` does not encode). Bytes that are not valid UTF-8 stay the
 * Latin-1 characters they are, and a value that is not valid percent-encoding is taken literally.
 */
export function decodeHeaderValue(value: string): string {
  // Only bytes above 0x7F can be raw UTF-8; any character above 0xFF means the value is text already.
  if (/[\x80-\xff]/.test(value) && !/[^\x00-\xff]/.test(value)) {
    try {
      return utf8.decode(Buffer.from(value, 'latin1'))
    } catch {
      return value
    }
  }
  if (!value.includes('%')) return value
  try {
    return decodeURIComponent(value)
  } catch {
    return value
  }
}

function validate(input: Record<string, string | undefined>): Identity {
  const result = identityInputSchema.safeParse(input)
  if (!result.success) {
    throw badRequest('invalid_identity', 'The identity forwarded by the gateway is missing or invalid.', fieldErrors(result.error.issues))
  }
  const { user_id, nickname, email, profile_url } = result.data
  return { userId: user_id, nickname, email, profileUrl: profile_url ? profile_url : null }
}

function fromHeaders(headers: Headers): Identity {
  const read = (name: string) => {
    const value = headers.get(name)
    return value === null ? undefined : decodeHeaderValue(value)
  }
  return validate({
    user_id: read(identityHeaders.userId),
    nickname: read(identityHeaders.nickname),
    email: read(identityHeaders.email),
    profile_url: read(identityHeaders.profileUrl),
  })
}

/** Identity for a REST call: from the headers alone; 401 when `X-User-Id` is absent, 400 when invalid. */
export function identityFromHeaders(headers: Headers): Identity {
  if (!headers.has(identityHeaders.userId)) {
    throw unauthorized('identity_required', 'X-User-Id and the other identity headers are required; send the request through the gateway.')
  }
  return fromHeaders(headers)
}

/**
 * Identity for a WebSocket handshake: headers when `X-User-Id` is present, else the seed's query
 * parameters, when `sources` allows them (IDENTITY_SOURCES); with headers alone, 401 without them.
 */
export function identityFromHandshake(headers: Headers, query: URLSearchParams, sources: readonly ('headers' | 'query')[] = ['headers', 'query']): Identity {
  if (headers.has(identityHeaders.userId) || !sources.includes('query')) return identityFromHeaders(headers)
  const read = (name: string) => query.get(name) ?? undefined
  return validate({
    user_id: read('user_id'),
    nickname: read('nickname'),
    email: read('email'),
    profile_url: read('profile_url'),
  })
}
