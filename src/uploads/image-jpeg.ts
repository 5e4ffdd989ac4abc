import { checkPixels, concat, latin1, malformed, need, type Stripped, startsWith, u8, u16be, u32be } from './image-bytes.ts'

/**
 * JPEG without metadata: the segments a decoder needs are copied, the rest dropped, walking the
 * markers only (no pixel is decoded). Kept: APP0 JFIF (rewritten without its embedded thumbnail),
 * APP2 ICC_PROFILE, APP14 Adobe, and every non-APP segment (tables, frame, scans). Dropped: APP1
 * (EXIF, XMP), APP13 (IPTC), COM, every other APPn (MPF, FlashPix, maker data) and any bytes after
 * EOI (a second image or an appended archive). An EXIF orientation other than 1 is written back
 * as a minimal EXIF holding only that tag, so phone photos still show upright.
 */
export function stripJpeg(bytes: Uint8Array, maxPixels: number): Stripped & { orientation: number } {
  if (!startsWith(bytes, [0xff, 0xd8])) throw malformed('not a JPEG: no SOI marker')
  const kept: Uint8Array[] = []
  let orientation = 1
  let frame: { width: number; height: number } | null = null
  let scans = 0
  let at = 2
  for (;;) {
    if (u8(bytes, at) !== 0xff) throw malformed(`JPEG: no marker at byte ${at}`)
    let marker = u8(bytes, at + 1)
    while (marker === 0xff) marker = u8(bytes, ++at + 1) // fill bytes before a marker
    at += 2
    if (marker === 0xd9) break // EOI
    if (marker === 0x00 || marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) throw malformed(`JPEG: marker 0x${marker.toString(16)} out of place`)
    const length = u16be(bytes, at)
    if (length < 2) throw malformed('JPEG: a segment shorter than its length field')
    need(bytes, at, length)
    const segment = bytes.subarray(at - 2, at + length)
    const payload = bytes.subarray(at + 2, at + length)
    at += length
    if (isFrameMarker(marker)) {
      if (frame) throw malformed('JPEG: more than one frame header')
      frame = readFrame(payload)
      checkPixels(frame.width, frame.height, maxPixels)
      kept.push(segment)
    } else if (marker === 0xda) {
      if (!frame) throw malformed('JPEG: a scan before the frame header')
      scans++
      const end = endOfEntropyData(bytes, at)
      kept.push(segment, bytes.subarray(at, end))
      at = end
    } else if (marker === 0xe0) {
      if (latin1(payload, 0, Math.min(5, payload.length)) === 'JFIF\0' && payload.length >= 14) kept.push(jfifWithoutThumbnail(payload))
    } else if (marker === 0xe1) {
      if (latin1(payload, 0, Math.min(6, payload.length)) === 'Exif\0\0') orientation = exifOrientation(payload.subarray(6))
    } else if (marker === 0xe2) {
      if (latin1(payload, 0, Math.min(12, payload.length)) === 'ICC_PROFILE\0') kept.push(segment)
    } else if (marker === 0xee) {
      if (latin1(payload, 0, Math.min(5, payload.length)) === 'Adobe') kept.push(segment)
    } else if ((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe) {
      // Other APPn and COM: metadata, never needed to decode.
    } else {
      kept.push(segment)
    }
  }
  if (!frame || scans === 0) throw malformed('JPEG: no frame or no scan before EOI')
  const head = [bytes.subarray(0, 2)]
  // JFIF's APP0 must come first; the EXIF orientation goes right after it.
  const jfifFirst = kept[0] !== undefined && kept[0][1] === 0xe0
  if (jfifFirst) head.push(kept.shift()!)
  if (orientation !== 1) head.push(orientationExif(orientation))
  const sideways = orientation >= 5
  return {
    bytes: concat([...head, ...kept, new Uint8Array([0xff, 0xd9])]),
    width: sideways ? frame.height : frame.width,
    height: sideways ? frame.width : frame.height,
    orientation,
  }
}

/** SOF0–SOF15 but DHT (C4), JPG (C8) and DAC (CC). */
function isFrameMarker(marker: number): boolean {
  return marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
}

function readFrame(payload: Uint8Array): { width: number; height: number } {
  const height = u16be(payload, 1)
  const width = u16be(payload, 3)
  const components = u8(payload, 5)
  if (components < 1 || components > 4) throw malformed(`JPEG: ${components} colour components`)
  need(payload, 6, components * 3)
  // A height of 0 defers it to a DNL marker after the first scan, which browsers do not support.
  if (width === 0 || height === 0) throw malformed('JPEG: a frame without its width or height')
  return { width, height }
}

/** Where the entropy-coded data after a scan header ends: at the first marker that is not a restart or a stuffed 0xFF. */
function endOfEntropyData(bytes: Uint8Array, from: number): number {
  for (let i = bytes.indexOf(0xff, from); i !== -1; i = bytes.indexOf(0xff, i + 1)) {
    const next = bytes[i + 1]
    if (next === undefined) break
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) continue
    if (next === 0xff) continue // fill; the marker follows
    return i
  }
  throw malformed('JPEG: the image data ends without an EOI marker')
}

/** APP0 JFIF with its version, units and density but no thumbnail (which can show the photo before a crop). */
function jfifWithoutThumbnail(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(2 + 2 + 14)
  out.set([0xff, 0xe0, 0x00, 16])
  out.set(payload.subarray(0, 12), 4)
  return out // the thumbnail's width and height (the last two bytes) stay 0
}

/** The Orientation tag (0x0112) of IFD0 in a TIFF structure; 1 when absent or unreadable (EXIF is dropped either way). */
function exifOrientation(tiff: Uint8Array): number {
  try {
    const order = latin1(tiff, 0, 2)
    if (order !== 'II' && order !== 'MM') return 1
    const little = order === 'II'
    const read16 = (at: number) => (little ? u8(tiff, at) | (u8(tiff, at + 1) << 8) : u16be(tiff, at))
    const read32 = (at: number) => (little ? (read16(at) | (read16(at + 2) << 16)) >>> 0 : u32be(tiff, at))
    if (read16(2) !== 42) return 1
    const ifd = read32(4)
    const entries = read16(ifd)
    for (let i = 0; i < entries; i++) {
      const entry = ifd + 2 + i * 12
      if (read16(entry) === 0x0112 && read16(entry + 2) === 3) {
        const value = read16(entry + 8)
        return value >= 1 && value <= 8 ? value : 1
      }
    }
  } catch {
    // A broken EXIF block is dropped like any other; the photo shows as stored.
  }
  return 1
}

/** APP1 holding a big-endian TIFF header and one IFD with the Orientation tag alone. */
function orientationExif(orientation: number): Uint8Array {
  const exif = [0x45, 0x78, 0x69, 0x66, 0, 0] // "Exif\0\0"
  const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8] // "MM", 42, IFD0 at 8
  const ifd = [0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0] // one SHORT entry, then no next IFD
  const payload = [...exif, ...tiff, ...ifd]
  const length = payload.length + 2
  return new Uint8Array([0xff, 0xe1, length >> 8, length & 0xff, ...payload])
}
