import { Http1Client, RequestFailed, type PostAnswer } from './http1.ts'

export { RequestFailed, type PostAnswer } from './http1.ts'

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
        await res.arrayBuffer().catch(() => {})
        return { status: res.status, retryAfter: res.headers.get('retry-after') }
      } catch (error) {
        if (error instanceof Error && error.name === 'TimeoutError') throw new RequestFailed('no answer in time', 'TimeoutError')
        throw new RequestFailed(`request failed: ${error instanceof Error ? error.message : String(error)}`)
      }
    },
    close() {},
  }
}
