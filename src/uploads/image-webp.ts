import { checkPixels, concat, latin1, malformed, need, type Stripped, startsWith, u8, u16le, u24le, u32le } from './image-bytes.ts'

/** Chunks a WebP needs: every other one (EXIF, "XMP ", unknown) is dropped, as decoders ignore them. */
const RENDERING = new Set(['VP8X', 'VP8 ', 'VP8L', 'ALPH', 'ICCP', 'ANIM', 'ANMF'])
/** VP8X flag bits that announce EXIF and XMP chunks. */
const EXIF_FLAG = 0x08
const XMP_FLAG = 0x04
const ANIMATION_FLAG = 0x02

/** WebP without EXIF and XMP: those chunks dropped, their VP8X flags cleared, the RIFF size rewritten. */
export function stripWebp(bytes: Uint8Array, maxPixels: number): Stripped & { animated: boolean } {
  if (latin1(bytes, 0, Math.min(4, bytes.length)) !== 'RIFF' || !startsWith(bytes, [0x57, 0x45, 0x42, 0x50], 8)) throw malformed('not a WebP: no RIFF/WEBP header')
  const riffEnd = 8 + u32le(bytes, 4)
  if (riffEnd > bytes.length || riffEnd < 12) throw malformed('WebP: the RIFF size is out of range')
  const kept: Uint8Array[] = []
  let canvas: { width: number; height: number } | null = null
  let bitstream: { width: number; height: number } | null = null
  let animated = false
  let at = 12
  while (at < riffEnd) {
    const type = latin1(bytes, at, 4)
    const size = u32le(bytes, at + 4)
    const padded = size + (size & 1)
    need(bytes, at + 8, size)
    if (at + 8 + padded > riffEnd && at + 8 + size !== riffEnd) throw malformed('WebP: a chunk past the end of the RIFF')
    const payload = bytes.subarray(at + 8, at + 8 + size)
    const chunk = bytes.subarray(at, Math.min(at + 8 + padded, riffEnd))
    at += 8 + padded
    if (type === 'VP8X') {
      if (kept.length !== 0 || size < 10) throw malformed('WebP: a misplaced or short VP8X')
      canvas = { width: u24le(payload, 4) + 1, height: u24le(payload, 7) + 1 }
      checkPixels(canvas.width, canvas.height, maxPixels)
      animated = (payload[0]! & ANIMATION_FLAG) !== 0
      const copy = chunk.slice()
      copy[8] = copy[8]! & ~(EXIF_FLAG | XMP_FLAG)
      kept.push(copy)
      continue
    }
    if (!RENDERING.has(type)) continue
    if (type === 'VP8 ' || type === 'VP8L') {
      if (bitstream) throw malformed('WebP: more than one image bitstream')
      bitstream = type === 'VP8 ' ? vp8Size(payload) : vp8lSize(payload)
      checkPixels(bitstream.width, bitstream.height, maxPixels)
    } else if (type === 'ANMF') {
      const frame = { x: u24le(payload, 0) * 2, y: u24le(payload, 3) * 2, width: u24le(payload, 6) + 1, height: u24le(payload, 9) + 1 }
      if (!canvas || frame.x + frame.width > canvas.width || frame.y + frame.height > canvas.height) throw malformed('WebP: an animation frame outside the canvas')
    }
    kept.push(chunk.length === 8 + padded ? chunk : concat([chunk, new Uint8Array(1)]))
  }
  if (!canvas && !bitstream) throw malformed('WebP: no image')
  if (!animated && !bitstream) throw malformed('WebP: a still image without a bitstream')
  if (canvas && bitstream && (canvas.width !== bitstream.width || canvas.height !== bitstream.height)) throw malformed('WebP: the canvas and the image differ in size')
  const size = canvas ?? bitstream!
  const body = concat(kept)
  const header = new Uint8Array(12)
  header.set([0x52, 0x49, 0x46, 0x46]) // RIFF
  new DataView(header.buffer).setUint32(4, body.length + 4, true)
  header.set([0x57, 0x45, 0x42, 0x50], 8) // WEBP
  return { bytes: concat([header, body]), width: size.width, height: size.height, animated }
}

/** A lossy bitstream's size, from its key frame header. */
function vp8Size(payload: Uint8Array): { width: number; height: number } {
  if ((u8(payload, 0) & 1) !== 0) throw malformed('WebP: the VP8 bitstream does not start with a key frame')
  if (!startsWith(payload, [0x9d, 0x01, 0x2a], 3)) throw malformed('WebP: no VP8 start code')
  return { width: u16le(payload, 6) & 0x3fff, height: u16le(payload, 8) & 0x3fff }
}

/** A lossless bitstream's size: two 14-bit fields after the 0x2f signature. */
function vp8lSize(payload: Uint8Array): { width: number; height: number } {
  if (u8(payload, 0) !== 0x2f) throw malformed('WebP: no VP8L signature')
  const bits = u32le(payload, 1)
  return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1 }
}
