/**
 * The runtime's ceiling: a bare Bun.serve pub/sub server that speaks the chat protocol
 * (same URL, same frames) with no storage, no validation and no framework.
 * Prints `LISTENING <port>` once ready.
 */
let nextId = 1
const server = Bun.serve<{ room: string; userId: string; nickname: string; email: string }>({
  port: Number(process.env.PORT ?? 0),
  hostname: '127.0.0.1',
  fetch(request, server) {
    const url = new URL(request.url)
    const match = /^\/ws\/chat\/(\d+)\/chat\/?$/.exec(url.pathname)
    if (!match) return new Response('not found', { status: 404 })
    const q = url.searchParams
    const data = { room: match[1]!, userId: q.get('user_id') ?? '', nickname: q.get('nickname') ?? '', email: q.get('email') ?? '' }
    return server.upgrade(request, { data }) ? undefined : new Response('upgrade failed', { status: 400 })
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      ws.subscribe(`room:${ws.data.room}`)
    },
    message(ws, raw) {
      const frame = JSON.parse(String(raw)) as { type: string; message: string; client_msg_id?: string }
      if (frame.type !== 'chat.message') return
      server.publish(
        `room:${ws.data.room}`,
        JSON.stringify({
          type: 'chat.message',
          message: frame.message,
          sender: ws.data.email,
          nickname: ws.data.nickname,
          profile_picture_url: null,
          id: nextId++,
          room: Number(ws.data.room),
          user_id: ws.data.userId,
          created_at: new Date().toISOString(),
          client_msg_id: frame.client_msg_id ?? null,
        }),
      )
    },
  },
})
console.log(`LISTENING ${server.port}`)
