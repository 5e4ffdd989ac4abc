import { AppError, badRequest, payloadTooLarge, problemResponse } from './errors.ts'

/** Deeper than any body this API takes (its deepest is an object holding a list of ids). */
export const MAX_JSON_DEPTH = 16

/**
 * True when a parsed JSON value nests deeper than `max`; looks no deeper than that. Deeply nested
 * input is cheap to send and costly to refuse: JSON.stringify of 30,000 nested arrays takes half a
 * second, and the validation layer stringifies what it refuses.
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (max === 0) return true
  for (const child of Array.isArray(value) ? value : Object.values(value)) if (nestedDeeperThan(child, max - 1)) return true
  return false
}

/** Refuses (400) a parsed body nested deeper than any this API takes, before validation walks it. */
export function checkBodyDepth(body: unknown): void {
  if (nestedDeeperThan(body, MAX_JSON_DEPTH)) throw badRequest('invalid_body', `The request body is nested more than ${MAX_JSON_DEPTH} levels deep.`)
}

/**
 * The request's body, read up to `maxBytes`: past that 413 `payload_too_large` before reading
 * further (a declared length is refused unread at the gate; this bounds a chunked body).
 */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array<ArrayBuffer>> {
  const tooLarge = () => payloadTooLarge(`The request body may be at most ${maxBytes} bytes.`)
  const declared = Number(request.headers.get('content-length') ?? Number.NaN)
  if (declared > maxBytes) throw tooLarge()
  if (!request.body) return new Uint8Array(0)
  const parts: Uint8Array[] = []
  let length = 0
  const reader = request.body.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    length += value.length
    if (length > maxBytes) {
      void reader.cancel().catch(() => {})
      throw tooLarge()
    }
    parts.push(value)
  }
  const body = new Uint8Array(length)
  let at = 0
  for (const part of parts) {
    body.set(part, at)
    at += part.length
  }
  return body
}

/**
 * 413 for a chunked request body (no Content-Length, so the gate could not measure it) longer than
 * `maxBytes`: a copy of its stream is read that far (Bun keeps what it read for the route). Nothing
 * for a body with a length, or none, or for `exceptPath`.
 */
export function refuseLongChunkedBody(request: Request, maxBytes: number, exceptPath: string): Promise<Response | undefined> | undefined {
  if (request.method === 'GET' || request.method === 'HEAD' || request.headers.has('content-length') || !request.body) return undefined
  // The route that reads its own body, bounded by its own limit (uploads).
  if (new URL(request.url).pathname === exceptPath) return undefined
  return readBody(request.clone(), maxBytes).then(
    () => undefined,
    (error: unknown) => {
      if (error instanceof AppError) return problemResponse(error)
      throw error
    },
  )
}
