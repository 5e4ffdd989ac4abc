import { beforeAll, describe, expect, it } from 'bun:test'
import fc from 'fast-check'
import { gif, jpeg, png, webp, withJpegMetadata, withPngMetadata, withWebpMetadata } from './image-fixtures.ts'
import { ImageRefused, prepareImage, sniff, Thumbnailer } from './image.ts'

// Damaged images of every format: the parsers must refuse them with ImageRefused (or accept
// them), never throw anything else, never read past the buffer, and always finish. A failure
// prints fast-check's seed and path; replay with fc.assert(..., { seed, path }).

const limits = { maxPixels: 1_000_000 }
/** The parsers alone: the thumbnail is not what these runs check. */
const noThumbnail: Pick<Thumbnailer, 'make'> = { make: async () => null }

const seeds: Record<string, Uint8Array> = {}
beforeAll(async () => {
  seeds['image/jpeg'] = withJpegMetadata(await jpeg(40, 30), 6)
  seeds['image/png'] = withPngMetadata(await png(40, 30, true))
  seeds['image/webp'] = withWebpMetadata(await webp(40, 30), 40, 30)
  seeds['image/gif'] = gif(40, 30)
})

/** One damage: truncated, bits flipped, random bytes inserted or written over, a slice repeated. */
const damage: fc.Arbitrary<(bytes: Uint8Array) => Uint8Array> = fc.oneof(
  fc.nat().map((at) => (bytes: Uint8Array) => bytes.subarray(0, at % bytes.length)),
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 8 }).map((flips) => (bytes: Uint8Array) => {
    const out = bytes.slice()
    for (const [at, bit] of flips) out[at % out.length]! ^= 1 << bit
    return out
  }),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 })).map(([at, junk]) => (bytes: Uint8Array) => {
    const i = at % bytes.length
    return new Uint8Array([...bytes.subarray(0, i), ...junk, ...bytes.subarray(i)])
  }),
  fc.tuple(fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 16 })).map(([at, junk]) => (bytes: Uint8Array) => {
    const out = bytes.slice()
    const i = at % out.length
    out.set(junk.subarray(0, out.length - i), i)
    return out
  }),
  fc.tuple(fc.nat(), fc.nat(), fc.nat()).map(([from, length, to]) => (bytes: Uint8Array) => {
    const start = from % bytes.length
    const slice = bytes.subarray(start, start + (length % 200))
    const i = to % bytes.length
    return new Uint8Array([...bytes.subarray(0, i), ...slice, ...bytes.subarray(i)])
  }),
)

/** The seed of `type` with one to three damages in a row (a damage to nothing leaves nothing). */
const damaged = (type: string) => fc.array(damage, { minLength: 1, maxLength: 3 }).map((damages) => damages.reduce((bytes, hurt) => (bytes.length === 0 ? bytes : hurt(bytes)), seeds[type]!))

async function onlyRefused(bytes: Uint8Array, type: string, thumbnailer = noThumbnail): Promise<void> {
  expect(() => sniff(bytes)).not.toThrow()
  try {
    const prepared = await prepareImage(bytes, type, limits, thumbnailer)
    expect(prepared.width * prepared.height).toBeLessThanOrEqual(limits.maxPixels)
  } catch (error) {
    if (!(error instanceof ImageRefused)) throw error
  }
}

describe('damaged images', () => {
  for (const type of ['image/jpeg', 'image/png', 'image/webp', 'image/gif']) {
    it(`should only ever be refused with ImageRefused (${type})`, async () => {
      await fc.assert(
        fc.asyncProperty(damaged(type), (bytes) => onlyRefused(bytes, type)),
        { numRuns: 2000 },
      )
    })
  }

  // Slower: each run that passes the parser is decoded on the worker.
  it('should give no more than a missing thumbnail when they reach the codecs', async () => {
    const thumbnailer = new Thumbnailer({ timeoutMs: 10_000 })
    try {
      for (const type of Object.keys(seeds)) {
        await fc.assert(
          fc.asyncProperty(damaged(type), (bytes) => onlyRefused(bytes, type, thumbnailer)),
          { numRuns: 40 },
        )
      }
    } finally {
      thumbnailer.close()
    }
  }, 60_000)
})
