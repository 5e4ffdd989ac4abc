import type { Socket } from 'bun'
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

  it('should answer with the status of an endless body, reading only a prefix of it and closing the connection', async () => {
    // Stands for a proxy (or receiver) that answers, then sends body bytes as fast as they go, for ever.
    const junk = Buffer.alloc(64 * 1024, 'j')
    let closed = 0
    let written = 0
    /** Writes the body until the socket pushes back (what did not go is not sent: it is all the same byte); `drain` calls it again. */
    const pump = (socket: Socket<{ answered: boolean }>) => {
      while (socket.data.answered && socket.readyState === 1) {
        const sent = socket.write(junk)
        written += Math.max(0, sent)
        if (sent < junk.length) return
      }
    }
    const endless = Bun.listen<{ answered: boolean }>({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        open: (socket) => void (socket.data = { answered: false }),
        data(socket) {
          if (socket.data.answered) return
          socket.data.answered = true
          socket.write('HTTP/1.1 503 Busy\r\nRetry-After: 5\r\nContent-Length: 1000000000000\r\n\r\n')
          pump(socket)
        },
        drain: pump,
        close: () => void closed++,
      },
    })
    try {
      Bun.gc(true)
      const before = process.memoryUsage.rss()
      const poster = webhookPoster('http://receiver.invalid/hook', 3000, `http://127.0.0.1:${endless.port}`)
      const started = Date.now()
      for (let i = 0; i < 5; i++) expect(await poster.post({}, '{}')).toEqual({ status: 503, retryAfter: '5' })
      expect(Date.now() - started).toBeLessThan(2500)
      for (let i = 0; i < 100 && closed < 5; i++) await Bun.sleep(10)
      expect(closed).toBe(5)
      // Sockets take a few megabytes before they push back; nothing near what an endless body would be.
      expect(written).toBeLessThan(5 * 32 * 1024 * 1024)
      expect(process.memoryUsage.rss() - before).toBeLessThan(50 * 1024 * 1024)
    } finally {
      endless.stop(true)
    }
  }, 20_000)
})
