import type { ChatErrorCode, Problem } from './types.ts'

/** A REST call the server (or the gateway in front of it) refused: the problem+json it answered. */
export class ChatApiError extends Error implements Problem {
  readonly type: string
  readonly title: string
  readonly status: number
  readonly detail: string
  /** The stable code to switch on (`not_a_member`, `room_not_found`, `validation_failed`, …). */
  readonly code: string
  /** Each invalid field, for validation errors. */
  readonly errors?: Problem['errors']
  /** Seconds the server asked to wait (`Retry-After`), when it said. */
  readonly retryAfter?: number

  constructor(problem: Problem, retryAfter?: number) {
    super(problem.detail || problem.title)
    this.name = 'ChatApiError'
    this.type = problem.type
    this.title = problem.title
    this.status = problem.status
    this.detail = problem.detail
    this.code = problem.code
    if (problem.errors) this.errors = problem.errors
    if (retryAfter !== undefined) this.retryAfter = retryAfter
  }
}

/** Why a message was not sent. */
export type SendFailure =
  | ChatErrorCode
  /** The connection stopped for good (removed, refused, …) before the server took it. */
  | 'stopped'
  /** The app closed the connection first (with an outbox storage, it is sent next time). */
  | 'closed'
  /** One of its files was not uploaded: `cause` says why (a `ChatApiError` such as 413, 415 `unsupported_type` or 429). */
  | 'upload_failed'

/** A `send()` that will not complete: the server refused the message or one of its files, or the connection ended. */
export class ChatSendError extends Error {
  /** With `upload_failed`: the upload's refusal (`ChatApiError`), or the network error it ended with. */
  declare readonly cause?: Error

  constructor(
    readonly code: SendFailure,
    message: string,
    cause?: Error,
  ) {
    super(message, cause ? { cause } : undefined)
    this.name = 'ChatSendError'
  }
}
