import { randomUUID } from 'node:crypto'
import { requireIdentity, type Caller } from '../../caller.ts'
import type { Config } from '../../config.ts'
import { AppError, tooMany, unavailable, unprocessable } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import type { AttachmentDto } from '../../realtime/codec.ts'
import type { Store } from '../../store/store.ts'
import { fileKeys, QUOTA_WINDOW_MS, type NewUpload } from '../../store/uploads.ts'
import { prepareImage, sniff, type Thumbnailer } from '../../uploads/image.ts'
import type { Files } from './files.ts'

/** The photo types every server takes (their metadata stripped, measured, with a thumbnail). */
const IMAGE_TYPES: ReadonlySet<string> = new Set(['image/jpeg', 'image/png', 'image/webp', 'image/gif'])

/** Longest file name kept, in code points (longer ones keep their start and extension). */
const MAX_NAME_LENGTH = 200

/** An upload as it arrived: its bytes and the name its sender gave (a form field's file name, or `?name=`). */
export interface ReceivedFile {
  bytes: Uint8Array
  name: string
}

/** 415 `unsupported_type`: what the bytes are is not allowed (whatever the request said they were). */
const unsupported = (what: string) => new AppError(415, 'unsupported_type', 'Unsupported Media Type', `${what} cannot be uploaded here.`)

/**
 * Uploads: judged from their bytes, photos made safe (metadata stripped, measured, thumbnail), kept
 * within each user's daily allowance, stored, and answered with signed URLs. An upload waits
 * UPLOAD_TTL_SECONDS to be sent with a message (store/uploads.ts claims it then).
 */
export class UploadService {
  private readonly allowed: ReadonlySet<string>

  constructor(
    private readonly store: Pick<Store, 'uploads'>,
    private readonly files: Files,
    private readonly config: Pick<Config, 'UPLOAD_TYPES' | 'UPLOAD_BYTES_PER_DAY' | 'UPLOAD_TTL_SECONDS' | 'MAX_IMAGE_PIXELS'>,
    private readonly logger: Logger,
    private readonly thumbnailer?: Thumbnailer,
  ) {
    this.allowed = new Set([...IMAGE_TYPES, ...config.UPLOAD_TYPES])
  }

  /**
   * Refuses before the body is read: no identity (401), or an allowance with no room for
   * `declaredBytes` (429; a form's framing may count a little against the caller here).
   */
  async admit(caller: Caller, declaredBytes: number): Promise<void> {
    const { identity } = requireIdentity(caller)
    const now = this.files.clock.wallNow()
    if (declaredBytes > 0 && !(await this.store.uploads.hasRoom(identity.userId, declaredBytes, this.config.UPLOAD_BYTES_PER_DAY, now - QUOTA_WINDOW_MS))) throw this.overQuota()
  }

  private overQuota() {
    return tooMany('upload_quota_exceeded', `This user has uploaded as much as one may in a day (${this.config.UPLOAD_BYTES_PER_DAY} bytes); try again later.`, 3600)
  }

  /** Stores one upload from the caller: 415 for a type not allowed, 413/422 for photos too large or broken, 429 past the daily allowance. */
  async upload(caller: Caller, file: ReceivedFile): Promise<AttachmentDto> {
    const { identity } = requireIdentity(caller)
    if (file.bytes.length === 0) throw unprocessable('The upload is empty.', [{ path: 'file', message: 'must not be empty' }])
    const sniffed = sniff(file.bytes)
    if (sniffed?.executable) throw unsupported('A program')
    // Allowed by its type without parameters (`text/plain; charset=utf-8` is text/plain).
    if (!sniffed || !this.allowed.has(sniffed.contentType.split(';')[0]!)) throw unsupported(sniffed ? `A file of type ${sniffed.contentType}` : 'A file of unknown type')
    const image = IMAGE_TYPES.has(sniffed.contentType) ? await prepareImage(file.bytes, sniffed.contentType, { maxPixels: this.config.MAX_IMAGE_PIXELS }, this.thumbnailer) : null
    const bytes = image?.bytes ?? file.bytes
    const now = this.files.clock.wallNow()
    const upload: NewUpload = {
      id: randomUUID().replaceAll('-', ''),
      userId: identity.userId,
      kind: image ? 'image' : 'file',
      contentType: sniffed.contentType,
      size: bytes.length,
      name: fileName(file.name, sniffed.contentType),
      width: image?.width ?? null,
      height: image?.height ?? null,
      thumbnailType: image?.thumbnail?.contentType ?? null,
      createdAt: now,
      expiresAt: now + this.config.UPLOAD_TTL_SECONDS * 1000,
    }
    // The row first: it takes the allowance (two uploads at once cannot both pass it on SQLite), and
    // files stored under it are deleted at its expiry if anything below fails.
    if (!(await this.store.uploads.record(upload, this.config.UPLOAD_BYTES_PER_DAY, now - QUOTA_WINDOW_MS))) {
      throw this.overQuota()
    }
    const keys = fileKeys(upload.id)
    try {
      await this.files.storage.put(keys.file, bytes, upload.contentType)
      if (image?.thumbnail) await this.files.storage.put(keys.thumbnail, image.thumbnail.bytes, image.thumbnail.contentType)
    } catch (err) {
      this.logger.warn('storing an upload failed', { upload: upload.id, storage: this.files.storage.kind, err })
      await this.store.uploads.forget(upload.id).catch(() => {})
      await Promise.allSettled([this.files.storage.delete(keys.file), this.files.storage.delete(keys.thumbnail)])
      throw unavailable('file_storage_unavailable', 'The file could not be stored right now; try again shortly.')
    }
    return this.files.attachmentDto(upload)
  }
}

/**
 * The name a file is kept and offered under: its last path segment, without control characters
 * or lone surrogates, at most MAX_NAME_LENGTH code points; `file` (with the type's extension)
 * when nothing is left.
 */
function fileName(given: string, contentType: string): string {
  const base = given.split(/[/\\]/).pop() ?? ''
  const clean = base
    .toWellFormed()
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g, '')
    .trim()
  const chars = Array.from(clean)
  if (chars.length === 0) return `file${EXTENSIONS[contentType] ?? ''}`
  if (chars.length <= MAX_NAME_LENGTH) return clean
  const dot = clean.lastIndexOf('.')
  const extension = dot > 0 && clean.length - dot <= 10 ? clean.slice(dot) : ''
  return Array.from(clean.slice(0, clean.length - extension.length))
    .slice(0, MAX_NAME_LENGTH - extension.length)
    .join('')
    .concat(extension)
}

const EXTENSIONS: Record<string, string> = {
  'image/jpeg': '.jpg',
  'image/png': '.png',
  'image/webp': '.webp',
  'image/gif': '.gif',
  'application/pdf': '.pdf',
  'application/zip': '.zip',
  'video/mp4': '.mp4',
  'audio/mpeg': '.mp3',
  'text/plain': '.txt',
}
