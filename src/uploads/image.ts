/**
 * Uploaded images made safe to store and show: metadata stripped without decoding a pixel, the
 * size read from the headers and bounded before any decoding, and a thumbnail made on a worker
 * thread (see thumbnail-codecs.ts for the codecs and their measured cost).
 */
import { checkPixels, malformed, type Stripped } from './image-bytes.ts'
import { stripGif } from './image-gif.ts'
import { stripJpeg } from './image-jpeg.ts'
import { stripPng } from './image-png.ts'
import { stripWebp } from './image-webp.ts'
import { Thumbnailer } from './thumbnail.ts'
import { THUMBNAIL_MAX_PIXELS, THUMBNAIL_SIDE, type Thumbnail } from './thumbnail-job.ts'

export { ImageRefused } from './image-bytes.ts'
export { sniff } from './image-sniff.ts'
export { Thumbnailer } from './thumbnail.ts'

/** An image made safe to store: metadata stripped, measured, with a thumbnail. */
export type PreparedImage = {
  bytes: Uint8Array
  /** As the image shows: a JPEG's EXIF orientation 5–8 (a quarter turn) swaps its stored width and height. */
  width: number
  height: number
  thumbnail: Thumbnail | null
}

let shared: Thumbnailer | undefined

/**
 * Strips `bytes` (of the sniffed `contentType`) of metadata, measures it and makes its thumbnail.
 * Throws ImageRefused: 'image_too_large' past `limits.maxPixels` (checked before any decoding),
 * 'malformed_image' when the bytes break their format. A thumbnail that cannot be made (a codec
 * error on a well-formed file, an animated WebP, a photo over THUMBNAIL_MAX_PIXELS) leaves
 * `thumbnail` null.
 */
export async function prepareImage(bytes: Uint8Array, contentType: string, limits: { maxPixels: number }, thumbnailer?: Pick<Thumbnailer, 'make'>): Promise<PreparedImage> {
  const stripped = strip(bytes, contentType, limits.maxPixels)
  const { width, height } = stripped
  checkPixels(width, height, limits.maxPixels)
  let thumbnail: Thumbnail | null
  if (stripped.reusable && Math.max(width, height) <= THUMBNAIL_SIDE) {
    // Already thumbnail-sized, in a format every client shows: the image is its own thumbnail.
    thumbnail = { bytes: stripped.bytes, contentType, width, height }
  } else if (stripped.undecodable || width * height > THUMBNAIL_MAX_PIXELS) {
    thumbnail = null
  } else {
    thumbnail = await (thumbnailer ?? (shared ??= new Thumbnailer())).make({ bytes: stripped.bytes, contentType, maxPixels: limits.maxPixels })
  }
  return { bytes: stripped.bytes, width, height, thumbnail }
}

/** The format's parser, and whether its output can stand as its own thumbnail or cannot be decoded here. */
function strip(bytes: Uint8Array, contentType: string, maxPixels: number): Stripped & { reusable: boolean; undecodable: boolean } {
  switch (contentType) {
    case 'image/jpeg':
      return { ...stripJpeg(bytes, maxPixels), reusable: true, undecodable: false }
    case 'image/png':
      return { ...stripPng(bytes, maxPixels), reusable: true, undecodable: false }
    case 'image/webp': {
      // libwebp's still-image decoder refuses animations: those are stored without a thumbnail.
      const webp = stripWebp(bytes, maxPixels)
      return { ...webp, reusable: false, undecodable: webp.animated }
    }
    case 'image/gif':
      return { ...stripGif(bytes, maxPixels), reusable: false, undecodable: false }
    default:
      throw malformed(`${contentType} is not an image this server prepares`)
  }
}
