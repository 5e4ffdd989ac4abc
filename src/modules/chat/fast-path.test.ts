import { describe, expect, it } from 'bun:test'
import type { ServerWebSocket } from 'bun'
import { Elysia } from 'elysia'
import { type DirectHandlers, upgradeDirect } from './fast-path.ts'

// This fails when an Elysia upgrade stops calling a socket's own callbacks (see fast-path.ts): the
// chat socket relies on them.
describe('the WebSocket fast path', () => {
  it('should hand the socket its state and raw frames, and tell it of its close, straight from Bun', async () => {
    const events: string[] = []
    const closed = Promise.withResolvers<number>()
    const handlers: DirectHandlers<string> = {
      open(socket) {
        events.push(`open ${socket.data.state}`)
        // As the chat route does: the data replaced by an object whose prototype is the callbacks.
        ;(socket as ServerWebSocket<unknown>).data = Object.assign(Object.create(handlers), { state: 'opened' })
      },
      message: (socket, raw) => events.push(`${socket.data.state} ${String(raw)}`),
      close: (_socket, code) => closed.resolve(code),
    }
    const app = new Elysia()
      .route('WS', '/ws', ({ request, server }) => {
        if (!server || !upgradeDirect(server, request, 'admitted', handlers, { 'sec-websocket-protocol': 'chat' })) throw new Error('no upgrade')
      })
      .listen({ port: 0, hostname: '127.0.0.1' })
    try {
      const client = new WebSocket(`ws://127.0.0.1:${app.server!.port}/ws`, ['chat'])
      await new Promise((resolve) => client.addEventListener('open', resolve, { once: true }))
      expect(client.protocol).toBe('chat')
      client.send('{"type":"chat.typing"}')
      for (let i = 0; i < 100 && events.length < 2; i++) await Bun.sleep(5)
      client.close(1000)
      expect(await closed.promise).toBe(1000)
      // The raw text, not a parsed object, to the callbacks on the new data's prototype.
      expect(events).toEqual(['open admitted', 'opened {"type":"chat.typing"}'])
    } finally {
      await app.stop()
    }
  })
})
