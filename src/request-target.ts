/**
 * The request target in its one canonical form, read the way the router reads it.
 *
 * Bun hands the application `request.url` as `http://<Host header><path>[?query]`, with `\`
 * already turned into `/` and dot segments already resolved (a raw `/docs\..\chat` arrives as
 * `/chat`). Elysia then finds the path from an offset in that string rather than by parsing it,
 * so whatever decides about a request must read the same string the same way. This does, and
 * refuses what has more than one reading: a Host that is not a host name (Bun then gives a relative
 * URL), encoded slashes, backslashes, dots or NULs, empty segments, a fragment.
 */

/** Where the path starts in a request URL: right after `http://<host>`, as the router is set to find it. */
const PATH_OFFSET = 'http://'.length

/** A host name, IPv4 address or bracketed IPv6 address, with an optional port. */
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/
/**
 * A canonical absolute path: segments of unreserved and sub-delimiter characters and percent
 * escapes, none of them empty, `.` or `..`, and no escape of `/`, `\`, `.`, or a control character.
 */
const PATH_CHARS = /^(?:\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})+)*\/?$/
const BAD_ESCAPE = /%(?:2[Ff]|5[Cc]|2[Ee]|[01][0-9A-Fa-f]|7[Ff])/
const DOT_SEGMENT = /\/\.{1,2}(?:\/|$)/

/** A canonical request target: the host as addressed, the path the router will route, the query. */
interface RequestTarget {
  host: string
  path: string
  /** Without the `?`; '' when there is none. */
  query: string
}

export type TargetVerdict = { ok: true; target: RequestTarget } | { ok: false; code: 'invalid_host' | 'non_canonical_path'; detail: string }

/** Reads `request.url` as the router will; refuses any target with a second reading. */
export function readTarget(url: string): TargetVerdict {
  if (!url.startsWith('http://')) return { ok: false, code: 'invalid_host', detail: 'The Host header must be a host name, with an optional port.' }
  const slash = url.indexOf('/', PATH_OFFSET)
  const host = url.slice(PATH_OFFSET, slash === -1 ? undefined : slash)
  if (slash === -1 || !HOST.test(host)) return { ok: false, code: 'invalid_host', detail: 'The Host header must be a host name, with an optional port.' }
  const q = url.indexOf('?', slash)
  const path = q === -1 ? url.slice(slash) : url.slice(slash, q)
  if (url.includes('#') || !PATH_CHARS.test(path) || BAD_ESCAPE.test(path) || DOT_SEGMENT.test(path)) {
    return { ok: false, code: 'non_canonical_path', detail: 'The path must be in canonical form: no encoded slashes, backslashes, dots or control characters, no empty or dot segments.' }
  }
  return { ok: true, target: { host, path, query: q === -1 ? '' : url.slice(q + 1) } }
}
