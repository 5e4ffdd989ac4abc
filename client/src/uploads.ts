// Photos and files: `POST /chat/v1/uploads/` with the raw bytes (named by `?name=`), its progress
// followed where the platform can (a browser's XMLHttpRequest; fetch reports none), and the
// uploads of a room's sends, one message's files after another's.
import { backoffDelay } from './backoff.ts'
import { ChatSendError } from './errors.ts'
import { problemOf, type AuthSignal, type FetchResponse, type Transport } from './http.ts'
import type { Attachment } from './types.ts'

/** A file as browsers and Bun hold one (`File`, `Blob`): its size, its type and, for a `File`, its name. */
export interface FileLike {
  readonly size: number
  readonly type: string
  readonly name?: string
}

/**
 * What can be uploaded: a browser `File`, or a `Blob` or bytes with the name to give them (and
 * their type, else the Blob's own; the server judges the type from the bytes either way).
 */
export type UploadSource = FileLike | { readonly data: Uint8Array | FileLike; readonly name: string; readonly type?: string }

/** An upload as the server stored it: what a message's attachment shows (its URLs signed, for an hour by default). */
export type Upload = Attachment

/** How far an upload is, in bytes. */
export interface UploadProgress {
  loaded: number
  total: number
}

/** How `api.upload()` reports and stops. */
export interface UploadOptions {
  /**
   * Called as the bytes go out: in browsers as XMLHttpRequest reports them; elsewhere (fetch)
   * at the start and at the end only.
   */
  onProgress?: (progress: UploadProgress) => void
  /** Stops the upload (an `AbortSignal`). */
  signal?: AuthSignal
}

/** A file of a message being sent, as far as its upload has gone (the room's `upload` event). */
export interface FileProgress extends UploadProgress {
  /** The pending message it goes with. */
  client_msg_id: string
  /** Which of the message's files, in the order given (0 first). */
  index: number
  name: string
}

const UPLOADS_PATH = '/chat/v1/uploads/'
/** Tries after the first, for a network failure or a 5xx: a phone's network drops for a moment. */
const RETRIES = 2
const RETRY_BACKOFF = { baseMs: 500, capMs: 4_000 }

/** A source's bytes, name, type and size. */
export function fileOf(source: UploadSource): { body: Uint8Array | FileLike; name: string; type: string; size: number } {
  const { data, name, type } = 'data' in source ? source : { data: source, name: source.name, type: source.type }
  const bytes = data instanceof Uint8Array
  return { body: data, name: name || 'file', type: type || (bytes ? '' : data.type) || 'application/octet-stream', size: bytes ? data.byteLength : data.size }
}

/**
 * Uploads one file; resolves with the stored upload. Asks the auth hook for credentials (again
 * once after a 401), tries again after a network failure or a 5xx, and throws `ChatApiError` on a
 * refusal (413 too large, 415 `unsupported_type`, 429 over the day's quota with `retryAfter`, 422).
 */
export async function upload(transport: Transport, source: UploadSource, { onProgress, signal }: UploadOptions = {}): Promise<Upload> {
  const file = fileOf(source)
  const url = transport.url(UPLOADS_PATH, { name: file.name })
  let auth = await transport.authorize()
  let refreshed = false
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw new Error('the upload was stopped')
    const headers = { ...transport.headers(auth), 'content-type': file.type }
    let response: FetchResponse | null = null
    let failure: unknown = null
    try {
      if (transport.xhr) response = await postWithProgress(url, headers, file, onProgress, signal)
      else {
        onProgress?.({ loaded: 0, total: file.size })
        response = await transport.postBytes(url, headers, file.body, signal)
      }
    } catch (error) {
      failure = error
    }
    if (response?.status === 401 && !refreshed) {
      // Nothing was stored with a 401: the same bytes again, with fresh credentials.
      refreshed = true
      auth = await transport.authorize({ refresh: true, refused: await problemOf(response) })
      continue
    }
    if ((!response || response.status >= 500) && attempt < RETRIES) {
      await new Promise((resolve) => setTimeout(resolve, backoffDelay(attempt, RETRY_BACKOFF)))
      continue
    }
    if (!response) throw failure
    if (!response.ok) throw await problemOf(response)
    onProgress?.({ loaded: file.size, total: file.size })
    return JSON.parse(await response.text()) as Upload
  }
}

/** One POST through XMLHttpRequest, whose upload reports its progress (fetch's does not). */
function postWithProgress(url: string, headers: Record<string, string>, file: ReturnType<typeof fileOf>, onProgress: UploadOptions['onProgress'], signal: AuthSignal | undefined): Promise<FetchResponse> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', url)
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value)
    xhr.upload.onprogress = (event) => onProgress?.({ loaded: event.loaded, total: event.lengthComputable ? event.total : file.size })
    xhr.onload = () => resolve({ status: xhr.status, ok: xhr.status >= 200 && xhr.status < 300, headers: { get: (name) => xhr.getResponseHeader(name) }, text: async () => xhr.responseText })
    xhr.onerror = xhr.onabort = () => reject(new TypeError(`the upload of ${file.name} failed: no answer from the server`))
    signal?.addEventListener('abort', () => xhr.abort())
    onProgress?.({ loaded: 0, total: file.size })
    xhr.send(file.body as Blob)
  })
}

/**
 * The uploads of a room's sends: each message's files one after another, reported as they go,
 * all stopped when the room closes.
 */
export class SendUploads {
  private readonly stopping = new AbortController()

  constructor(
    private readonly upload: (source: UploadSource, options: UploadOptions) => Promise<Upload>,
    private readonly progress: (progress: FileProgress) => void,
  ) {}

  /**
   * Uploads a message's files in order; resolves with their uploads. Rejects with `ChatSendError`:
   * `upload_failed` (its `cause` the refusal) or, once the room closed, `closed`.
   */
  async run(clientMsgId: string, files: readonly UploadSource[]): Promise<Upload[]> {
    const uploads: Upload[] = []
    for (const [index, source] of files.entries()) {
      const { name } = fileOf(source)
      const onProgress = ({ loaded, total }: UploadProgress) => this.progress({ client_msg_id: clientMsgId, index, name, loaded, total })
      try {
        uploads.push(await this.upload(source, { onProgress, signal: this.stopping.signal }))
      } catch (error) {
        if (this.stopping.signal.aborted) throw new ChatSendError('closed', 'the connection was closed before the files were uploaded')
        const cause = error instanceof Error ? error : new Error(String(error))
        throw new ChatSendError('upload_failed', `${name} was not uploaded: ${cause.message}`, cause)
      }
    }
    return uploads
  }

  /** Stops every upload under way (the room closed or stopped). */
  stop(): void {
    this.stopping.abort()
  }
}
