/**
 * A webhook receiver, as a process of its own: records every request (raw body and headers) and
 * answers as told. Run: `bun test/support/webhook-receiver.ts <port>`; prints LISTENING <port>.
 *   POST /hook       a webhook; answered by the next scripted reply, else 200
 *   POST /script     [{status?, retryAfter?, delayMs?}, …]: the next replies, in order
 *   GET  /received   every webhook so far: [{body, id, signature, at}]; ?from=n: from the nth on
 */
type Reply = { status?: number; retryAfter?: string; delayMs?: number }
const received: { body: string; id: string | null; count: string | null; signature: string | null; at: number }[] = []
let script: Reply[] = []
let always: Reply | null = null

const server = Bun.serve({
  port: Number(process.argv[2] ?? 0),
  hostname: '127.0.0.1',
  idleTimeout: 60,
  async fetch(request) {
    const url = new URL(request.url)
    const path = url.pathname
    if (path === '/hook') {
      const body = await request.text()
      received.push({ body, id: request.headers.get('x-chat-event-id'), count: request.headers.get('x-chat-event-count'), signature: request.headers.get('x-chat-signature'), at: Date.now() })
      const reply = script.shift() ?? always ?? {}
      if (reply.delayMs) await Bun.sleep(reply.delayMs)
      return new Response('ok', { status: reply.status ?? 200, headers: reply.retryAfter ? { 'retry-after': reply.retryAfter } : {} })
    }
    if (path === '/script') {
      const body = (await request.json()) as { replies?: Reply[]; always?: Reply | null }
      script = body.replies ?? []
      always = body.always ?? null
      return new Response('ok')
    }
    if (path === '/received') return Response.json(received.slice(Number(url.searchParams.get('from') ?? 0)))
    return new Response('not found', { status: 404 })
  },
})
console.log(`LISTENING ${server.port}`)
export {}
