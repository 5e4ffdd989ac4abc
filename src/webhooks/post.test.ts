import { afterAll, describe, expect, it } from 'bun:test'
import { webhookPoster } from './post.ts'

describe('webhookPoster', () => {
  const seen: { url: string; eventId: string | null }[] = []
  // Stands for a forward proxy: an absolute-form request line names where the request is going.
  const proxy = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(request) {
      await request.arrayBuffer()
      seen.push({ url: request.url, eventId: request.headers.get('x-chat-event-id') })
      return new Response(null, { status: 202 })
    },
  })
  afterAll(() => proxy.stop(true))

  it('should send webhooks to an http:// URL through HTTP_PROXY when it is set', async () => {
    const poster = webhookPoster('http://receiver.invalid/hook', 2000, `http://127.0.0.1:${proxy.port}`)
    expect(await poster.post({ 'x-chat-event-id': 'e1' }, '{}')).toEqual({ status: 202, retryAfter: null })
    expect(seen).toEqual([{ url: 'http://receiver.invalid/hook', eventId: 'e1' }])
  })

  it('should not follow a redirect: a 3xx is the answer', async () => {
    const redirecting = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => Response.redirect('http://elsewhere.invalid/', 307) })
    try {
      for (const proxied of [undefined, `http://127.0.0.1:${redirecting.port}`]) {
        const poster = webhookPoster(`http://127.0.0.1:${redirecting.port}/hook`, 2000, proxied)
        expect((await poster.post({}, '{}')).status).toBe(307)
        poster.close()
      }
    } finally {
      redirecting.stop(true)
    }
  })
})
