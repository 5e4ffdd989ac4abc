import { afterAll, describe, expect, it } from 'bun:test'
import ExifReader from 'exifreader'
import { deflateSync } from 'node:zlib'
import { gif, jpeg, png, pngChunk, pngChunkTypes, webp, webpChunks, withJpegMetadata, withPngMetadata, withWebpMetadata } from './image-fixtures.ts'
import { ImageRefused, prepareImage, sniff, Thumbnailer } from './image.ts'

const MAX_PIXELS = 50_000_000
const limits = { maxPixels: MAX_PIXELS }
const thumbnailer = new Thumbnailer()
afterAll(() => thumbnailer.close())

const ascii = (text: string) => new TextEncoder().encode(text)
const contains = (bytes: Uint8Array, text: string) => Buffer.from(bytes).includes(text)
const exif = (bytes: Uint8Array) => ExifReader.load(bytes.slice().buffer as ArrayBuffer, { expanded: true })

async function refusal(run: () => Promise<unknown>): Promise<ImageRefused> {
  try {
    await run()
  } catch (error) {
    if (error instanceof ImageRefused) return error
    throw error
  }
  throw new Error('not refused')
}

describe('sniff', () => {
  it('should name the image types from their bytes', async () => {
    expect(sniff(await jpeg(8, 8))).toEqual({ contentType: 'image/jpeg', image: true, executable: false })
    expect(sniff(await png(8, 8))?.contentType).toBe('image/png')
    expect(sniff(await webp(8, 8))?.contentType).toBe('image/webp')
    expect(sniff(gif(4, 2))?.contentType).toBe('image/gif')
  })

  it('should mark an ELF binary as executable, whatever it claims to be', async () => {
    const elf = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, ...new Uint8Array(56)])
    expect(sniff(elf)).toEqual({ contentType: 'application/x-executable', image: false, executable: true })
    // Sent as image/png, it is still no PNG.
    expect((await refusal(() => prepareImage(elf, 'image/png', limits, thumbnailer))).code).toBe('malformed_image')
  })

  it('should mark other programs as executable', () => {
    for (const bytes of [
      ascii('MZ\x90\0'),
      new Uint8Array([0xcf, 0xfa, 0xed, 0xfe, 7, 0, 0, 1]),
      new Uint8Array([0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 52]),
      new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]),
      ascii('#!/bin/sh\nrm -rf /\n'),
      ascii('dex\n035\0'),
    ]) {
      expect(sniff(bytes)?.executable).toBe(true)
    }
    const jar = new Uint8Array(64)
    jar.set([0x50, 0x4b, 0x03, 0x04])
    jar[26] = 9
    jar.set(ascii('META-INF/'), 30)
    expect(sniff(jar)).toEqual({ contentType: 'application/java-archive', image: false, executable: true })
  })

  it('should name common files an operator may allow', () => {
    const zip = new Uint8Array(64)
    zip.set([0x50, 0x4b, 0x03, 0x04])
    zip[26] = 8
    zip.set(ascii('notes.md'), 30)
    expect(sniff(zip)?.contentType).toBe('application/zip')
    expect(sniff(ascii('%PDF-1.7\n'))?.contentType).toBe('application/pdf')
    expect(sniff(new Uint8Array([0, 0, 0, 0x18, ...ascii('ftypisom'), 0, 0, 0, 0]))?.contentType).toBe('video/mp4')
    expect(sniff(ascii('ID3\x04\0'))?.contentType).toBe('audio/mpeg')
    expect(sniff(ascii('Grüße, 世界\n'))).toEqual({ contentType: 'text/plain; charset=utf-8', image: false, executable: false })
  })

  it('should recognize neither binary noise nor text with NUL', () => {
    expect(sniff(ascii('text\0with a NUL'))).toBeNull()
    expect(sniff(new Uint8Array([0xc3, 0x28, 0x41]))).toBeNull()
    expect(sniff(new Uint8Array())).toBeNull()
  })
})

describe('a JPEG', () => {
  it('should come back without EXIF, GPS, XMP, IPTC or comments, keeping its orientation', async () => {
    const original = withJpegMetadata(await jpeg(64, 48), 6)
    expect(exif(original).gps?.Latitude).toBeCloseTo(48.85, 1)
    const prepared = await prepareImage(original, 'image/jpeg', limits, thumbnailer)
    const tags = exif(prepared.bytes)
    expect(tags.gps).toBeUndefined()
    expect(tags.exif?.GPSLatitude).toBeUndefined()
    expect(tags.exif?.Make).toBeUndefined()
    expect(tags.exif?.Orientation?.value).toBe(6)
    expect(tags.xmp).toBeUndefined()
    expect(tags.iptc).toBeUndefined()
    for (const secret of ['secret', 'Phone', 'Photoshop']) expect(contains(prepared.bytes, secret)).toBe(false)
    // Turned a quarter by its orientation, it shows 48 wide and 64 high.
    expect([prepared.width, prepared.height]).toEqual([48, 64])
  })

  it('should write no EXIF at all when the orientation is the default', async () => {
    const prepared = await prepareImage(withJpegMetadata(await jpeg(64, 48), 1), 'image/jpeg', limits, thumbnailer)
    expect(contains(prepared.bytes, 'Exif')).toBe(false)
    expect([prepared.width, prepared.height]).toEqual([64, 48])
  })

  it('should drop whatever follows its end (an appended archive)', async () => {
    const original = await jpeg(16, 16)
    const prepared = await prepareImage(new Uint8Array([...original, 0x50, 0x4b, 0x03, 0x04, ...ascii('payload')]), 'image/jpeg', limits, thumbnailer)
    expect(contains(prepared.bytes, 'payload')).toBe(false)
  })

  it('should get an upright JPEG thumbnail of at most 320 px', async () => {
    const prepared = await prepareImage(withJpegMetadata(await jpeg(1000, 600), 6), 'image/jpeg', limits, thumbnailer)
    expect(prepared.thumbnail).toMatchObject({ contentType: 'image/jpeg', width: 192, height: 320 })
    expect(sniff(prepared.thumbnail!.bytes)?.contentType).toBe('image/jpeg')
    expect(contains(prepared.thumbnail!.bytes, 'Exif')).toBe(false)
  })

  it('should be its own thumbnail when already small', async () => {
    const prepared = await prepareImage(await jpeg(200, 100), 'image/jpeg', limits, thumbnailer)
    expect(prepared.thumbnail?.bytes).toBe(prepared.bytes)
  })

  it('should be refused when truncated', async () => {
    const original = await jpeg(64, 48)
    expect((await refusal(() => prepareImage(original.subarray(0, original.length - 40), 'image/jpeg', limits, thumbnailer))).code).toBe('malformed_image')
  })
})

describe('a PNG', () => {
  it('should lose its text, EXIF and time chunks and keep the rest', async () => {
    const prepared = await prepareImage(withPngMetadata(await png(400, 300)), 'image/png', limits, thumbnailer)
    expect(pngChunkTypes(prepared.bytes)).toEqual(pngChunkTypes(await png(400, 300)))
    expect(contains(prepared.bytes, 'secret')).toBe(false)
    expect([prepared.width, prepared.height]).toEqual([400, 300])
    expect(prepared.thumbnail).toMatchObject({ contentType: 'image/jpeg', width: 320, height: 240 })
  })

  it('should get a PNG thumbnail when it has transparency', async () => {
    const prepared = await prepareImage(await png(640, 320, true), 'image/png', limits, thumbnailer)
    expect(prepared.thumbnail).toMatchObject({ contentType: 'image/png', width: 320, height: 160 })
  })

  it('should refuse 20000×20000 pixels in a few KB at once, before decoding anything', async () => {
    const ihdr = new Uint8Array(13)
    new DataView(ihdr.buffer).setUint32(0, 20_000)
    new DataView(ihdr.buffer).setUint32(4, 20_000)
    ihdr[8] = 8 // 8-bit greyscale: 400 MB of pixels
    const bomb = new Uint8Array([...(await png(1, 1)).subarray(0, 8), ...pngChunk('IHDR', ihdr), ...pngChunk('IDAT', deflateSync(new Uint8Array(4_000_000))), ...pngChunk('IEND', new Uint8Array())])
    expect(bomb.length).toBeLessThan(10_000)
    const unused = new Thumbnailer()
    const started = performance.now()
    const refused = await refusal(() => prepareImage(bomb, 'image/png', limits, unused))
    expect(refused.code).toBe('image_too_large')
    expect(refused.status).toBe(413)
    expect(performance.now() - started).toBeLessThan(50)
    expect(unused.started).toBe(0)
  })

  it('should be refused when a chunk does not match its CRC', async () => {
    const bytes = await png(8, 8)
    bytes[20]! ^= 1 // inside IHDR
    expect((await refusal(() => prepareImage(bytes, 'image/png', limits, thumbnailer))).code).toBe('malformed_image')
  })
})

describe('a WebP', () => {
  it('should lose its EXIF and XMP chunks and their flags, with its RIFF size fixed', async () => {
    const original = withWebpMetadata(await webp(500, 250), 500, 250)
    expect(webpChunks(original)).toEqual(['VP8X', 'VP8 ', 'EXIF', 'XMP '])
    const prepared = await prepareImage(original, 'image/webp', limits, thumbnailer)
    expect(webpChunks(prepared.bytes)).toEqual(['VP8X', 'VP8 '])
    expect(prepared.bytes[20]! & 0x0c).toBe(0)
    expect(new DataView(prepared.bytes.buffer).getUint32(4, true)).toBe(prepared.bytes.length - 8)
    expect(contains(prepared.bytes, 'secret')).toBe(false)
    expect([prepared.width, prepared.height]).toEqual([500, 250])
    // Still a WebP its decoder reads.
    expect(prepared.thumbnail).toMatchObject({ contentType: 'image/jpeg', width: 320, height: 160 })
  })

  it('should measure lossy and lossless WebPs', async () => {
    expect(await prepareImage(await webp(123, 45), 'image/webp', limits, thumbnailer)).toMatchObject({ width: 123, height: 45 })
    expect(await prepareImage(await webp(77, 301, true), 'image/webp', limits, thumbnailer)).toMatchObject({ width: 77, height: 301 })
  })
})

describe('a GIF', () => {
  it('should lose its comment and XMP but keep looping, and be measured by its logical screen', async () => {
    const prepared = await prepareImage(gif(400, 10), 'image/gif', limits, thumbnailer)
    expect(contains(prepared.bytes, 'secret')).toBe(false)
    expect(contains(prepared.bytes, 'XMP')).toBe(false)
    expect(contains(prepared.bytes, 'NETSCAPE2.0')).toBe(true)
    expect([prepared.width, prepared.height]).toEqual([400, 10])
    // Its first frame, as a JPEG.
    expect(prepared.thumbnail).toMatchObject({ contentType: 'image/jpeg', width: 320, height: 8 })
  })

  it('should be refused when its trailer is missing', async () => {
    const bytes = gif(4, 2)
    expect((await refusal(() => prepareImage(bytes.subarray(0, bytes.length - 1), 'image/gif', limits, thumbnailer))).code).toBe('malformed_image')
  })
})

describe('the thumbnail workers', () => {
  it('should replace a worker whose memory passed the bound', async () => {
    const small = new Thumbnailer({ recycleAboveBytes: 1 })
    const image = await png(400, 300)
    for (let i = 0; i < 2; i++) expect((await prepareImage(image, 'image/png', limits, small)).thumbnail).not.toBeNull()
    expect(small.started).toBe(2)
    small.close()
  })

  it('should keep one worker across jobs while its memory stays small', async () => {
    const kept = new Thumbnailer()
    const image = await png(400, 300)
    const results = await Promise.all([1, 2, 3].map(() => prepareImage(image, 'image/png', limits, kept)))
    expect(results.every((r) => r.thumbnail !== null)).toBe(true)
    expect(kept.started).toBe(1)
    kept.close()
  })
})
