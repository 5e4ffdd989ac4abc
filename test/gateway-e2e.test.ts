import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import type { AttachmentDto } from '../src/realtime/codec.ts'
import { png } from '../src/uploads/image-fixtures.ts'
import { signJson, signJwt } from './support/jwt.ts'
import { freePort, rawRequest, startGateway, type Gateway } from './support/nginx.ts'
import { createRoom, handshake, startTestServer, type TestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

const JWT_SECRET = 'jwt-signing-secret-for-tests-only'
const GATEWAY_SECRET = 'gateway-shared-secret-0123456789'
const now = () => Math.floor(Date.now() / 1000)
const token = (claims: Record<string, unknown>, secret = JWT_SECRET) => signJwt({ exp: now() + 300, ...claims }, secret)
const hong = { sub: 'user-42', nickname: '홍길동', email: 'hong@example.com', picture: 'https://cdn.example.com/p/42.png' }
const UPGRADE = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']
const SPOOF_QUERY = 'user_id=alice&nickname=Alice&email=alice@example.com'

let chat: TestServer
let gateway: Gateway
beforeAll(async () => {
  chat = await startTestServer({ GATEWAY_SECRET })
  gateway = await startGateway({ chatPort: Number(new URL(chat.base).port), jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET })
}, 30_000)
afterAll(async () => {
  await gateway?.stop()
  await chat?.destroy()
})

const viaGateway = (path: string, init: RequestInit & { token?: string } = {}) =>
  fetch(gateway.base + path, { ...init, headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}), ...(init.headers as Record<string, string>) } })

/** A GET written byte for byte (fetch would clean the path up first). */
const rawGet = (target: string, headers: string[] = [], host = 'localhost', to: Gateway = gateway) => rawRequest(to.port, [`GET ${target} HTTP/1.1`, `Host: ${host}`, ...headers].join('\r\n'))

const problemCode = (body: string) => (JSON.parse(body) as { code: string }).code

const newRoom = async () => ((await (await viaGateway('/chat/v1/create-room/', { method: 'POST', token: token(hong), body: '{"name":"e2e"}' })).json()) as { id: number }).id

describe('through the reference nginx gateway', () => {
  it('should create rooms and messages over REST as the token user, Korean nickname intact', async () => {
    const t = token(hong)
    const room = await viaGateway('/chat/v1/create-room/', { method: 'POST', token: t, body: JSON.stringify({ name: '게이트웨이 방', post_id: 9001 }) })
    expect(room.status).toBe(201)
    const roomId = ((await room.json()) as { id: number }).id
    const sent = await viaGateway('/chat/v1/message/', { method: 'POST', token: t, body: JSON.stringify({ message: '안녕하세요', room: roomId }) })
    expect(sent.status).toBe(201)
    expect(await sent.json()).toMatchObject({ user_id: 'user-42', nickname: '홍길동', sender: 'hong@example.com', profile_picture_url: hong.picture, message: '안녕하세요' })
    const history = await viaGateway(`/chat/v1/room/${roomId}/messages/`, { token: t })
    expect(history.status).toBe(200)
  })

  it('should take uploads with a token, and serve their signed URLs to <img src> with none', async () => {
    const photo = (await png(640, 480)) as Uint8Array<ArrayBuffer>
    const upload = (t?: string) =>
      fetch(`${gateway.base}/chat/v1/uploads/?name=${encodeURIComponent('자전거.png')}`, { method: 'POST', headers: { 'content-type': 'image/png', ...(t ? { authorization: `Bearer ${t}` } : {}) }, body: photo })
    expect((await upload()).status).toBe(401)
    const res = await upload(token(hong))
    expect(res.status).toBe(201)
    const uploaded = (await res.json()) as AttachmentDto
    const roomId = await newRoom()
    const sent = await viaGateway('/chat/v1/message/', { method: 'POST', token: token(hong), body: JSON.stringify({ message: '', room: roomId, attachments: [uploaded.id] }) })
    expect(sent.status).toBe(201)
    // The URLs are this server's paths: through the gateway, without a token, as a browser fetches an image.
    const file = await fetch(gateway.base + uploaded.url)
    expect(file.status).toBe(200)
    expect(new Uint8Array(await file.arrayBuffer()).length).toBe(uploaded.size)
    expect((await fetch(gateway.base + uploaded.thumbnail_url)).status).toBe(200)
    expect((await fetch(gateway.base + uploaded.url.replace('signature=', 'signature=x'))).status).toBe(403)
    expect((await fetch(gateway.base + uploaded.url, { method: 'POST' })).status).toBe(403)
    expect((await fetch(`${gateway.base}/chat/v1/files/../../v1/inbox/`)).status).not.toBe(200)
  })

  it('should chat over WebSocket with the token in the subprotocol list, as a browser would', async () => {
    const roomId = await newRoom()
    const kim = { sub: 'user-7', nickname: '김철수', email: 'kim@example.com' }
    const a = await TestSocket.open(`${gateway.wsBase}/ws/chat/${roomId}/chat/`, { protocols: ['chat', `bearer.${token(hong)}`] })
    const b = await TestSocket.open(`${gateway.wsBase}/ws/chat/${roomId}/chat/`, { protocols: [`bearer.${token(kim)}`, 'chat'] })
    for (const s of [a, b]) expect(s.ws.protocol).toBe('chat')
    expect(await a.next('chat.user.join')).toEqual({ type: 'chat.user.join', username: '김철수', user_id: 'user-7' })
    b.sendMessage('반갑습니다')
    for (const s of [a, b]) expect(await s.next('chat.message')).toMatchObject({ message: '반갑습니다', user_id: 'user-7', nickname: '김철수', sender: 'kim@example.com' })
    a.sendMessage('저도요')
    expect(await b.next('chat.message')).toMatchObject({ message: '저도요', user_id: 'user-42', nickname: '홍길동' })
    await Promise.all([a.close(), b.close()])
  })

  it('should chat over WebSocket with Authorization: Bearer, as a non-browser client would', async () => {
    const roomId = await newRoom()
    const ws = await TestSocket.open(`${gateway.wsBase}/ws/chat/${roomId}/chat/`, { headers: { authorization: `Bearer ${token(hong)}` } })
    ws.sendMessage('from a service')
    expect(await ws.next('chat.message')).toMatchObject({ user_id: 'user-42', nickname: '홍길동' })
    await ws.close()
  })

  it('should refuse expired, not-yet-valid, forged, unsigned and missing tokens with 401 at nginx', async () => {
    const bad = {
      expired: signJwt({ ...hong, exp: now() - 120 }, JWT_SECRET),
      notYetValid: token({ ...hong, nbf: now() + 600 }),
      forged: token(hong, 'some-other-secret'),
      unsigned: signJwt({ ...hong, exp: now() + 300 }, JWT_SECRET, { alg: 'none' }),
      noExpiry: signJwt(hong, JWT_SECRET),
      garbage: 'not.a.jwt',
    }
    for (const [name, t] of Object.entries(bad)) {
      const res = await viaGateway('/chat/v1/rooms/', { token: t })
      expect({ name, status: res.status }).toEqual({ name, status: 401 })
      expect(res.headers.get('www-authenticate')).toContain('invalid_token')
      expect(((await res.json()) as { code: string }).code).toBe('invalid_token')
      for (const header of [`Sec-WebSocket-Protocol: chat, bearer.${t}`, `Authorization: Bearer ${t}`]) {
        const ws = await rawGet('/ws/chat/1/chat/', [...UPGRADE, header])
        expect({ name, header, status: ws.status }).toEqual({ name, header, status: 401 })
      }
    }
    expect((await viaGateway('/chat/v1/rooms/')).status).toBe(401)
  })

  it('should ignore identity a client adds itself, in headers or the query', async () => {
    const t = token(hong)
    const roomId = await newRoom()
    const spoofHeaders = { 'x-user-id': 'mallory', 'x-nickname': 'Mallory', 'x-email': 'mallory@evil.example', 'x-gateway-secret': 'guess', 'x-service-secret': 'guess' }
    const sent = await viaGateway('/chat/v1/message/', { method: 'POST', token: t, headers: spoofHeaders, body: JSON.stringify({ message: 'who am I', room: roomId }) })
    expect(await sent.json()).toMatchObject({ user_id: 'user-42', nickname: '홍길동' })

    const ws = await TestSocket.open(`${gateway.wsBase}/ws/chat/${roomId}/chat/?user_id=mallory&nickname=Mallory&email=mallory@evil.example`, { headers: { ...spoofHeaders, authorization: `Bearer ${t}` } })
    ws.sendMessage('still me')
    expect(await ws.next('chat.message')).toMatchObject({ user_id: 'user-42', nickname: '홍길동', sender: 'hong@example.com' })
    await ws.close()
  })

  it('should serve the docs, the test page and /healthz without a token, and nothing else', async () => {
    for (const path of ['/healthz', '/docs', '/docs/json', '/docs/asyncapi.json', '/docs/assets/swagger-ui.css', '/docs/assets/init.js', '/chat_gateway_test.html', '/']) {
      expect({ path, status: (await fetch(gateway.base + path)).status }).toEqual({ path, status: 200 })
    }
    // Readiness and metrics are for the operator, scraped next to the server, not through it.
    for (const path of ['/readyz', '/metrics', '/docsx', '/healthz/', '/chat_gateway_test.html/', '/x/chunk-a.js']) {
      expect({ path, status: (await fetch(gateway.base + path)).status }).toEqual({ path, status: 404 })
    }
  })
})

describe('attack: paths Bun reads differently from nginx', () => {
  it('should refuse /docs\\..\\chat\\v1\\rooms\\ with 400 instead of listing rooms', async () => {
    const res = await rawGet('/docs\\..\\chat\\v1\\rooms\\')
    expect(res.status).toBe(400)
    expect(res.headers['content-type']).toBe('application/problem+json')
    expect(problemCode(res.body)).toBe('invalid_path')
  })

  it('should refuse a WebSocket through a public prefix with identity in the query', async () => {
    const roomId = await newRoom()
    const res = await rawGet(`/docs\\..\\ws\\chat\\${roomId}\\chat\\?${SPOOF_QUERY}`, UPGRADE)
    expect(res.status).toBe(400)
  })

  it('should refuse /healthz\\..\\metrics', async () => {
    const res = await rawGet('/healthz\\..\\metrics')
    expect(res.status).toBe(400)
    expect(res.body).not.toContain('chat_open_sockets')
  })

  it('should refuse encoded backslashes, slashes, dots and NUL, dot segments, fragments, raw bytes, // and % in the path, token or not', async () => {
    const targets = [
      '/docs%5c..%5cchat/v1/rooms/',
      '/docs%5C..%5Cmetrics',
      '/docs/%2e%2e/chat/v1/rooms/',
      '/docs/.%2E/metrics',
      '/chat/v1/rooms%2f',
      '/chat%2Fv1/rooms/',
      '/docs/../chat/v1/rooms/',
      '/docs/./json',
      '/chat/v1/rooms/..',
      '/healthz%00',
      '/docs/json?x=%5c',
      '/docs/json?x=\\',
      '/chat/v1/rooms/#/../../metrics',
      '/chat/v1/rooms/\xe4',
      '//chat/v1/rooms/',
      '/chat//v1/rooms/',
      '/%63hat/v1/rooms/',
      '/chat/v1/room/%31/messages/',
    ]
    for (const target of targets) {
      for (const auth of [[], [`Authorization: Bearer ${token(hong)}`]]) {
        const res = await rawGet(target, auth)
        expect({ target, status: res.status }).toEqual({ target, status: 400 })
      }
    }
  })

  it('should refuse a Host so short that the chat server would route another path', async () => {
    // Elysia finds the path at an offset that assumes a Host of 4 or more characters.
    const listing = await rawGet('/docs/chat/v1/rooms/', [], 'x')
    expect(listing.status).toBe(400)
    expect(problemCode(listing.body)).toBe('invalid_host')
    const metrics = await rawGet('/chat/metrics', [`Authorization: Bearer ${token(hong)}`], 'x')
    expect(metrics.status).toBe(400)
    expect(metrics.body).not.toContain('chat_open_sockets')
  })
})

describe('attack: tokens that make jwt.js throw', () => {
  it('should refuse a token whose header is JSON null with 401', async () => {
    const res = await viaGateway('/chat/v1/rooms/', { token: 'bnVsbA.e30.x' })
    expect(res.status).toBe(401)
  })

  it('should refuse a WebSocket with such a token and identity in the query', async () => {
    const roomId = await newRoom()
    const res = await rawGet(`/ws/chat/${roomId}/chat/?${SPOOF_QUERY}`, [...UPGRADE, 'Authorization: Bearer bnVsbA.e30.x'])
    // Not the chat server's 400 for a missing identity: nginx itself refuses.
    expect(res.status).toBe(401)
  })

  it('should refuse signed tokens whose header or claims are not JSON objects', async () => {
    const claims = JSON.stringify({ ...hong, exp: now() + 300 })
    const header = '{"alg":"HS256"}'
    const tokens = [
      signJson('null', claims, JWT_SECRET),
      signJson('[]', claims, JWT_SECRET),
      signJson('1', claims, JWT_SECRET),
      signJson('"HS256"', claims, JWT_SECRET),
      signJson(header, 'null', JWT_SECRET),
      signJson(header, '[]', JWT_SECRET),
      signJson(header, '42', JWT_SECRET),
      signJson(header, '"user-42"', JWT_SECRET),
      signJson(header, '{', JWT_SECRET),
    ]
    for (const t of tokens) {
      const res = await viaGateway('/chat/v1/rooms/', { token: t })
      expect({ t, status: res.status }).toEqual({ t, status: 401 })
      const ws = await rawGet(`/ws/chat/1/chat/?${SPOOF_QUERY}`, [...UPGRADE, `Sec-WebSocket-Protocol: chat, bearer.${t}`])
      expect({ t, status: ws.status }).toEqual({ t, status: 401 })
    }
  })

  it('should refuse ?token= with bad percent-encoding with 400', async () => {
    const res = await rawGet('/chat/v1/rooms/?token=%E0%A4%A')
    expect(res.status).toBe(400)
    expect(problemCode(res.body)).toBe('token_in_query')
    expect(problemCode((await rawGet('/chat/v1/rooms/?limit=%E0%A4%A', [`Authorization: Bearer ${token(hong)}`])).body)).toBe('invalid_query')
  })
})

describe('attack: tokens in the error log', () => {
  let down: Gateway
  beforeAll(async () => {
    down = await startGateway({ chatPort: freePort(), jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET })
  })
  afterAll(() => down?.stop())

  it('should refuse ?token= with 400 before the upstream, so no log line holds it', async () => {
    const t = token(hong)
    for (const target of [`/ws/chat/1/chat/?token=${t}`, `/chat/v1/rooms/?limit=5&token=${t}`, `/chat/v1/rooms/?%74oken=${t}`, `/chat/v1/rooms/?TOKEN=${t}`]) {
      const res = await rawGet(target, UPGRADE, 'localhost', down)
      expect({ target, status: res.status }).toEqual({ target, status: 400 })
      expect(problemCode(res.body)).toBe('token_in_query')
    }
    // A body over the limit is logged with its request line; the token is refused first.
    const big = await rawRequest(down.port, `POST /chat/v1/message/?token=${t} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json`, 'x'.repeat(100_000))
    expect(big.status).toBe(400)
    expect(down.errorLog()).not.toContain(t.split('.')[2]!)
  })

  it('should keep header tokens out of the error and access logs when the upstream is down', async () => {
    const t = token(hong)
    const viaHeader = await rawGet('/chat/v1/rooms/', [`Authorization: Bearer ${t}`], 'localhost', down)
    const viaProtocol = await rawGet('/ws/chat/1/chat/', [...UPGRADE, `Sec-WebSocket-Protocol: chat, bearer.${t}`], 'localhost', down)
    expect([viaHeader.status, viaProtocol.status]).toEqual([502, 502])
    await Bun.sleep(100)
    const errors = down.errorLog()
    expect(errors).toContain('connect() failed')
    expect(errors).toContain('GET /ws/chat/1/chat/')
    for (const log of [errors, down.accessLog()]) {
      for (const part of t.split('.')) expect(log).not.toContain(part)
    }
  })
})

describe('the chat server behind it', () => {
  it('should refuse a direct request without the secret with 401, but answer /healthz', async () => {
    const res = await chat.http('/chat/v1/rooms/', { headers: { 'x-user-id': 'mallory' } })
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'gateway_secret_required' })
    expect((await chat.http('/chat/v1/rooms/', { headers: { 'x-gateway-secret': 'wrong-wrong-wrong-wrong' } })).status).toBe(401)
    expect((await chat.http('/chat/v1/rooms/', { headers: { 'x-gateway-secret': GATEWAY_SECRET } })).status).toBe(200)
    expect((await chat.http('/healthz')).status).toBe(200)
  })

  it('should not upgrade a direct WebSocket without the secret', async () => {
    const roomId = await createRoom({ ...chat, post: (path, body) => chat.post(path, body, { 'x-gateway-secret': GATEWAY_SECRET }) })
    const res = await handshake(chat, `/ws/chat/${roomId}/chat/?${SPOOF_QUERY}`)
    expect(res.status).toBe(401)
    await expect(TestSocket.open(`${chat.wsBase}/ws/chat/${roomId}/chat/?${SPOOF_QUERY}`)).rejects.toThrow()
  })
})
