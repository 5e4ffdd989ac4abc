import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import { spawnServer } from './support/process.ts'
import { rawRequest } from './support/raw-http.ts'
import { alice, createRoom, handshake, identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

let server: TestServer
let port: number
let roomId: number
beforeAll(async () => {
  server = await startTestServer()
  port = Number(new URL(server.base).port)
  roomId = await createRoom(server, 'input')
})
afterAll(() => server.destroy())

/** 60 KB of nested brackets: cheap to send, ruinous to pretty-print. */
const deepBody = `${'['.repeat(30_000)}${']'.repeat(30_000)}`

describe('bodies', () => {
  it('should refuse a deeply nested body before anything walks it, without echoing it', async () => {
    for (const path of ['/chat/v1/create-room/', '/chat/v1/message/']) {
      const res = await server.http(path, { method: 'POST', headers: { 'content-type': 'application/json', ...identityHeaders(alice) }, body: deepBody })
      expect(res.status).toBe(400)
      const text = await res.text()
      expect(JSON.parse(text)).toMatchObject({ code: 'invalid_body', detail: expect.stringContaining('nested') })
      expect(text).not.toContain('[[[')
    }
    // Nesting inside a string is text, not depth.
    const res = await server.post('/chat/v1/create-room/', { name: '['.repeat(90) })
    expect(res.status).toBe(201)
  })

  it('should run in production mode from `npm start` (no echo of invalid bodies)', async () => {
    const dir = join(server.dir, 'started')
    const started = await spawnServer([process.execPath, join(import.meta.dir, '..', 'src', 'index.ts')], { cwd: import.meta.dir, env: { PORT: '0', HOST: '127.0.0.1', DATABASE_PATH: join(dir, 'chat.db') } })
    try {
      const res = await fetch(`${started.base}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deepBody })
      expect([400, 422]).toContain(res.status)
      expect((await res.text()).length).toBeLessThan(2000)
    } finally {
      started.proc.kill()
      await started.exited
    }
  })

  it('should answer 413 to a declared body over MAX_BODY_BYTES before reading it', async () => {
    // Only the head is sent: the answer cannot depend on reading 100 MiB.
    const head = `POST /chat/v1/message/ HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n`
    const res = await rawRequest(port, head)
    expect(res.status).toBe(413)
  })

  it('should refuse a chunked body that grows past MAX_BODY_BYTES', async () => {
    const chunk = 'x'.repeat(16 * 1024)
    const chunks = Array.from({ length: 8 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`).join('')
    const res = await rawRequest(port, `POST /chat/v1/create-room/ HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`)
    expect(res.status).toBe(413)
  })

  it('should take a body up to MAX_BODY_BYTES', async () => {
    const res = await server.post('/chat/v1/create-room/', { name: 'padded', padding: 'x'.repeat(60_000) })
    expect(res.status).toBe(201)
  })
})

/** Identity values a gateway should never forward, with the field each one breaks. */
const badIdentities: [string, Partial<TestUser>, string][] = [
  ['a CR/LF in user_id', { user_id: 'u1\r\nX-Admin: 1' }, 'user_id'],
  ['a NUL in user_id', { user_id: 'u1\u0000' }, 'user_id'],
  ['a bidi override in the nickname', { nickname: 'evil\u202Egnp.exe' }, 'nickname'],
  ['a zero-width-only nickname', { nickname: '\u200B\u200C\u200D' }, 'nickname'],
  ['a Hangul-filler nickname', { nickname: '\u3164' }, 'nickname'],
  ['a control character in the nickname', { nickname: 'bell\u0007' }, 'nickname'],
  ['a protocol-relative profile URL', { profile_url: '//evil.example/x.png' }, 'profile_url'],
  ['a backslash profile URL', { profile_url: '/\\evil.example/x.png' }, 'profile_url'],
  ['a javascript: profile URL', { profile_url: 'javascript:alert(1)' }, 'profile_url'],
  ['a data: profile URL', { profile_url: 'data:image/png;base64,AAAA' }, 'profile_url'],
  ['a relative profile URL with a backslash', { profile_url: 'media\\..\\x.png' }, 'profile_url'],
  ['an e-mail with a bidi override', { email: 'a\u202E@example.com' }, 'email'],
  ['an e-mail without a domain', { email: 'alice@' }, 'email'],
  ['an e-mail with a space', { email: 'al ice@example.com' }, 'email'],
  ['a profile URL with a newline', { profile_url: 'https://cdn.example/a\n.png' }, 'profile_url'],
]

describe('identity values', () => {
  for (const [what, change, field] of badIdentities) {
    it(`should refuse ${what} with 400 naming ${field}, over REST and at the handshake`, async () => {
      const user = { ...alice, ...change }
      const rest = await server.post('/chat/v1/message/', { message: 'hi', room: roomId }, identityHeaders(user))
      expect(rest.status).toBe(400)
      expect(((await rest.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toContain(field)
      const query = new URLSearchParams(user as unknown as Record<string, string>)
      const ws = await handshake(server, `/ws/chat/${roomId}/chat/?${query}`)
      expect(ws.status).toBe(400)
      expect(((await ws.json()) as { errors: { path: string }[] }).errors.map((e) => e.path)).toContain(field)
    })
  }

  it('should still take Korean, emoji, right-to-left names and absolute or relative avatars', async () => {
    for (const user of [
      { ...alice, nickname: '홍길동 🙂' },
      { ...alice, nickname: 'مريم' },
      { ...alice, profile_url: 'https://cdn.example.com/a b'.replace(' ', '%20') },
      { ...alice, profile_url: '/media/p.jpg' },
      { ...alice, profile_url: 'media/p.jpg' },
      // Addresses a gateway's user record may hold that a strict e-mail pattern would not take.
      { ...alice, email: 'admin@localhost' },
      { ...alice, email: 'ops@intranet' },
      { ...alice, email: '홍길동@회사.한국' },
    ]) {
      const res = await server.post('/chat/v1/message/', { message: 'hi', room: roomId }, identityHeaders(user))
      expect({ user, status: res.status }).toEqual({ user, status: 201 })
      const query = new URLSearchParams(user as unknown as Record<string, string>)
      const socket = await TestSocket.open(`${server.wsBase}/ws/chat/${roomId}/chat/?${query}`)
      await socket.close()
    }
  })

  // The seed's Spring filter formats a missing picture as `profile_url=null` (String.format), a
  // Python gateway as `None`, a JavaScript one as `undefined`; the seed's nginx sends it empty.
  it('should take null, None, undefined and empty as no picture, in the query and in X-Profile-Url', async () => {
    for (const missing of ['null', 'None', 'undefined', 'NULL', '']) {
      const user = { ...alice, user_id: `no-picture-${missing || 'empty'}`, profile_url: missing }
      const res = await server.post('/chat/v1/message/', { message: '사진 없음', room: roomId }, identityHeaders(user))
      expect({ missing, status: res.status }).toEqual({ missing, status: 201 })
      expect(((await res.json()) as { profile_picture_url: unknown }).profile_picture_url).toBeNull()
      const socket = await TestSocket.open(`${server.wsBase}/ws/chat/${roomId}/chat/?${new URLSearchParams(user as unknown as Record<string, string>)}`)
      socket.sendMessage('query')
      expect(await socket.next('chat.message')).toMatchObject({ user_id: user.user_id, profile_picture_url: null })
      await socket.close()
    }
  })
})

describe('message and room text', () => {
  const invisible = ['\u200B', '\u200B\u200D\uFEFF', '\u3164\u3164', ' \u2800 ', '\u0301']
  const controlled = ['hi\u0000there', 'bell\u0007', 'esc\u001b[31mred', 'nel\u0085', 'lone \ud800 surrogate']

  it('should refuse messages with nothing visible as message_empty, over REST and WebSocket', async () => {
    const socket = await TestSocket.connect(server, roomId, alice)
    for (const text of invisible) {
      const res = await server.post('/chat/v1/message/', { message: text, room: roomId }, identityHeaders(alice))
      expect({ text, status: res.status }).toEqual({ text, status: 422 })
      socket.sendMessage(text)
      expect(await socket.next('chat.error')).toMatchObject({ code: 'message_empty' })
    }
    await socket.close()
  })

  it('should refuse messages with control characters (but tab and newline) as message_invalid', async () => {
    const socket = await TestSocket.connect(server, roomId, alice)
    for (const text of controlled) {
      const res = await server.post('/chat/v1/message/', { message: text, room: roomId }, identityHeaders(alice))
      expect({ text, status: res.status }).toEqual({ text, status: 422 })
      socket.sendMessage(text)
      expect(await socket.next('chat.error')).toMatchObject({ code: 'message_invalid' })
    }
    socket.sendMessage('line one\n\tline two')
    expect(await socket.next('chat.message')).toMatchObject({ message: 'line one\n\tline two' })
    await socket.close()
  })

  it('should refuse client_msg_id values with control characters', async () => {
    const res = await server.post('/chat/v1/message/', { message: 'hi', room: roomId, client_msg_id: 'a\u0000b' }, identityHeaders(alice))
    expect(res.status).toBe(422)
  })

  it('should refuse room names with nothing visible or with control characters', async () => {
    for (const name of [...invisible, ...controlled]) {
      const res = await server.post('/chat/v1/create-room/', { name })
      expect({ name, status: res.status }).toEqual({ name, status: 422 })
    }
  })
})
