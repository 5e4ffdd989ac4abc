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
