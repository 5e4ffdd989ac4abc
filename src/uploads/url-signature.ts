import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto'
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Signed URLs for files that this server serves itself: what a URL promises (which object, until
 * when, with which type and disposition) rides in its query beside an HMAC-SHA256 of it, as S3's
 * presigned URLs carry theirs, so that an `<img src>` works without headers.
 */

/** What a signed URL lets its holder fetch. */
export interface SignedFile {
  key: string
  /** Unix seconds; the URL is refused after this. */
  expiresAt: number
  contentType: string
  contentDisposition: string
}

/** Query parameter names, S3's for the response overrides. */
const EXPIRES = 'expires'
const TYPE = 'response-content-type'
const DISPOSITION = 'response-content-disposition'
const SIGNATURE = 'signature'

/** The query of a file URL as the route has it: parsed, or as a `URLSearchParams`. */
export type FileUrlQuery = URLSearchParams | Record<string, string | undefined>

/** What checking a file URL found; both failures end in 403, told apart for the logs. */
export type FileUrlCheck = 'ok' | 'expired' | 'bad_signature'

const SECRET_FILE = '.url-secret'

/**
 * The key that signs file URLs: `configured` (FILE_URL_SECRET) when given, so that several
 * instances accept each other's URLs; else a random 32-byte key kept in `folder` (`.url-secret`,
 * mode 0600), made on first use, so that URLs outlive a restart.
 */
export function loadUrlSecret(folder: string, configured?: string): Uint8Array {
  if (configured !== undefined && configured !== '') return new TextEncoder().encode(configured)
  const path = join(folder, SECRET_FILE)
  const existing = readSecretFile(path)
  if (existing) return existing
  mkdirSync(folder, { recursive: true })
  // Written aside and linked into place, which fails if it exists: two processes starting at once
  // both end up with whichever came first, never with a half-written file.
  const temp = join(folder, `.url-secret-${randomUUID()}`)
  writeFileSync(temp, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 })
  try {
    linkSync(temp, path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  } finally {
    rmSync(temp, { force: true })
  }
  const secret = readSecretFile(path)
  if (!secret) throw new Error(`${path} is missing`)
  return secret
}

function readSecretFile(path: string): Uint8Array | null {
  let text: string
  try {
    text = readFileSync(path, 'utf8').trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  if (!/^[0-9a-f]{64}$/.test(text)) throw new Error(`${path} does not hold a URL secret (64 hex digits); remove it to have a new one made, which ends the URLs given so far`)
  return Buffer.from(text, 'hex')
}

/** The HMAC of a URL's promises; JSON keeps the fields apart whatever they hold. */
function mac(secret: Uint8Array, file: SignedFile): Buffer {
  return createHmac('sha256', secret)
    .update(JSON.stringify(['v1', file.key, file.expiresAt, file.contentType, file.contentDisposition]))
    .digest()
}

/** The query string (without `?`) that lets its holder fetch `file` until it expires. */
export function signFileQuery(secret: Uint8Array, file: SignedFile): string {
  const params: [string, string][] = [
    [EXPIRES, String(file.expiresAt)],
    [TYPE, file.contentType],
    [DISPOSITION, file.contentDisposition],
    [SIGNATURE, mac(secret, file).toString('base64url')],
  ]
  // Spaces as %20, not URLSearchParams' `+`, which not every query parser reads as a space; the
  // type's `/` as itself (a query may hold it), since gateways refuse an encoded slash anywhere in a URI.
  return params.map(([name, value]) => `${name}=${encodeURIComponent(value).replaceAll('%2F', '/')}`).join('&')
}

/** One value of the query, or '' when missing. */
function param(query: FileUrlQuery, name: string): string {
  return (query instanceof URLSearchParams ? query.get(name) : query[name]) ?? ''
}

/**
 * Checks a file URL's query for `key` at `now` (unix seconds). The signature is checked first, so
 * that 'expired' is only said of URLs this server gave.
 */
export function checkFileQuery(secret: Uint8Array, key: string, query: FileUrlQuery, now: number): FileUrlCheck {
  const expires = param(query, EXPIRES)
  if (!/^\d{1,12}$/.test(expires)) return 'bad_signature'
  // Compared as text: decoding base64 would let other spellings of the same bytes pass.
  const given = Buffer.from(param(query, SIGNATURE))
  const expected = Buffer.from(mac(secret, { key, expiresAt: Number(expires), contentType: param(query, TYPE), contentDisposition: param(query, DISPOSITION) }).toString('base64url'))
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad_signature'
  return now > Number(expires) ? 'expired' : 'ok'
}

/** The headers a verified file URL asks for: its type and disposition, and how long to cache. */
export function signedResponseHeaders(query: FileUrlQuery, now: number): Record<string, string> {
  const maxAge = Math.max(0, Number(param(query, EXPIRES)) - Math.floor(now))
  return {
    'content-type': param(query, TYPE),
    'content-disposition': param(query, DISPOSITION),
    'cache-control': `private, max-age=${maxAge}`,
    // Served from the chat's own origin: never sniffed into HTML, never run as a page.
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'none'; sandbox",
  }
}
