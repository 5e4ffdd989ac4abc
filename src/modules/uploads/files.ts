import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import type { Config } from '../../config.ts'
import { realClock, type Clock } from '../../clock.ts'
import type { AttachmentDto, AttachmentLinks } from '../../realtime/codec.ts'
import { fileKeys, type StoredAttachment } from '../../store/uploads.ts'
import { openFileStorage } from '../../uploads/open-storage.ts'
import type { LocalFileStorage } from '../../uploads/local-storage.ts'
import type { S3FileStorage } from '../../uploads/s3-storage.ts'

/** The longest a URL's expiry is moved on so that URLs signed close together are the same (caches keep one copy). */
const MAX_EXPIRY_STEP_SECONDS = 300
/** The longest a URL may live: S3's presigned URLs (SigV4) live at most a week. */
const MAX_URL_SECONDS = 7 * 86_400

/**
 * The uploaded files of one instance: where their bytes live (UPLOADS) and the signed, expiring URLs
 * every message read or frame carries (`links`). URLs are made when a message is read or sent out,
 * never stored: reading a message again gives fresh ones.
 */
export class Files {
  /** Signs an attachment's URLs, for `toMessageDto` and the frames. */
  readonly links: AttachmentLinks
  private readonly step: number

  constructor(
    readonly storage: LocalFileStorage | S3FileStorage,
    private readonly ttlSeconds: number,
    /** Made absolute with (PUBLIC_URL's base) when the storage gives paths (local); '' leaves them relative to this server. */
    private readonly base: string,
    readonly clock: Clock = realClock,
  ) {
    this.step = Math.max(1, Math.min(MAX_EXPIRY_STEP_SECONDS, Math.floor(ttlSeconds / 12)))
    this.links = (a) => this.attachmentDto(a)
  }

  /** The storage and links the settings ask for. */
  static open(config: Config, clock: Clock = realClock): Files {
    const storage =
      config.UPLOADS === 's3'
        ? openFileStorage({
            kind: 's3',
            endpoint: config.S3_ENDPOINT,
            bucket: config.S3_BUCKET ?? '',
            region: config.S3_REGION,
            accessKeyId: config.S3_ACCESS_KEY_ID ?? '',
            secretAccessKey: config.S3_SECRET_ACCESS_KEY ?? '',
            now: () => clock.wallNow() / 1000,
          })
        : openFileStorage({ kind: 'local', folder: uploadsFolder(config), secret: config.FILE_URL_SECRET })
    return new Files(storage, config.FILE_URL_TTL_SECONDS, config.PUBLIC_URL?.base ?? '', clock)
  }

  /** The attachment as messages carry it, with URLs that work until a little after FILE_URL_TTL_SECONDS from now. */
  attachmentDto(a: StoredAttachment): AttachmentDto {
    const keys = fileKeys(a.id)
    // Rounded up to a step, so that the URLs of one attachment signed within a step are the same
    // (local ones: S3's carry the second they were signed), never past a week.
    const now = this.clock.wallNow() / 1000
    const expiresAt = Math.min(Math.ceil((now + this.ttlSeconds) / this.step) * this.step, Math.floor(now) + MAX_URL_SECONDS)
    const url = this.url(keys.file, { expiresAt, contentType: a.contentType, name: a.name, disposition: a.kind === 'image' ? 'inline' : 'attachment' })
    const thumbnailUrl = a.thumbnailType === null ? null : this.url(keys.thumbnail, { expiresAt, contentType: a.thumbnailType, name: a.name, disposition: 'inline' })
    return { id: a.id, kind: a.kind, content_type: a.contentType, size: a.size, name: a.name, width: a.width, height: a.height, url, thumbnail_url: thumbnailUrl }
  }

  private url(key: string, options: Parameters<LocalFileStorage['signedUrl']>[1]): string {
    const url = this.storage.signedUrl(key, options)
    return url.startsWith('/') ? `${this.base}${url}` : url
  }
}

/** UPLOADS_PATH, or `uploads` beside the SQLite file. */
const uploadsFolder = (config: Pick<Config, 'UPLOADS_PATH' | 'DATABASE_PATH'>) =>
  // A database in memory keeps nothing past the process: its files go to the temporary folder.
  config.UPLOADS_PATH ?? (config.DATABASE_PATH === ':memory:' ? join(tmpdir(), 'chat-uploads-in-memory') : join(dirname(config.DATABASE_PATH), 'uploads'))
