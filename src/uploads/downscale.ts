/**
 * Scales RGBA pixels down by averaging the area each output pixel covers (a box filter, the right
 * one for large reductions), in one pass over the source rows. Done in JavaScript on the decoded
 * pixels themselves: the WebAssembly resizer this replaces first copied them into its own memory,
 * a third copy of a photo's pixels (196 MB for 49 megapixels) that its memory then kept.
 * With `alpha`, colours are averaged weighted by their opacity, so transparent pixels' colours do
 * not bleed into the edges.
 */
export function areaDownscale(source: Uint8Array | Uint8ClampedArray, sourceWidth: number, sourceHeight: number, width: number, height: number, alpha: boolean): Uint8Array {
  const out = new Uint8Array(width * height * 4)
  // Which output column each source column falls in.
  const columnOf = new Uint32Array(sourceWidth)
  for (let x = 0; x < sourceWidth; x++) columnOf[x] = Math.min(width - 1, Math.floor((x * width) / sourceWidth))
  const sums = new Float64Array(width * 4)
  const counts = new Float64Array(width)
  let row = 0
  const flush = () => {
    for (let c = 0; c < width; c++) {
      const n = counts[c]!
      const at = c * 4
      const o = (row * width + c) * 4
      const weight = alpha ? sums[at + 3]! : n
      if (weight > 0) {
        out[o] = Math.round(sums[at]! / weight)
        out[o + 1] = Math.round(sums[at + 1]! / weight)
        out[o + 2] = Math.round(sums[at + 2]! / weight)
      }
      out[o + 3] = n > 0 ? Math.round((alpha ? sums[at + 3]! : 255 * n) / n) : 0
    }
    sums.fill(0)
    counts.fill(0)
  }
  for (let y = 0; y < sourceHeight; y++) {
    const target = Math.min(height - 1, Math.floor((y * height) / sourceHeight))
    if (target !== row) {
      flush()
      row = target
    }
    let i = y * sourceWidth * 4
    for (let x = 0; x < sourceWidth; x++, i += 4) {
      const at = columnOf[x]! * 4
      if (alpha) {
        const a = source[i + 3]!
        sums[at]! += source[i]! * a
        sums[at + 1]! += source[i + 1]! * a
        sums[at + 2]! += source[i + 2]! * a
        sums[at + 3]! += a
      } else {
        sums[at]! += source[i]!
        sums[at + 1]! += source[i + 1]!
        sums[at + 2]! += source[i + 2]!
      }
      counts[columnOf[x]!]!++
    }
  }
  flush()
  return out
}
