/**
 * Images made in code for the tests: encoded with the same WebAssembly codecs (their packaged,
 * self-loading entry points), then given metadata a camera or an editor would add.
 */
import encodeJpeg from '@jsquash/jpeg/encode.js'
import encodePng from '@jsquash/png/encode.js'
import encodeWebp from '@jsquash/webp/encode.js'
import { concat } from './image-bytes.ts'

const ascii = (text: string) => new TextEncoder().encode(text)

/** A smooth opaque gradient (or one with an alpha ramp), as ImageData the encoders take. */
function gradient(width: number, height: number, transparent = false): ImageData {
  const data = new Uint8ClampedArray(width * height * 4)
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 4
      data.set([(x * 255) / width, (y * 255) / height, 128, transparent ? (x * 255) / width : 255], i)
    }
  return { data, width, height, colorSpace: 'srgb' } as ImageData
}

export const jpeg = async (width: number, height: number) => new Uint8Array(await encodeJpeg(gradient(width, height), { quality: 80 }))
export const png = async (width: number, height: number, transparent = false) => new Uint8Array(await encodePng(gradient(width, height, transparent)))
export const webp = async (width: number, height: number, lossless = false) => new Uint8Array(await encodeWebp(gradient(width, height), { quality: 80, lossless: lossless ? 1 : 0 }))

/** A JPEG segment: marker, length, payload. */
function segment(marker: number, payload: Uint8Array): Uint8Array {
  const length = payload.length + 2
  return concat([new Uint8Array([0xff, marker, length >> 8, length & 0xff]), payload])
}

/**
 * An EXIF APP1 as a phone writes it: camera make, orientation, and a GPS IFD with the latitude
 * and longitude of where the photo was taken (little-endian TIFF).
 */
function phoneExif(orientation: number): Uint8Array {
  const tiff = new Uint8Array(200)
  const view = new DataView(tiff.buffer)
  tiff.set(ascii('II'))
  view.setUint16(2, 42, true)
  view.setUint32(4, 8, true)
  // IFD0 at 8: Make, Orientation, GPSInfo pointer.
  const entries: [number, number, number, number][] = [
    [0x010f, 2, 6, 100], // Make: ASCII, 6 bytes at 100
    [0x0112, 3, 1, orientation], // Orientation: SHORT, inline
    [0x8825, 4, 1, 120], // GPSInfo: LONG offset of the GPS IFD
  ]
  view.setUint16(8, entries.length, true)
  entries.forEach(([tag, type, count, value], i) => {
    const at = 10 + i * 12
    view.setUint16(at, tag, true)
    view.setUint16(at + 2, type, true)
    view.setUint32(at + 4, count, true)
    if (type === 3) view.setUint16(at + 8, value, true)
    else view.setUint32(at + 8, value, true)
  })
  tiff.set(ascii('Phone\0'), 100)
  // GPS IFD at 120: GPSLatitudeRef "N", GPSLatitude 3 RATIONALs at 160.
  view.setUint16(120, 2, true)
  view.setUint16(122, 0x0001, true)
  view.setUint16(124, 2, true)
  view.setUint32(126, 2, true)
  tiff.set(ascii('N\0'), 130)
  view.setUint16(134, 0x0002, true)
  view.setUint16(136, 5, true)
  view.setUint32(138, 3, true)
  view.setUint32(142, 160, true)
  for (const [i, n] of [48, 1, 51, 1, 2400, 100].entries()) view.setUint32(160 + i * 4, n, true)
  return segment(0xe1, concat([ascii('Exif\0\0'), tiff]))
}

/** A JPEG with a phone's EXIF (GPS included), XMP, IPTC and a comment spliced in after SOI. */
export function withJpegMetadata(jpegBytes: Uint8Array, orientation: number): Uint8Array {
  return concat([
    jpegBytes.subarray(0, 2),
    phoneExif(orientation),
    segment(0xe1, ascii('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>secret place</x:xmpmeta>')),
    segment(0xed, ascii('Photoshop 3.0\0IPTC secret caption')),
    segment(0xfe, ascii('a secret comment')),
    jpegBytes.subarray(2),
  ])
}

/** A PNG chunk with its CRC. */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const chunk = new Uint8Array(12 + data.length)
  const view = new DataView(chunk.buffer)
  view.setUint32(0, data.length)
  chunk.set(ascii(type), 4)
  chunk.set(data, 8)
  view.setUint32(8 + data.length, Bun.hash.crc32(chunk.subarray(4, 8 + data.length)))
  return chunk
}

/** A PNG's chunk types, in order. */
export function pngChunkTypes(bytes: Uint8Array): string[] {
  const types: string[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let at = 8; at + 8 <= bytes.length; at += 12 + view.getUint32(at)) types.push(new TextDecoder().decode(bytes.subarray(at + 4, at + 8)))
  return types
}

/** A PNG with text, compressed text, international text, EXIF and time chunks after IHDR. */
export function withPngMetadata(pngBytes: Uint8Array): Uint8Array {
  const afterIhdr = 8 + 25
  return concat([
    pngBytes.subarray(0, afterIhdr),
    pngChunk('tEXt', ascii('Author\0Someone')),
    pngChunk('zTXt', ascii('Comment\0\0x')),
    pngChunk('iTXt', ascii('Location\0\0\0\0\0secret place')),
    pngChunk('eXIf', phoneExif(1).subarray(10)),
    pngChunk('tIME', new Uint8Array([7, 232, 1, 2, 3, 4, 5])),
    pngBytes.subarray(afterIhdr),
  ])
}

/** A RIFF chunk, padded to an even size. */
function riffChunk(type: string, payload: Uint8Array): Uint8Array {
  const header = new Uint8Array(8)
  header.set(ascii(type))
  new DataView(header.buffer).setUint32(4, payload.length, true)
  return concat([header, payload, new Uint8Array(payload.length & 1)])
}

/** A WebP's chunks (FourCC and size), in order. */
export function webpChunks(bytes: Uint8Array): string[] {
  const types: string[] = []
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  for (let at = 12; at + 8 <= bytes.length; ) {
    const size = view.getUint32(at + 4, true)
    types.push(new TextDecoder().decode(bytes.subarray(at, at + 4)))
    at += 8 + size + (size & 1)
  }
  return types
}

/** A simple (VP8-only) WebP rebuilt as an extended one with EXIF and XMP chunks, their VP8X flags set. */
export function withWebpMetadata(simple: Uint8Array, width: number, height: number): Uint8Array {
  const vp8x = new Uint8Array(10)
  vp8x[0] = 0x08 | 0x04 // EXIF and XMP
  const view = new DataView(vp8x.buffer)
  view.setUint16(4, (width - 1) & 0xffff, true)
  vp8x[6] = (width - 1) >> 16
  view.setUint16(7, (height - 1) & 0xffff, true)
  vp8x[9] = (height - 1) >> 16
  const body = concat([ascii('WEBP'), riffChunk('VP8X', vp8x), simple.subarray(12), riffChunk('EXIF', phoneExif(1).subarray(10)), riffChunk('XMP ', ascii('<x:xmpmeta>secret place</x:xmpmeta>'))])
  const header = new Uint8Array(8)
  header.set(ascii('RIFF'))
  new DataView(header.buffer).setUint32(4, body.length, true)
  return concat([header, body])
}

/**
 * A GIF of `width`×`height` in two colours (stripes), with a comment, an XMP application
 * extension, a NETSCAPE2.0 loop and a graphic control extension. The LZW data restarts the code
 * table every two pixels, so every code stays three bits wide: valid, if not compressed.
 */
export function gif(width: number, height: number): Uint8Array {
  const codes: number[] = []
  for (let i = 0; i < width * height; i++) {
    if (i % 2 === 0) codes.push(4) // clear
    codes.push(Math.floor(i / width) % 2)
  }
  codes.push(5) // end
  const packed: number[] = []
  let bits = 0
  let count = 0
  for (const code of codes) {
    bits |= code << count
    count += 3
    while (count >= 8) {
      packed.push(bits & 0xff)
      bits >>= 8
      count -= 8
    }
  }
  if (count > 0) packed.push(bits & 0xff)
  const blocks: number[] = []
  for (let at = 0; at < packed.length; at += 255) {
    const block = packed.slice(at, at + 255)
    blocks.push(block.length, ...block)
  }
  const le = (n: number) => [n & 0xff, n >> 8]
  const subBlocks = (text: string) => [text.length, ...ascii(text), 0]
  return new Uint8Array([
    ...ascii('GIF89a'),
    ...le(width),
    ...le(height),
    0x80, // global colour table of 2 entries
    0,
    0,
    ...[0, 0, 0, 255, 255, 255],
    ...[0x21, 0xfe, ...subBlocks('a secret comment')],
    ...[0x21, 0xff, 11, ...ascii('XMP DataXMP'), ...subBlocks('<x:xmpmeta>secret place</x:xmpmeta>')],
    ...[0x21, 0xff, 11, ...ascii('NETSCAPE2.0'), 3, 1, 0, 0, 0],
    ...[0x21, 0xf9, 4, 0, 10, 0, 0, 0],
    ...[0x2c, 0, 0, 0, 0, ...le(width), ...le(height), 0],
    2, // LZW minimum code size
    ...blocks,
    0,
    0x3b,
  ])
}
