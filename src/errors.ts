/** One field that failed validation, as listed in a problem's `errors`. */
export interface FieldError {
  path: string
  message: string
}

/** RFC 9457 problem details, with the stable `code` clients switch on. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: string
  errors?: FieldError[]
  /** Seconds until the request may succeed (slow mode, a mute with an end), as Retry-After says. */
  retry_after?: number
}

/** An error that maps to one HTTP status and one stable code. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
    /** Extra response headers (say, Retry-After). */
    readonly headers?: Record<string, string>,
  ) {
    super(detail)
    this.name = 'AppError'
  }

  toProblem(): Problem {
    const problem: Problem = {
      type: `urn:chat:problem:${this.code}`,
      title: this.title,
      status: this.status,
      detail: this.message,
      code: this.code,
    }
    if (this.errors) problem.errors = this.errors
    const retryAfter = this.headers?.['retry-after']
    if (retryAfter !== undefined) problem.retry_after = Number(retryAfter)
    return problem
  }
}

export const badRequest = (code: string, detail: string, errors?: FieldError[]) => new AppError(400, code, 'Bad Request', detail, errors)
export const unprocessable = (detail: string, errors: FieldError[]) => new AppError(422, 'validation_failed', 'Unprocessable Content', detail, errors)
export const unauthorized = (code: string, detail: string) => new AppError(401, code, 'Unauthorized', detail)
export const forbidden = (code: string, detail: string) => new AppError(403, code, 'Forbidden', detail)
export const conflict = (code: string, detail: string) => new AppError(409, code, 'Conflict', detail)
export const notFound = (code: string, detail: string) => new AppError(404, code, 'Not Found', detail)
/** 413 `payload_too_large`: a body longer than its route takes (refused unread, or cut where the limit was passed). */
/** A room that takes no writes from users now (store.ts RoomClosedError), as REST answers it; sockets get the same code. */
export const roomClosed = ({ code }: { code: 'room_archived' | 'peer_left' | 'blocked' }) => {
  if (code === 'blocked') return forbidden('blocked', 'One of the two people in this direct room has blocked the other; messages cannot be sent or changed here.')
  return conflict(code, code === 'room_archived' ? 'This room is archived: it can be read, not written.' : 'The other member left this direct room: no more messages can be sent here.')
}

/** A write refused by moderation (store.ts SanctionedError, SlowModeError), as REST answers it; sockets get the same code. */
export function moderated(error: { code: 'muted' | 'banned' | 'slow_mode'; retryAfterMs?: number; until?: number | null }, now: number): AppError {
  if (error.code === 'slow_mode') {
    const seconds = Math.max(1, Math.ceil((error.retryAfterMs ?? 0) / 1000))
    return tooMany('slow_mode', `This room is in slow mode: the next message may go in ${seconds} s.`, seconds)
  }
  if (error.code === 'banned') return forbidden('banned', 'You are banned from this room.')
  const until = error.until ?? null
  const headers = until === null ? undefined : { 'retry-after': String(Math.max(1, Math.ceil((until - now) / 1000))) }
  return new AppError(403, 'muted', 'Forbidden', until === null ? 'You are muted in this room: you can read it, not write to it.' : `You are muted in this room until ${new Date(until).toISOString()}.`, undefined, headers)
}

/** 422 `filtered`: a word filter refuses the text (`field`: where it was). */
export const filtered = (field: string) => new AppError(422, 'filtered', 'Unprocessable Content', 'The text has a word this service does not allow.', [{ path: field, message: 'refused by a word filter' }])

export const payloadTooLarge = (detail: string) => new AppError(413, 'payload_too_large', 'Content Too Large', detail)
export const unavailable = (code: string, detail: string) => new AppError(503, code, 'Service Unavailable', detail)
export const tooMany = (code: string, detail: string, retryAfterSeconds?: number) =>
  new AppError(429, code, 'Too Many Requests', detail, undefined, retryAfterSeconds === undefined ? undefined : { 'retry-after': String(retryAfterSeconds) })

/** Serialises a problem as an `application/problem+json` response. */
export function problemResponse(error: AppError): Response {
  return new Response(JSON.stringify(error.toProblem()), {
    status: error.status,
    headers: { 'content-type': 'application/problem+json', ...error.headers },
  })
}

/** Turns zod-style issues into the `errors` list of a problem. */
export function fieldErrors(issues: readonly { path?: readonly PropertyKey[] | readonly { key: PropertyKey }[]; message: string }[]): FieldError[] {
  return issues.map((issue) => ({
    path: issue.path && issue.path.length > 0 ? issue.path.map((p) => (typeof p === 'object' && p !== null && 'key' in p ? String(p.key) : String(p))).join('.') : '(root)',
    message: issue.message,
  }))
}
