/** Draws benchmark ratios as a horizontal bar chart in plain SVG (no dependencies). */
export interface ChartRow {
  label: string
  chat: number
  baseline: number
  ratio: number
  higherIsBetter: boolean
}

const escapeXml = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function drawChart(rows: ChartRow[], title: string): string {
  const left = 290
  const barWidth = 420
  const rowHeight = 28
  const top = 56
  const height = top + rows.length * rowHeight + 40
  const max = Math.max(2, ...rows.map((r) => r.ratio))
  const x = (ratio: number) => left + (Math.min(ratio, max) / max) * barWidth
  const bars = rows.map((row, i) => {
    const y = top + i * rowHeight
    // Green where the chat server is at least as good as the ceiling, amber within 1.5x, red beyond.
    const goodness = row.higherIsBetter ? row.ratio : 1 / row.ratio
    const colour = goodness >= 0.8 ? '#2f9e44' : goodness >= 1 / 1.5 ? '#f08c00' : '#e03131'
    return [
      `<text x="${left - 8}" y="${y + 17}" text-anchor="end">${escapeXml(row.label)}</text>`,
      `<rect x="${left}" y="${y + 4}" width="${x(row.ratio) - left}" height="${rowHeight - 10}" fill="${colour}" rx="2"/>`,
      `<text x="${x(row.ratio) + 6}" y="${y + 17}">${row.ratio.toFixed(2)}x ${row.higherIsBetter ? '(higher is better)' : '(lower is better)'}</text>`,
    ].join('')
  })
  const one = x(1)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${left + barWidth + 200}" height="${height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#fff"/>
<text x="16" y="24" font-size="15" font-weight="bold">${escapeXml(title)}</text>
<text x="16" y="42" fill="#555">ratio = chat server / bare Bun.serve ceiling (storage: / raw SQLite inserts)</text>
${bars.join('\n')}
<line x1="${one}" y1="${top - 4}" x2="${one}" y2="${height - 30}" stroke="#333" stroke-dasharray="4 3"/>
<text x="${one}" y="${height - 14}" text-anchor="middle">1.0x</text>
</svg>
`
}
