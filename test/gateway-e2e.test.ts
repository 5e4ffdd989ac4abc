import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { signJwt } from './support/jwt.ts'
import { startGateway, type Gateway } from './support/nginx.ts'
import { handshake, startTestServer, type TestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

const JWT_SECRET = 'jwt-signing-secret-for-tests-only'
const GATEWAY_SECRET = 'gateway-shared-secret-0123456789'
const now = () => Math.floor(Date.now() / 1000)
const token = (claims: Record<string, unknown>, secret = JWT_SECRET) => signJwt({ exp: now() + 300, ...claims }, secret)
const hong = { sub: 'user-42', nickname: '홍길동', email: 'hong@example.com', picture: 'https://cdn.example.com/p/42.png' }

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

  it('should chat over WebSocket with the token in the query, as a browser would', async () => {
    const roomId = ((await (await viaGateway('/chat/v1/create-room/', { method: 'POST', token: token(hong), body: '{"name":"ws via nginx"}' })).json()) as { id: number }).id
    const kim = { sub: 'user-7', nickname: '김철수', email: 'kim@example.com' }
    const a = await TestSocket.open(`${gateway.wsBase}/ws/chat/${roomId}/chat/?token=${token(hong)}`)
    const b = await TestSocket.open(`${gateway.wsBase}/ws/chat/${roomId}/chat/?token=${token(kim)}`)
    expect(await a.next('chat.user.join')).toEqual({ type: 'chat.user.join', username: '김철수', user_id: 'user-7' })
    b.sendMessage('반갑습니다')
    for (const s of [a, b]) expect(await s.next('chat.message')).toMatchObject({ message: '반갑습니다', user_id: 'user-7', nickname: '김철수', sender: 'kim@example.com' })
    a.sendMessage('저도요')
    expect(await b.next('chat.message')).toMatchObject({ message: '저도요', user_id: 'user-42', nickname: '홍길동' })
    await Promise.all([a.close(), b.close()])
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
      const ws = await fetch(`${gateway.base}/ws/chat/1/chat/?token=${t}`, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' } })
      expect({ name, status: ws.status }).toEqual({ name, status: 401 })
    }
    expect((await viaGateway('/chat/v1/rooms/')).status).toBe(401)
  })

  it('should ignore identity a client adds itself, in headers or the query', async () => {
    const t = token(hong)
    const roomId = ((await (await viaGateway('/chat/v1/create-room/', { method: 'POST', token: t, body: '{"name":"spoof"}' })).json()) as { id: number }).id
    const spoofHeaders = { 'x-user-id': 'mallory', 'x-nickname': 'Mallory', 'x-email': 'mallory@evil.example', 'x-gateway-secret': 'guess' }
    const sent = await viaGateway('/chat/v1/message/', { method: 'POST', token: t, headers: spoofHeaders, body: JSON.stringify({ message: 'who am I', room: roomId }) })
    expect(await sent.json()).toMatchObject({ user_id: 'user-42', nickname: '홍길동' })

    const ws = await TestSocket.open(`${gateway.wsBase}/ws/chat/${roomId}/chat/?user_id=mallory&nickname=Mallory&email=mallory@evil.example&token=${t}`, { headers: spoofHeaders })
    ws.sendMessage('still me')
    expect(await ws.next('chat.message')).toMatchObject({ user_id: 'user-42', nickname: '홍길동', sender: 'hong@example.com' })
    await ws.close()
  })

  it('should serve the docs through the gateway without a token', async () => {
    expect((await fetch(`${gateway.base}/docs/json`)).status).toBe(200)
    expect((await fetch(`${gateway.base}/healthz`)).status).toBe(200)
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
    const res = await handshake(chat, '/ws/chat/1/chat/?user_id=mallory&nickname=M&email=m@evil.example')
    expect(res.status).toBe(401)
    await expect(TestSocket.open(`${chat.wsBase}/ws/chat/1/chat/?user_id=mallory&nickname=M&email=m@evil.example`)).rejects.toThrow()
  })
})
