import { describe, expect, it } from 'bun:test'
import { Elysia } from 'elysia'
import { adopt } from './fast-path.ts'

// This fails when an Elysia upgrade changes the shape the fast path relies on: the chat socket
// would then still work, through Elysia's own handlers, but slower (see fast-path.ts).
describe('the WebSocket fast path', () => {
  it("should take a socket's frames and close straight from Bun on this Elysia", async () => {
    const adopted: boolean[] = []
    const direct: string[] = []
    const throughElysia: unknown[] = []
    const closed = Promise.withResolvers<number>()
    const app = new Elysia()
      .ws('/ws', {
        open(ws) {
          adopted.push(adopt(ws, { kept: true }, { message: (_socket, raw) => direct.push(String(raw)), close: (_socket, code) => closed.resolve(code) }))
        },
        message(_ws, data) {
          throughElysia.push(data)
        },
      })
      .listen({ port: 0, hostname: '127.0.0.1' })
    try {
      const client = new WebSocket(`ws://127.0.0.1:${app.server!.port}/ws`)
      await new Promise((resolve) => client.addEventListener('open', resolve, { once: true }))
      client.send('{"type":"chat.typing"}')
      for (let i = 0; i < 100 && direct.length === 0; i++) await Bun.sleep(5)
      client.close(1000)
      expect(await closed.promise).toBe(1000)
      expect(adopted).toEqual([true])
      // The raw text, not Elysia's parsed object, and Elysia's own handler never ran.
      expect(direct).toEqual(['{"type":"chat.typing"}'])
      expect(throughElysia).toEqual([])
    } finally {
      await app.stop()
    }
  })

  it('should change nothing and say so when the socket is not shaped as expected', () => {
    const data = { message: 'not a function' }
    expect(adopt({ raw: { data } }, {}, { message() {}, close() {} })).toBe(false)
    expect(data).toEqual({ message: 'not a function' })
  })
})
