import { AppError } from '../errors.ts'

/** Why an image was refused: too many pixels to decode safely, or bytes that are not a well-formed image. */
export type ImageRefusedCode = 'image_too_large' | 'malformed_image'

/**
 * An image the server will not store. Too large is 413 (like a body over the size limit: the
 * client can send a smaller one); malformed is 422 (the bytes are not the image they claim to be).
 */
export class ImageRefused extends AppError {
  constructor(
    override readonly code: ImageRefusedCode,
    detail: string,
  ) {
    super(code === 'image_too_large' ? 413 : 422, code, code === 'image_too_large' ? 'Content Too Large' : 'Unprocessable Content', detail)
    this.name = 'ImageRefused'
  }
}

/** The refusal every parser throws when the bytes end early or break their format's rules. */
export const malformed = (detail: string) => new ImageRefused('malformed_image', detail)

/** Refuses dimensions whose decoded pixels would exceed the limit, before anything is decoded. */
export function checkPixels(width: number, height: number, maxPixels: number): void {
  if (width <= 0 || height <= 0) throw malformed(`an image of ${width}×${height} pixels`)
  if (width * height > maxPixels) throw new ImageRefused('image_too_large', `${width}×${height} pixels is more than the ${maxPixels} allowed`)
}

/** Throws unless `length` bytes are readable at `at`: every read below goes through this. */
export function need(bytes: Uint8Array, at: number, length: number): void {
  if (at < 0 || length < 0 || at + length > bytes.length) throw malformed('the image ends before its structure does')
}

export function u8(bytes: Uint8Array, at: number): number {
  need(bytes, at, 1)
  return bytes[at]!
}

export function u16be(bytes: Uint8Array, at: number): number {
  need(bytes, at, 2)
  return (bytes[at]! << 8) | bytes[at + 1]!
}

export function u16le(bytes: Uint8Array, at: number): number {
  need(bytes, at, 2)
  return bytes[at]! | (bytes[at + 1]! << 8)
}

export function u24le(bytes: Uint8Array, at: number): number {
  need(bytes, at, 3)
  return bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16)
}

export function u32be(bytes: Uint8Array, at: number): number {
  need(bytes, at, 4)
  return ((bytes[at]! << 24) >>> 0) + ((bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!)
}

export function u32le(bytes: Uint8Array, at: number): number {
  need(bytes, at, 4)
  return ((bytes[at + 3]! << 24) >>> 0) + ((bytes[at + 2]! << 16) | (bytes[at + 1]! << 8) | bytes[at]!)
}

/** The bytes at `at` read as Latin-1 text (four-character codes, identifiers). */
export function latin1(bytes: Uint8Array, at: number, length: number): string {
  need(bytes, at, length)
  return String.fromCharCode(...bytes.subarray(at, at + length))
}

/** Whether `bytes` start with `prefix` at `at` (false when too short). */
export function startsWith(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  if (at + prefix.length > bytes.length) return false
  return prefix.every((b, i) => bytes[at + i] === b)
}

/**
 * Joins the kept pieces of an image into its new bytes. Pieces that follow each other in one
 * buffer (a file that had nothing to drop) come back as a view of it: copying 30 MB of fresh
 * memory costs the calling thread about 100 ms here.
 */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const first = parts[0]
  if (first && parts.every((part, i) => i === 0 || (part.buffer === first.buffer && part.byteOffset === parts[i - 1]!.byteOffset + parts[i - 1]!.length))) {
    const last = parts[parts.length - 1]!
    return new Uint8Array(first.buffer, first.byteOffset, last.byteOffset + last.length - first.byteOffset)
  }
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0))
  let at = 0
  for (const part of parts) {
    out.set(part, at)
    at += part.length
  }
  return out
}

/** What each format's parser gives back: the bytes without metadata, and the size the image shows at. */
export interface Stripped {
  bytes: Uint8Array
  width: number
  height: number
}
