/**
 * `Content-Disposition` for a stored file (RFC 6266): `inline` or `attachment`, with the original
 * name twice, as a plain ASCII `filename` for old clients and as RFC 5987's `filename*` (UTF-8,
 * percent-encoded) that browsers prefer, so `보고서.pdf` downloads under its own name. Headers are
 * Latin-1, so the value is kept to ASCII.
 */
export function contentDisposition(disposition: 'inline' | 'attachment', name: string): string {
  // Path separators and control characters have no place in a name to save under.
  // A lone surrogate would make encodeURIComponent throw.
  const clean =
    name
      .toWellFormed()
      .replace(/[\u0000-\u001f\u007f/\\]/g, '_')
      .trim() || 'file'
  const ascii = clean.replace(/[^\u0020-\u007e]|["%]/g, '_')
  return `${disposition}; filename="${ascii}"; filename*=UTF-8''${encodeRfc5987(clean)}`
}

/** Percent-encodes all but RFC 5987's attr-chars (ALPHA DIGIT and `!#$&+-.^_\`|~`). */
function encodeRfc5987(text: string): string {
  return encodeURIComponent(text).replace(/['()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`)
}
