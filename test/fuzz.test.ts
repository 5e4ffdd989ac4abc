import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import fc from 'fast-check'
import { clientFrameSchema, messageSchema, serverFrameSchemas } from '../src/realtime/codec.ts'
import { roomSummarySchema } from '../src/modules/rooms/model.ts'
import { STORES, startStoreServer } from './support/cluster.ts'
import { alice, createRoom, identityHeaders, type TestServer } from './support/server.ts'
import { TestSocket, type Frame } from './support/socket.ts'

// Property-based tests over every input path, on each store: whatever arrives, the answer is a
// clear 4xx (or a success), never a 5xx or a crash, and nothing invalid is stored or broadcast.
const MAX = 50

const junk = fc.oneof(
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.constantFrom('', ' ', '\u0000', 'a\u0000b', '\ud800', 'a\udc00b', '😀', '안녕', '<script>', '0', '-1', '1e309', '99999999999999999999'),
  fc.constantFrom(2 ** 31, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, String(2 ** 31), String(Number.MAX_SAFE_INTEGER)),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 2 }),
)
/** JSON bodies; a message names the room under test now and then, so some reach the store. */
const jsonBody = (roomId: number) =>
  fc.oneof(
    fc.record({ name: junk, post_id: junk }, { requiredKeys: [] }),
    fc.record({ message: junk, room: fc.oneof(junk, fc.constant(0), fc.constant(roomId)), client_msg_id: junk }, { requiredKeys: [] }),
    fc.record({ name: junk, kind: fc.oneof(junk, fc.constantFrom('open', 'private', 'direct')), members: fc.oneof(junk, fc.array(junk, { maxLength: 4 })), owner: junk, post_id: junk }, { requiredKeys: [] }),
    fc.record({ user_id: junk, post_id: junk, name: junk }, { requiredKeys: [] }),
    fc.anything(),
  )
const rawBody = (roomId: number) =>
  fc.oneof(
    jsonBody(roomId).map((v) => JSON.stringify(v) ?? 'undefined'),
    fc.string({ maxLength: 200 }),
    fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes)),
  )
const contentType = fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', '')

for (const store of STORES) {
  describe(`fuzz on ${store.name}`, () => {
    let server: TestServer
    let roomId: number
    beforeAll(async () => {
      server = await startStoreServer(store, { MAX_MESSAGE_LENGTH: String(MAX) })
      roomId = await createRoom(server, 'fuzz')
    })
    afterAll(async () => {
      await server.destroy()
    })

    describe('REST input', () => {
      it('should never answer 5xx to any body, content type or identity', async () => {
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom('/chat/v1/create-room/', '/chat/v1/message/', '/chat/v1/direct-room/', `/chat/v1/room/${roomId}/members/`),
            rawBody(roomId),
            contentType,
            fc.boolean(),
            fc.option(fc.string({ maxLength: 80 })),
            async (path, body, type, withIdentity, nickname) => {
              const headers: Record<string, string> = withIdentity ? identityHeaders(alice) : {}
              if (nickname !== null) headers['x-nickname'] = nickname.replace(/[^\x20-\x7e]/g, '%')
              if (type) headers['content-type'] = type
              const res = await server.http(path, { method: 'POST', headers, body })
              expect(res.status).toBeLessThan(500)
              if (res.status >= 400) expect(res.headers.get('content-type')).toContain('application/problem+json')
              await res.arrayBuffer()
            },
          ),
          { numRuns: 400 },
        )
      }, 60_000)

      it('should never answer 5xx to any path parameter or query string', async () => {
        const segment = fc.oneof(fc.string({ maxLength: 20 }), fc.integer().map(String), fc.constantFrom('0', '-1', '1.5', '1e3', '%00', '%ZZ', '..', '99999999999999999999'))
        await fc.assert(
          fc.asyncProperty(segment, fc.dictionary(fc.constantFrom('limit', 'after', 'before', 'since', 'x'), segment), async (id, query) => {
            const qs = new URLSearchParams(query).toString()
            for (const path of [`/chat/v1/room/${encodeURIComponent(id)}/`, `/chat/v1/room/${encodeURIComponent(id)}/messages/?${qs}`, `/chat/v1/room/${encodeURIComponent(id)}/members/`, `/chat/v1/rooms/?${qs}`]) {
              const res = await server.http(path, { headers: identityHeaders(alice) })
              expect(res.status).toBeLessThan(500)
              await res.arrayBuffer()
            }
            // A user id in the path, raw or percent-encoded (some not UTF-8 at all).
            for (const user of [encodeURIComponent(id), id.replace(/[/?#\\]/g, ''), '%ED%A0%80', '%FF', '%E2%80%AE']) {
              for (const [method, path] of [
                ['PUT', `/chat/v1/blocks/${user}/`],
                ['DELETE', `/chat/v1/blocks/${user}/`],
                ['DELETE', `/chat/v1/room/${roomId}/members/${user}/`],
              ] as const) {
                const res = await server.http(path, { method, headers: identityHeaders(alice) })
                expect({ method, path, status: res.status < 500 }).toEqual({ method, path, status: true })
                await res.arrayBuffer()
              }
            }
          }),
          { numRuns: 300 },
        )
      }, 60_000)

      it('should store well-formed requests with odd text exactly as sent, or refuse them with 4xx', async () => {
        const char = fc.oneof({ arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 30 }, { arbitrary: fc.constantFrom('\u0000', '\ud800', '\udfff', '\u202e', '\u200b'), weight: 1 })
        const text = fc.oneof(fc.string({ unit: char, minLength: 1, maxLength: MAX }), fc.string({ unit: 'grapheme', minLength: 1, maxLength: MAX }))
        const postId = fc.option(fc.oneof(fc.integer({ min: 1 }), fc.constantFrom(2 ** 31, 2 ** 40, Number.MAX_SAFE_INTEGER)), { nil: undefined })
        const request = fc.oneof(
          fc.record({ path: fc.constant('/chat/v1/message/'), body: fc.record({ message: text, room: fc.constant(roomId), client_msg_id: fc.option(text, { nil: undefined }) }, { requiredKeys: ['message', 'room'] }) }),
          fc.record({ path: fc.constant('/chat/v1/create-room/'), body: fc.record({ name: text, post_id: postId }, { requiredKeys: ['name'] }) }),
        )
        await fc.assert(
          fc.asyncProperty(request, async ({ path, body }) => {
            const res = await server.post(path, body, identityHeaders(alice))
            expect(res.status).toBeLessThan(500)
            const answer = (await res.json()) as Record<string, unknown>
            if (res.status >= 400) return
            if ('message' in body) {
              if (res.status === 201) expect(answer).toMatchObject({ message: body.message, client_msg_id: body.client_msg_id ?? null })
              const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/?after=${Number(answer.id) - 1}&limit=1`)).json()) as Record<string, unknown>[]
              expect(history).toEqual([answer])
            } else {
              if (res.status === 201) expect(answer).toMatchObject({ name: body.name.trim(), post_id: body.post_id ?? null })
              expect(await (await server.http(`/chat/v1/room/${answer.id}/`)).json()).toMatchObject({ id: answer.id, name: answer.name, post_id: answer.post_id })
            }
          }),
          { numRuns: 200 },
        )
      }, 60_000)

      it('should have stored only valid rooms and messages', async () => {
        const rooms = (await (await server.http('/chat/v1/rooms/?limit=200')).json()) as unknown[]
        for (const room of rooms) {
          expect(roomSummarySchema.safeParse(room).success).toBe(true)
          const { name } = room as { name: string }
          expect(name.trim().length).toBeGreaterThan(0)
        }
        for (const { id } of rooms as { id: number }[]) {
          const messages = (await (await server.http(`/chat/v1/room/${id}/messages/?limit=200`)).json()) as { message: string }[]
          for (const m of messages) {
            expect(messageSchema.safeParse(m).success).toBe(true)
            expect(m.message.trim().length).toBeGreaterThan(0)
            expect([...m.message].length).toBeLessThanOrEqual(MAX)
          }
        }
      })
    })

    describe('WebSocket frames', () => {
      it('should answer every frame with a valid message or a chat.error, keep the socket open, and broadcast only valid messages', async () => {
        const sender = await TestSocket.connect(server, roomId, alice)
        const listener = await TestSocket.connect(server, roomId, { user_id: 'listener', nickname: 'L', email: 'l@example.com' })
        const frame = fc.oneof(
          jsonBody(roomId).map((v) => JSON.stringify(v) ?? 'null'),
          fc.record({ type: fc.constantFrom('chat.message', 'chat.typing', 'chat.x'), message: junk, client_msg_id: junk }, { requiredKeys: ['type'] }).map((v) => JSON.stringify(v)),
          fc.string({ maxLength: 100 }),
          fc.uint8Array({ maxLength: 100 }),
        )
        // Every frame gets exactly one answer (its echo or a chat.error), but a valid typing notice.
        const isTyping = (f: string | Uint8Array) => {
          if (typeof f !== 'string') return false
          try {
            const parsed = clientFrameSchema.safeParse(JSON.parse(f))
            return parsed.success && parsed.data.type === 'chat.typing'
          } catch {
            return false
          }
        }
        let expected = 0
        await fc.assert(
          fc.asyncProperty(frame, async (f) => {
            sender.ws.send(f)
            if (!isTyping(f)) expected++
          }),
          { numRuns: 500 },
        )
        const answered = () => sender.all('chat.message').length + sender.all('chat.error').length
        for (let i = 0; i < 200 && answered() < expected; i++) await Bun.sleep(25)
        expect(answered()).toBe(expected)
        expect(sender.ws.readyState).toBe(WebSocket.OPEN)
        await listener.barrier()
        await Bun.sleep(200)
        const isValid = (m: Frame) => {
          // A frame's message, whose fields at their defaults are left out: the frame's own schema.
          return serverFrameSchemas.message.safeParse(m).success && String(m.message).trim().length > 0 && [...String(m.message)].length <= MAX
        }
        for (const m of listener.all('chat.message')) expect(isValid(m)).toBe(true)
        // A repeated client_msg_id is answered to its sender only.
        expect(listener.all('chat.message').length).toBeLessThanOrEqual(sender.all('chat.message').length)
        await Promise.all([sender.close(), listener.close()])
      }, 60_000)
    })
  })
}
