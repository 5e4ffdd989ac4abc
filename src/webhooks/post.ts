import { Http1Client } from './http1.ts'
import { RequestFailed, type PostAnswer } from './response-reader.ts'

export { RequestFailed } from './response-reader.ts'

/**
 * Most of an answer's body read over fetch. Only the status matters; a short body is read to its
 * end so the connection can be reused, a longer one (of any size the receiver likes) is cancelled.
 */
const MAX_FETCH_BODY_BYTES = 64 * 1024

/** Sends one webhook request: `post` answers with the status and Retry-After, or rejects with RequestFailed. */
export interface WebhookPoster {
  post(headers: Record<string, string>, body: string): Promise<PostAnswer>
  close(): void
}

/**
 * How webhooks go out. To an http:// URL: over the server's own keep-alive connections
 * (http1.ts), at a fraction of fetch's cost per request, or with fetch through `proxy`
 * (HTTP_PROXY) when one is set. To an https:// URL: with fetch, which verifies certificates and
 * honours HTTPS_PROXY and NO_PROXY. Redirects are never followed: a 3xx is an answer like any other.
 */
export function webhookPoster(url: string, timeoutMs: number, proxy: string | undefined): WebhookPoster {
  const target = new URL(url)
  if (target.protocol === 'http:' && !proxy) {
    const client = new Http1Client(target)
    return { post: (headers, body) => client.post(headers, body, timeoutMs), close: () => client.close() }
  }
  return {
    async post(headers, body) {
      try {
        const res = await fetch(url, { method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), ...(proxy && target.protocol === 'http:' ? { proxy } : {}) })
        await skipBody(res)
        return { status: res.status, retryAfter: res.headers.get('retry-after') }
      } catch (error) {
        if (error instanceof Error && error.name === 'TimeoutError') throw new RequestFailed('no answer in time', 'TimeoutError')
        throw new RequestFailed(`request failed: ${error instanceof Error ? error.message : String(error)}`)
      }
    },
    close() {},
  }
}

/** Reads and drops up to MAX_FETCH_BODY_BYTES of a body, then cancels the rest; a body that fails or times out changes nothing. */
async function skipBody(res: Response): Promise<void> {
  if (!res.body) return
  const reader = res.body.getReader()
  try {
    for (let read = 0; read <= MAX_FETCH_BODY_BYTES; ) {
      const { done, value } = await reader.read()
      if (done) return
      read += value.byteLength
    }
    await reader.cancel()
  } catch {
    // The status came; the body's failure is not the request's.
  }
}
