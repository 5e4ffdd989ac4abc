/**
 * Where uploaded files' bytes live: a folder beside the database, served by this server
 * (`UPLOADS=local`), or an S3-compatible bucket whose own presigned GETs serve them (`UPLOADS=s3`).
 * Either way a file is fetched through a URL that carries its signature and expiry in the query.
 */

/** What a signed URL serves the object as. */
export interface SignedUrlOptions {
  /** Unix seconds; the URL is refused after this. */
  expiresAt: number
  /** The stored content type, sent back as `Content-Type`. */
  contentType: string
  /** The original file name, for `Content-Disposition`. */
  name: string
  /** `inline` for images shown in the chat, `attachment` for files to download. */
  disposition: 'inline' | 'attachment'
}

/** One place to keep uploaded files: `LocalFileStorage` or `S3FileStorage`. */
export interface FileStorage {
  readonly kind: 'local' | 's3'
  /** Stores bytes under key (see `isStorageKey`), replacing what was there. */
  put(key: string, bytes: Uint8Array, contentType: string): Promise<void>
  /** Removes the object; a missing one is fine (idempotent). */
  delete(key: string): Promise<void>
  /**
   * A URL that lets whoever holds it GET the object until `expiresAt`, with the given
   * `Content-Type` and `Content-Disposition`. Local storage gives a path and query served by this
   * server (`/chat/v1/files/<key>?…`, to be made absolute with the public URL); S3 gives the
   * store's own presigned GET, absolute.
   */
  signedUrl(key: string, options: SignedUrlOptions): string
}

/** Longest key accepted. */
const MAX_KEY_LENGTH = 300

/**
 * Keys are made by the server, never from user input: segments of letters, digits, `_` and `-`
 * joined by `/` (`ab/cd/<uuid>`, `<uuid>/thumb`). No dots at all, so no `..`, no hidden files
 * and no room for a name to reach outside the storage folder.
 */
export function isStorageKey(key: string): boolean {
  return key.length <= MAX_KEY_LENGTH && /^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/.test(key)
}

/** Throws unless `key` is a storage key (see `isStorageKey`). */
export function assertStorageKey(key: string): void {
  if (!isStorageKey(key)) throw new RangeError(`not a storage key: ${JSON.stringify(key.slice(0, MAX_KEY_LENGTH))}`)
}
