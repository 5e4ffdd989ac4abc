import { S3Client } from 'bun'
import { contentDisposition } from './content-disposition.ts'
import { assertStorageKey, type FileStorage, type SignedUrlOptions } from './storage.ts'

/** How `S3FileStorage` reaches its bucket (S3_ENDPOINT, S3_BUCKET, S3_REGION and the key pair). */
export interface S3StorageOptions {
  /** Unset: AWS S3 in `region`. */
  endpoint?: string
  bucket: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  /** Unix seconds now, for how long a URL lives; the real time unless a test says otherwise. */
  now?: () => number
}

/** SigV4 presigned URLs live at most a week. */
const MAX_EXPIRES_IN = 604_800

/**
 * Files in an S3-compatible bucket, served by the store itself: a signed URL is its presigned GET,
 * whose `response-content-type` and `response-content-disposition` (which Bun's `presign` adds
 * for the `type` and `contentDisposition` options, inside the signature) make the store answer
 * with the file's type and name.
 */
export class S3FileStorage implements FileStorage {
  readonly kind = 's3'
  private readonly client: S3Client
  private readonly now: () => number

  constructor(options: S3StorageOptions) {
    // Path-style addressing (`<endpoint>/<bucket>/<key>`): it needs no DNS name per bucket, which
    // MinIO, test servers and most self-hosted stores want.
    this.client = new S3Client({
      endpoint: options.endpoint,
      bucket: options.bucket,
      region: options.region,
      accessKeyId: options.accessKeyId,
      secretAccessKey: options.secretAccessKey,
      virtualHostedStyle: false,
    })
    this.now = options.now ?? (() => Date.now() / 1000)
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<void> {
    assertStorageKey(key)
    await this.client.write(key, bytes, { type: contentType })
  }

  async delete(key: string): Promise<void> {
    assertStorageKey(key)
    // S3 answers 204 for a key that is not there.
    await this.client.delete(key)
  }

  signedUrl(key: string, options: SignedUrlOptions): string {
    assertStorageKey(key)
    // The store counts from the moment of signing; a URL always lives at least a second.
    const expiresIn = Math.max(1, Math.ceil(options.expiresAt - this.now()))
    if (expiresIn > MAX_EXPIRES_IN) throw new RangeError(`S3 presigned URLs live at most ${MAX_EXPIRES_IN} s, not ${expiresIn}`)
    return this.client.presign(key, {
      method: 'GET',
      expiresIn,
      type: options.contentType,
      contentDisposition: contentDisposition(options.disposition, options.name),
    })
  }
}
