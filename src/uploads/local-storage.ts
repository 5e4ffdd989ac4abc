import { randomUUID } from 'node:crypto'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import type { BunFile } from 'bun'
import { contentDisposition } from './content-disposition.ts'
import { assertStorageKey, type FileStorage, isStorageKey, type SignedUrlOptions } from './storage.ts'
import { checkFileQuery, type FileUrlCheck, type FileUrlQuery, loadUrlSecret, signFileQuery, signedResponseHeaders } from './url-signature.ts'

/** Where this server serves stored files from; a key follows. */
export const LOCAL_FILES_PATH = '/chat/v1/files/'

/** How `LocalFileStorage` is set up. */
export interface LocalStorageOptions {
  /** The folder that holds the files (e.g. `./data/uploads`, beside the database); made if missing. */
  folder: string
  /** FILE_URL_SECRET, shared by every instance; without it a key kept in the folder is used. */
  secret?: string
}

/**
 * Files in a folder of this machine, served by this server at `LOCAL_FILES_PATH<key>` to whoever
 * holds a URL it signed (`verify`, then `read`).
 *
 * An object lives at `<folder>/<key>.bin`: the suffix keeps `<uuid>` and `<uuid>/thumb` from
 * needing the same name as a file and as a folder. Writes go to a hidden temporary file that is
 * renamed into place, so a reader sees the whole file or none; keys cannot name hidden files.
 */
export class LocalFileStorage implements FileStorage {
  readonly kind = 'local'
  readonly folder: string
  private readonly secret: Uint8Array

  constructor(options: LocalStorageOptions) {
    this.folder = options.folder
    this.secret = loadUrlSecret(options.folder, options.secret)
  }

  async put(key: string, bytes: Uint8Array, _contentType: string): Promise<void> {
    const path = this.pathOf(key)
    const temp = join(dirname(path), `.tmp-${randomUUID()}`)
    await mkdir(dirname(path), { recursive: true })
    try {
      await writeFile(temp, bytes)
      await rename(temp, path)
    } catch (error) {
      await rm(temp, { force: true })
      throw error
    }
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true })
  }

  signedUrl(key: string, options: SignedUrlOptions): string {
    assertStorageKey(key)
    const query = signFileQuery(this.secret, {
      key,
      expiresAt: Math.floor(options.expiresAt),
      contentType: options.contentType,
      contentDisposition: contentDisposition(options.disposition, options.name),
    })
    return `${LOCAL_FILES_PATH}${key}?${query}`
  }

  /**
   * Whether a request for `key` with this query may be served at `now` (unix seconds). A key that
   * is not a storage key is never signed, so it is a bad signature.
   */
  verify(key: string, query: FileUrlQuery, now: number): FileUrlCheck {
    if (!isStorageKey(key)) return 'bad_signature'
    return checkFileQuery(this.secret, key, query, now)
  }

  /** The headers to serve a verified request with: what its URL asked for, and no sniffing. */
  responseHeaders(query: FileUrlQuery, now: number): Record<string, string> {
    return signedResponseHeaders(query, now)
  }

  /** The stored file, or null if there is none (or `key` is no storage key). */
  async read(key: string): Promise<BunFile | null> {
    if (!isStorageKey(key)) return null
    const file = Bun.file(this.pathOf(key))
    return (await file.exists()) ? file : null
  }

  private pathOf(key: string): string {
    assertStorageKey(key)
    return join(this.folder, `${key}.bin`)
  }
}
