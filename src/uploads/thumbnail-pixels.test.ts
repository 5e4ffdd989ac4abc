import { describe, expect, it } from 'bun:test'
import { GifReader, GifWriter } from 'omggif'
import { areaDownscale } from './downscale.ts'
import { gifFirstFrame } from './gif-frame.ts'

/** A one-frame GIF of `indexes` in a palette of `colours`, written by omggif. */
function gifOf(width: number, height: number, colours: number, indexes: number[], transparent?: number): Uint8Array {
  const palette = Array.from({ length: colours }, (_, i) => (i * 2654435761) & 0xffffff)
  const buffer = new Uint8Array(width * height * 3 + 4096)
  const writer = new GifWriter(buffer, width, height, { palette })
  writer.addFrame(0, 0, width, height, indexes, { transparent })
  return buffer.slice(0, writer.end())
}

describe('gifFirstFrame', () => {
  it('should draw the same pixels as omggif for frames of every palette size, noisy or in runs', () => {
    let seed = 7
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
    for (let k = 0; k < 120; k++) {
      const width = 1 + Math.floor(random() * 150)
      const height = 1 + Math.floor(random() * 150)
      const colours = [2, 4, 16, 256][k % 4]!
      const indexes = Array.from({ length: width * height }, (_, i) => (k % 2 ? Math.floor(random() * colours) : Math.floor(i / 37) % colours))
      const bytes = gifOf(width, height, colours, indexes, k % 3 === 0 ? 1 : undefined)
      const reference = new Uint8Array(width * height * 4)
      new GifReader(bytes).decodeAndBlitFrameRGBA(0, reference)
      expect(Buffer.compare(Buffer.from(gifFirstFrame(bytes).data), Buffer.from(reference))).toBe(0)
    }
  })

  it('should end a frame whose LZW codes name themselves, where omggif would loop forever', () => {
    // Codes clear, 0, 7, 7, 7: the second 7 is stored as its own prefix.
    const loop = Uint8Array.from(Buffer.from('47494638396108000800800000000000ffffff2c0000000008000800000203c47f05003b', 'hex'))
    const started = performance.now()
    expect(gifFirstFrame(loop).data.length).toBe(8 * 8 * 4)
    expect(performance.now() - started).toBeLessThan(1000)
  })
})

describe('areaDownscale', () => {
  it('should average the area each output pixel covers', () => {
    // Four 2×2 blocks: black, white, red, and half-transparent green.
    const source = new Uint8Array(4 * 4 * 4)
    const paint = (x: number, y: number, rgba: number[]) => source.set(rgba, (y * 4 + x) * 4)
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) paint(x, y, x < 2 ? (y < 2 ? [0, 0, 0, 255] : [255, 0, 0, 255]) : y < 2 ? [255, 255, 255, 255] : [0, 255, 0, 128])
    expect([...areaDownscale(source, 4, 4, 2, 2, false)]).toEqual([0, 0, 0, 255, 255, 255, 255, 255, 255, 0, 0, 255, 0, 255, 0, 255])
    expect([...areaDownscale(source, 4, 4, 2, 2, true)].slice(12)).toEqual([0, 255, 0, 128])
    // A transparent pixel's colour does not bleed into its opaque neighbours.
    const edge = Uint8Array.from([255, 0, 0, 0, 0, 0, 255, 255])
    expect([...areaDownscale(edge, 2, 1, 1, 1, true)]).toEqual([0, 0, 255, 128])
  })
})
