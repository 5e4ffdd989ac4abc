import { GifReader } from 'omggif'

/** Most entries a GIF's LZW code table has (12-bit codes). */
const MAX_CODES = 4096

/**
 * The first frame of a GIF drawn on its logical screen, as RGBA (an animated GIF's thumbnail is its
 * first frame). omggif reads the structure; the LZW data is decoded here, because omggif's decoder
 * follows a code whose table entry names itself forever (36 crafted bytes held a worker until its
 * timeout). Here every code's chain of prefixes strictly descends, so a frame ends after at most
 * its pixels' worth of output, and a code the table does not have yet ends the frame.
 */
export function gifFirstFrame(bytes: Uint8Array): { data: Uint8Array; width: number; height: number } {
  const reader = new GifReader(bytes)
  const frame = reader.frameInfo(0)
  const { width, height } = reader
  const data = new Uint8Array(width * height * 4)
  const paletteOffset = frame.palette_offset
  if (paletteOffset === null) return { data, width, height }
  const indexes = lzwDecode(bytes, frame.data_offset, frame.width * frame.height)
  const rows = rowOrder(frame.height, frame.interlaced)
  for (let r = 0; r < frame.height; r++) {
    const y = frame.y + rows[r]!
    if (y >= height) continue
    for (let c = 0; c < frame.width; c++) {
      const x = frame.x + c
      if (x >= width) break
      const index = indexes[r * frame.width + c]!
      if (index === frame.transparent_index) continue
      const at = paletteOffset + index * 3
      if (at + 2 >= bytes.length) continue
      const out = (y * width + x) * 4
      data[out] = bytes[at]!
      data[out + 1] = bytes[at + 1]!
      data[out + 2] = bytes[at + 2]!
      data[out + 3] = 255
    }
  }
  return { data, width, height }
}

/** The screen row of each stored row: in order, or in an interlaced GIF's four passes. */
function rowOrder(height: number, interlaced: boolean): number[] {
  if (!interlaced) return Array.from({ length: height }, (_, i) => i)
  const rows: number[] = []
  for (const [start, step] of [
    [0, 8],
    [4, 8],
    [2, 4],
    [1, 2],
  ] as const) {
    for (let y = start; y < height; y += step) rows.push(y)
  }
  return rows
}

/**
 * The palette indexes of `count` pixels from the LZW data at `offset` (its minimum code size, then
 * sub-blocks). Pixels the data does not reach stay 0; truncated or invalid data ends the frame.
 */
function lzwDecode(bytes: Uint8Array, offset: number, count: number): Uint8Array {
  const out = new Uint8Array(count)
  const minCodeSize = bytes[offset] ?? 0
  if (minCodeSize < 2 || minCodeSize > 11) return out
  const clear = 1 << minCodeSize
  const end = clear + 1
  const prefix = new Uint16Array(MAX_CODES)
  const suffix = new Uint8Array(MAX_CODES)
  const stack = new Uint8Array(MAX_CODES + 1)
  for (let i = 0; i < clear; i++) suffix[i] = i
  let codeSize = minCodeSize + 1
  let next = end + 1
  let previous = -1
  let first = 0
  let bits = 0
  let buffer = 0
  let written = 0
  // The sub-blocks: a length byte, then that many bytes; a zero length ends them.
  let at = offset + 1
  let blockEnd = at
  const nextByte = (): number => {
    if (at >= blockEnd) {
      const length = bytes[at] ?? 0
      if (length === 0) return -1
      blockEnd = at + 1 + length
      at++
    }
    return at < bytes.length ? bytes[at++]! : -1
  }
  while (written < count) {
    while (bits < codeSize) {
      const byte = nextByte()
      if (byte < 0) return out
      buffer |= byte << bits
      bits += 8
    }
    const code = buffer & ((1 << codeSize) - 1)
    buffer >>>= codeSize
    bits -= codeSize
    if (code === clear) {
      codeSize = minCodeSize + 1
      next = end + 1
      previous = -1
      continue
    }
    if (code === end) return out
    if (previous < 0) {
      if (code >= clear) return out
      out[written++] = code
      previous = first = code
      continue
    }
    // A code not in the table yet, but the next one (the KwKwK case), or the end of valid data.
    if (code > next || (code === next && next >= MAX_CODES)) return out
    let sp = 0
    let walk = code
    if (code === next) {
      stack[sp++] = first
      walk = previous
    }
    // Each entry's prefix is an earlier code: the walk descends to a single byte.
    while (walk > end) {
      stack[sp++] = suffix[walk]!
      walk = prefix[walk]!
    }
    if (walk >= clear) return out
    stack[sp++] = walk
    first = walk
    while (sp > 0 && written < count) out[written++] = stack[--sp]!
    if (next < MAX_CODES) {
      prefix[next] = previous
      suffix[next] = first
      next++
      if (next === 1 << codeSize && codeSize < 12) codeSize++
    }
    previous = code
  }
  return out
}
