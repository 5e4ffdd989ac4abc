import { PNG_SIGNATURE } from './image-png.ts'

/** What the bytes are, judged from the bytes themselves (never from a header or a name). */
export type Sniffed = { contentType: string; image: boolean; executable: boolean }

const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0))

/** Leading bytes → what they are. Order matters where one prefix starts another. */
const SIGNATURES: { bytes: number[]; type: Sniffed }[] = [
  { bytes: [0xff, 0xd8, 0xff], type: image('image/jpeg') },
  { bytes: [...PNG_SIGNATURE], type: image('image/png') },
  { bytes: ascii('GIF87a'), type: image('image/gif') },
  { bytes: ascii('GIF89a'), type: image('image/gif') },
  { bytes: ascii('%PDF-'), type: file('application/pdf') },
  // Programs, refused whatever the upload claims to be.
  { bytes: [0x7f, 0x45, 0x4c, 0x46], type: program('application/x-executable') }, // ELF
  { bytes: ascii('MZ'), type: program('application/vnd.microsoft.portable-executable') }, // PE, DOS
  { bytes: [0xfe, 0xed, 0xfa, 0xce], type: program('application/x-mach-binary') },
  { bytes: [0xfe, 0xed, 0xfa, 0xcf], type: program('application/x-mach-binary') },
  { bytes: [0xce, 0xfa, 0xed, 0xfe], type: program('application/x-mach-binary') },
  { bytes: [0xcf, 0xfa, 0xed, 0xfe], type: program('application/x-mach-binary') },
  { bytes: [0xca, 0xfe, 0xba, 0xbe], type: program('application/java-vm') }, // Java class, or a universal Mach-O
  { bytes: [0x00, 0x61, 0x73, 0x6d], type: program('application/wasm') },
  { bytes: ascii('dex\n'), type: program('application/vnd.android.dex') },
  { bytes: ascii('#!'), type: program('text/x-shellscript') },
  // Common files an operator may allow.
  { bytes: [0x1f, 0x8b], type: file('application/gzip') },
  { bytes: [0x1a, 0x45, 0xdf, 0xa3], type: file('video/webm') },
  { bytes: ascii('OggS'), type: file('audio/ogg') },
  { bytes: ascii('ID3'), type: file('audio/mpeg') },
  { bytes: [0xff, 0xfb], type: file('audio/mpeg') },
  { bytes: [0xff, 0xf3], type: file('audio/mpeg') },
  { bytes: [0xff, 0xf2], type: file('audio/mpeg') },
]

/** ISO media brands (bytes 8–11 after "ftyp") that are not plain MP4 video. */
const BRANDS: Record<string, string> = { 'qt  ': 'video/quicktime', 'M4A ': 'audio/mp4', heic: 'image/heic', heix: 'image/heic', mif1: 'image/heif', avif: 'image/avif' }

/** Names of a ZIP's first entry that make it a program: a Java archive or an Android package. */
const PROGRAM_ENTRIES = ['META-INF/', 'AndroidManifest.xml', 'classes.dex']

/** The content type of `bytes` from their own signature; null when not recognized. */
export function sniff(bytes: Uint8Array): Sniffed | null {
  for (const { bytes: prefix, type } of SIGNATURES) if (matches(bytes, prefix)) return type
  const riff = matches(bytes, ascii('RIFF'), 0)
  if (riff && matches(bytes, ascii('WEBP'), 8)) return image('image/webp')
  if (riff && matches(bytes, ascii('WAVE'), 8)) return file('audio/wav')
  if (matches(bytes, ascii('ftyp'), 4) && bytes.length >= 12) {
    const brand = String.fromCharCode(...bytes.subarray(8, 12))
    return file(BRANDS[brand] ?? 'video/mp4')
  }
  if (matches(bytes, [0x50, 0x4b, 0x03, 0x04])) return zip(bytes)
  if (matches(bytes, [0x50, 0x4b, 0x05, 0x06])) return file('application/zip') // an empty archive
  if (isText(bytes)) return file('text/plain; charset=utf-8')
  return null
}

function matches(bytes: Uint8Array, prefix: readonly number[], at = 0): boolean {
  return at + prefix.length <= bytes.length && prefix.every((b, i) => bytes[at + i] === b)
}

/** A ZIP, marked as a program when its first entry is what a JAR or an APK starts with (best effort: only the first entry is read). */
function zip(bytes: Uint8Array): Sniffed {
  const nameLength = bytes.length >= 30 ? bytes[26]! | (bytes[27]! << 8) : 0
  const name = new TextDecoder('latin1').decode(bytes.subarray(30, 30 + nameLength))
  if (PROGRAM_ENTRIES.some((entry) => name.startsWith(entry))) return program('application/java-archive')
  return file('application/zip')
}

/** Text: valid UTF-8 without NUL or other control characters but tab, line feed, form feed, carriage return and escape. */
function isText(bytes: Uint8Array): boolean {
  if (bytes.length === 0) return false
  for (const b of bytes) if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d && b !== 0x1b) return false
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    return true
  } catch {
    return false
  }
}

function image(contentType: string): Sniffed {
  return { contentType, image: true, executable: false }
}
function file(contentType: string): Sniffed {
  return { contentType, image: false, executable: false }
}
function program(contentType: string): Sniffed {
  return { contentType, image: false, executable: true }
}
