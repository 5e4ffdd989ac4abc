/**
 * Decoding, resizing and encoding for thumbnails, run inside the thumbnail worker.
 *
 * WebAssembly builds of the codecs browsers use (MozJPEG, libwebp, the Rust png crate, as
 * packaged by @jsquash), with omggif (pure JS) reading a GIF's structure (gif-frame.ts decodes its
 * first frame) and an area average in JavaScript scaling down (downscale.ts). Native sharp
 * was not an option: its libvips is a separate .so that a single compiled executable cannot
 * carry. The .wasm files are embedded with `type: 'file'` and compiled from Bun.file, which works
 * inside the binary. Measured on this project's 2-core machine under load, for a 2.7 MB
 * 4000×3000 photo: MozJPEG decode 0.9–1.6 s, the whole thumbnail 0.7–1.1 s; jpeg-js (pure JS)
 * took 1.7–4.3 s to decode the same file, so it lost. A 4000×3000 PNG decodes in 0.4–1.2 s
 * (pngjs: 1.4–1.9 s).
 */
import mozjpegDecode from '@jsquash/jpeg/codec/dec/mozjpeg_dec.js'
import mozjpegDecodeWasm from '@jsquash/jpeg/codec/dec/mozjpeg_dec.wasm' with { type: 'file' }
import mozjpegEncode from '@jsquash/jpeg/codec/enc/mozjpeg_enc.js'
import mozjpegEncodeWasm from '@jsquash/jpeg/codec/enc/mozjpeg_enc.wasm' with { type: 'file' }
import { defaultOptions as jpegOptions } from '@jsquash/jpeg/meta.js'
import { decode as pngDecode, encode as pngEncode, initSync as initPng } from '@jsquash/png/codec/pkg/squoosh_png.js'
// @ts-expect-error the package's .wasm.d.ts types the module's exports; imported as a file it is a path.
import pngWasm from '@jsquash/png/codec/pkg/squoosh_png_bg.wasm' with { type: 'file' }
import webpDecode from '@jsquash/webp/codec/dec/webp_dec.js'
import webpDecodeWasm from '@jsquash/webp/codec/dec/webp_dec.wasm' with { type: 'file' }
import { areaDownscale } from './downscale.ts'
import { gifFirstFrame } from './gif-frame.ts'
import { THUMBNAIL_SIDE, type Thumbnail, type ThumbnailJob } from './thumbnail-job.ts'

const JPEG_QUALITY = 75

interface Pixels {
  data: Uint8Array | Uint8ClampedArray
  width: number
  height: number
}

/** The Emscripten codecs' entry points (their packaged types need a global namespace this project does not load). */
interface Decoder {
  decode(data: Uint8Array, ...options: boolean[]): Pixels | null
}
interface JpegEncoder {
  encode(data: Uint8Array | Uint8ClampedArray, width: number, height: number, options: typeof jpegOptions): Uint8Array
}

/** Every WebAssembly memory instantiated here: they grow with the largest image and never shrink. */
const memories: WebAssembly.Memory[] = []

/** Bytes held by the codecs' memories, so the pool can replace a worker whose memory got large. */
export function wasmMemoryBytes(): number {
  return memories.reduce((sum, memory) => sum + memory.buffer.byteLength, 0)
}

const compile = async (path: string) => new WebAssembly.Module(await Bun.file(path).arrayBuffer())

function remember(exports: WebAssembly.Exports): void {
  for (const value of Object.values(exports)) if (value instanceof WebAssembly.Memory) memories.push(value)
}

/** An Emscripten codec instantiated from the embedded file, its memory remembered. */
async function emscripten<T>(factory: unknown, path: string): Promise<T> {
  const module = await compile(path)
  return (factory as (options: object) => Promise<T>)({
    noInitialRun: true,
    instantiateWasm(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance) => void) {
      const instance = new WebAssembly.Instance(module, imports)
      remember(instance.exports)
      done(instance)
      return instance.exports
    },
  })
}

/** Each codec is compiled on first use, once per worker. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined
  return () => (loaded ??= load())
}

const jpegDecoder = once(() => emscripten<Decoder>(mozjpegDecode, mozjpegDecodeWasm))
const jpegEncoder = once(() => emscripten<JpegEncoder>(mozjpegEncode, mozjpegEncodeWasm))
const webpDecoder = once(() => emscripten<Decoder>(webpDecode, webpDecodeWasm))
const png = once(async () => remember(initPng(await compile(pngWasm)) as unknown as WebAssembly.Exports))

/** Decodes the image, scales it to at most THUMBNAIL_SIDE on its longer side, and encodes it: JPEG when opaque, PNG when not. */
export async function makeThumbnail(job: ThumbnailJob): Promise<Thumbnail | null> {
  const decoded = await decode(job.bytes, job.contentType)
  if (!decoded) return null
  // The header was checked before; this guards a decoder that disagrees with it.
  if (decoded.width * decoded.height > job.maxPixels) return null
  const scale = Math.min(1, THUMBNAIL_SIDE / Math.max(decoded.width, decoded.height))
  const width = Math.max(1, Math.round(decoded.width * scale))
  const height = Math.max(1, Math.round(decoded.height * scale))
  const transparent = job.contentType !== 'image/jpeg' && hasTransparency(decoded.data)
  let pixels = decoded.data
  if (scale < 1) {
    pixels = areaDownscale(pixels, decoded.width, decoded.height, width, height, transparent)
  }
  if (transparent) {
    await png()
    return { bytes: pngEncode(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength), width, height, 8).slice(), contentType: 'image/png', width, height }
  }
  const encoder = await jpegEncoder()
  const bytes = encoder.encode(pixels, width, height, { ...jpegOptions, quality: JPEG_QUALITY })
  return { bytes: bytes.slice(), contentType: 'image/jpeg', width, height }
}

async function decode(bytes: Uint8Array, contentType: string): Promise<Pixels | null> {
  switch (contentType) {
    case 'image/jpeg':
      // preserveOrientation turns the pixels upright by the EXIF orientation the stripped JPEG kept.
      return (await jpegDecoder()).decode(bytes, true)
    case 'image/png':
      await png()
      return pngDecode(bytes)
    case 'image/webp':
      return (await webpDecoder()).decode(bytes)
    case 'image/gif':
      return gifFirstFrame(bytes)
    default:
      return null
  }
}

function hasTransparency(rgba: Uint8Array | Uint8ClampedArray): boolean {
  for (let i = 3; i < rgba.length; i += 4) if (rgba[i] !== 255) return true
  return false
}
