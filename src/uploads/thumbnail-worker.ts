/**
 * The thumbnail worker: decoding blocks for up to a second, so it runs here and not on the thread
 * that serves chat. A separate entrypoint of the compiled binary (see build.ts).
 */
import { makeThumbnail, wasmMemoryBytes } from './thumbnail-codecs.ts'
import type { ThumbnailJob } from './thumbnail-job.ts'
import type { ThumbnailReply } from './thumbnail.ts'

declare const self: Worker

self.onmessage = async (event: MessageEvent<ThumbnailJob & { id: number }>) => {
  const { id, ...job } = event.data
  let reply: ThumbnailReply
  try {
    reply = { id, thumbnail: await makeThumbnail(job), memoryBytes: wasmMemoryBytes() }
  } catch (error) {
    // A codec that fails on an image whose structure was checked: stored without a thumbnail.
    reply = { id, thumbnail: null, error: error instanceof Error ? error.message : String(error), memoryBytes: wasmMemoryBytes() }
  }
  self.postMessage(reply, reply.thumbnail ? [reply.thumbnail.bytes.buffer as ArrayBuffer] : [])
}
