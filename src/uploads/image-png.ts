import { checkPixels, concat, latin1, malformed, need, type Stripped, startsWith, u8, u32be } from './image-bytes.ts'

export const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] as const

/**
 * The chunks a PNG (or APNG) needs to show as meant: pixels, palette, transparency, colour
 * (gamma, chromaticities, sRGB, ICC, CICP and HDR levels), physical size and animation frames.
 * Every other ancillary chunk is dropped: tEXt, zTXt, iTXt, eXIf, tIME and private ones.
 */
const RENDERING = new Set(['IHDR', 'PLTE', 'IDAT', 'IEND', 'tRNS', 'gAMA', 'cHRM', 'sRGB', 'iCCP', 'sBIT', 'cICP', 'mDCV', 'cLLI', 'pHYs', 'acTL', 'fcTL', 'fdAT'])

/** Colour type → the bit depths the PNG specification allows for it. */
const DEPTHS: Record<number, number[]> = { 0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16] }

/** PNG without metadata chunks; each kept chunk's CRC is checked, and anything after IEND dropped. */
export function stripPng(bytes: Uint8Array, maxPixels: number): Stripped & { alpha: boolean } {
  if (!startsWith(bytes, PNG_SIGNATURE)) throw malformed('not a PNG: no signature')
  const kept: Uint8Array[] = [bytes.subarray(0, 8)]
  let at = 8
  let width = 0
  let height = 0
  let alpha = false
  let sawData = false
  for (;;) {
    const length = u32be(bytes, at)
    if (length > 0x7fffffff) throw malformed('PNG: a chunk longer than 2³¹−1 bytes')
    const type = latin1(bytes, at + 4, 4)
    if (!/^[A-Za-z]{4}$/.test(type)) throw malformed('PNG: a chunk type that is not four letters')
    need(bytes, at + 8, length + 4)
    const chunk = bytes.subarray(at, at + 12 + length)
    const data = bytes.subarray(at + 8, at + 8 + length)
    at += 12 + length
    if (kept.length === 1 && type !== 'IHDR') throw malformed('PNG: the first chunk is not IHDR')
    const critical = type.charCodeAt(0) < 0x61
    if (!RENDERING.has(type)) {
      // An unknown critical chunk means the image cannot be decoded correctly.
      if (critical) throw malformed(`PNG: unknown critical chunk ${type}`)
      continue
    }
    if (u32be(chunk, 8 + length) !== Bun.hash.crc32(chunk.subarray(4, 8 + length))) throw malformed(`PNG: the ${type} chunk's CRC does not match`)
    if (type === 'IHDR') {
      if (kept.length !== 1 || length !== 13) throw malformed('PNG: a misplaced or malformed IHDR')
      width = u32be(data, 0)
      height = u32be(data, 4)
      const depth = u8(data, 8)
      const colour = u8(data, 9)
      if (width === 0 || height === 0 || width > 0x7fffffff || height > 0x7fffffff) throw malformed('PNG: a width or height out of range')
      if (!DEPTHS[colour]?.includes(depth) || data[10] !== 0 || data[11] !== 0 || (data[12] !== 0 && data[12] !== 1)) throw malformed('PNG: an invalid IHDR')
      alpha = colour === 4 || colour === 6
      checkPixels(width, height, maxPixels)
    } else if (type === 'tRNS') {
      alpha = true
    } else if (type === 'IDAT') {
      sawData = true
    } else if (type === 'fcTL') {
      // An animation frame must fit in the canvas (a frame is decoded at its own size).
      if (length !== 26) throw malformed('PNG: a malformed fcTL')
      const fw = u32be(data, 4)
      const fh = u32be(data, 8)
      if (fw === 0 || fh === 0 || u32be(data, 12) + fw > width || u32be(data, 16) + fh > height) throw malformed('PNG: an animation frame outside the image')
    }
    kept.push(chunk)
    if (type === 'IEND') break
  }
  if (!sawData) throw malformed('PNG: no image data')
  return { bytes: concat(kept), width, height, alpha }
}
