// What the main thread and the thumbnail worker share, kept apart from the codecs: the main thread
// imports this, never thumbnail-codecs.ts, so the WebAssembly codecs load only in the worker.

/** What the worker is asked for: the stripped image and the bound its decoded size must stay within. */
export interface ThumbnailJob {
  bytes: Uint8Array
  contentType: string
  maxPixels: number
}

export interface Thumbnail {
  bytes: Uint8Array
  contentType: string
  width: number
  height: number
}

/** The longer side of a thumbnail, in pixels. */
export const THUMBNAIL_SIDE = 320

/**
 * Photos larger than this are stored without a thumbnail (clients show them scaled): decoding one
 * holds its pixels twice in the worker (the codec's memory and the decoded copy), and an RGBA PNG's
 * more, so at 25 megapixels a thumbnail costs up to about 300 MB for the moment it takes.
 */
export const THUMBNAIL_MAX_PIXELS = 25_000_000
