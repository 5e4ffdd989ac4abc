import { checkPixels, concat, latin1, malformed, need, type Stripped, u8, u16le } from './image-bytes.ts'

/** Application extensions that only say how to loop an animation; every other one (XMP, ICC, private) is dropped. */
const LOOPING = new Set(['NETSCAPE2.0', 'ANIMEXTS1.0'])

/**
 * GIF without comments, plain-text and application extensions (but looping). Every block is
 * walked, so a truncated file is refused; bytes after the trailer are dropped.
 */
export function stripGif(bytes: Uint8Array, maxPixels: number): Stripped & { frames: number } {
  const version = latin1(bytes, 0, Math.min(6, bytes.length))
  if (version !== 'GIF87a' && version !== 'GIF89a') throw malformed('not a GIF: no signature')
  const width = u16le(bytes, 6)
  const height = u16le(bytes, 8)
  checkPixels(width, height, maxPixels)
  const screen = u8(bytes, 10)
  let at = 13 + colourTableSize(screen)
  need(bytes, 0, at)
  const kept: Uint8Array[] = [bytes.subarray(0, at)]
  let frames = 0
  for (;;) {
    const start = at
    const introducer = u8(bytes, at)
    if (introducer === 0x3b) {
      kept.push(bytes.subarray(at, at + 1))
      break
    }
    if (introducer === 0x2c) {
      const frameWidth = u16le(bytes, at + 5)
      const frameHeight = u16le(bytes, at + 7)
      checkPixels(frameWidth, frameHeight, maxPixels)
      at += 10 + colourTableSize(u8(bytes, at + 9))
      const codeSize = u8(bytes, at)
      if (codeSize < 1 || codeSize > 11) throw malformed(`GIF: an LZW code size of ${codeSize}`)
      at = skipSubBlocks(bytes, at + 1)
      frames++
      kept.push(bytes.subarray(start, at))
    } else if (introducer === 0x21) {
      const label = u8(bytes, at + 1)
      const identifier = label === 0xff && u8(bytes, at + 2) === 11 ? latin1(bytes, at + 3, 11) : ''
      at = skipSubBlocks(bytes, at + 2)
      // Graphic control (timing, transparency) and looping are kept; comments, plain text and other applications are not.
      if (label === 0xf9 || LOOPING.has(identifier)) kept.push(bytes.subarray(start, at))
    } else {
      throw malformed(`GIF: an unknown block 0x${introducer.toString(16)}`)
    }
  }
  if (frames === 0) throw malformed('GIF: no image')
  return { bytes: concat(kept), width, height, frames }
}

/** Bytes of the colour table a packed field announces (0 when it has none). */
function colourTableSize(packed: number): number {
  return packed & 0x80 ? 3 * 2 ** ((packed & 7) + 1) : 0
}

/** The position after a run of data sub-blocks and its zero-length terminator. */
function skipSubBlocks(bytes: Uint8Array, at: number): number {
  for (;;) {
    const size = u8(bytes, at)
    if (size === 0) return at + 1
    need(bytes, at + 1, size)
    at += 1 + size
  }
}
