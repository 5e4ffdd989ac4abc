import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import type { Browser } from 'playwright-core'
import { artifacts, connectPage, launchBrowser, newChatPage, sendFromPage } from './support/browser.ts'
import { signJwt } from './support/jwt.ts'
import { rawRequest, startGateway, type Gateway } from './support/nginx.ts'
import { startTestServer, type TestServer } from './support/server.ts'

// The chat test page through the reference nginx gateway: its own files need no token, the API
// and the sockets it calls still do, and a browser that opens it at the gateway chats with a token.

const JWT_SECRET = 'jwt-signing-secret-for-tests-only'
const GATEWAY_SECRET = 'gateway-shared-secret-0123456789'
const now = () => Math.floor(Date.now() / 1000)
const hong = { sub: 'user-42', nickname: '홍길동', email: 'hong@example.com' }
const token = (claims: Record<string, unknown> = hong) => signJwt({ exp: now() + 300, ...claims }, JWT_SECRET)
const UPGRADE = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']

let chat: TestServer
let gateway: Gateway
beforeAll(async () => {
  // As behind a gateway in production: the secret on every request, identity from headers only.
  chat = await startTestServer({ GATEWAY_SECRET, IDENTITY_SOURCES: 'headers' })
  gateway = await startGateway({ chatPort: Number(new URL(chat.base).port), jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET })
}, 30_000)
afterAll(async () => {
  await gateway?.stop()
  await chat?.destroy()
})

const viaGateway = (path: string, init: RequestInit & { token?: string } = {}) =>
  fetch(gateway.base + path, { ...init, headers: { 'content-type': 'application/json', ...(init.token ? { authorization: `Bearer ${init.token}` } : {}) } })

/** The paths of the page's script and style, as its HTML names them (`./chunk-1a2b3c.js`). */
async function pageAssets(): Promise<string[]> {
  const html = await (await fetch(`${gateway.base}/chat_gateway_test.html`)).text()
  return [...html.matchAll(/(?:src|href)="\.?(\/[^"]+)"/g)].map((m) => m[1]!)
}

describe('the test page through the reference gateway, without a token', () => {
  it('should serve the page, with its security headers, at /chat_gateway_test.html and point / at it', async () => {
    const page = await fetch(`${gateway.base}/chat_gateway_test.html`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toStartWith('text/html')
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'")
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    expect(await page.text()).toContain('<title>Chat gateway test</title>')
    const root = await fetch(`${gateway.base}/`, { redirect: 'manual' })
    expect(root.status).toBe(302)
    expect(root.headers.get('location')).toBe('/chat_gateway_test.html')
  })

  it('should serve the script and the style the page names, with their content types', async () => {
    const assets = await pageAssets()
    expect(assets.map((path) => path.replace(/-[a-z0-9]+\./, '-<hash>.')).sort()).toEqual(['/chunk-<hash>.css', '/chunk-<hash>.js'])
    for (const path of assets) {
      const res = await fetch(gateway.base + path)
      const type = path.endsWith('.js') ? 'text/javascript' : 'text/css'
      expect({ path, status: res.status, type: res.headers.get('content-type')?.split(';')[0] }).toEqual({ path, status: 200, type })
      expect((await res.text()).length).toBeGreaterThan(100)
    }
  })

  it("should answer a file the page does not have with the server's 404, and other paths of one segment with its own", async () => {
    expect((await fetch(`${gateway.base}/chunk-nothere.js`)).status).toBe(404)
    for (const target of ['/metrics', '/readyz', '/page.html', '/.hidden.js', '/chunk.json', '/chat_gateway_test.htm']) {
      const res = await rawRequest(gateway.port, `GET ${target} HTTP/1.1\r\nHost: localhost`)
      expect({ target, status: res.status, type: res.headers['content-type'] }).toEqual({ target, status: 404, type: 'application/problem+json' })
      expect(res.body).not.toContain('chat_open_sockets')
    }
  })

  it('should still refuse the API and the sockets the page calls with 401', async () => {
    for (const path of ['/chat/v1/rooms/', '/chat/v1/me/']) {
      const res = await viaGateway(path)
      expect({ path, status: res.status }).toEqual({ path, status: 401 })
      expect(((await res.json()) as { code: string }).code).toBe('invalid_token')
    }
    const ws = await rawRequest(gateway.port, ['GET /ws/chat/1/chat/ HTTP/1.1', 'Host: localhost', ...UPGRADE].join('\r\n'))
    expect(ws.status).toBe(401)
  })

  it('should answer the API with a token', async () => {
    const me = await viaGateway('/chat/v1/me/', { token: token() })
    expect(me.status).toBe(200)
    expect(await me.json()).toMatchObject({ user_id: 'user-42', nickname: '홍길동', email: 'hong@example.com' })
    expect((await viaGateway('/chat/v1/rooms/', { token: token() })).status).toBe(200)
  })
})

describe('the test page in a browser at the gateway', () => {
  let browser: Browser
  beforeAll(async () => {
    browser = await launchBrowser()
  }, 30_000)
  afterAll(() => browser?.close())

  it('should create a room, connect and send as the user its bearer token names, stored through the gateway', async () => {
    const opened = await newChatPage(browser)
    const { page } = opened
    try {
      // Every file the page loads comes from nginx; none is fetched from the chat server directly.
      const loaded: string[] = []
      page.on('response', (res) => loaded.push(`${res.status()} ${new URL(res.url()).origin}`))
      await page.goto(`${gateway.base}/chat_gateway_test.html`)
      const t = token()
      await page.getByTestId('token').fill(t)
      await page.getByTestId('token-identity').filter({ hasText: 'As 홍길동 (user-42, hong@example.com)' }).waitFor()

      await page.fill('#room_name', '게이트웨이 테스트 페이지')
      await page.click('#create-room button[type=submit]')
      await page.waitForFunction(() => (document.getElementById('room_id') as HTMLInputElement).value !== '')
      const roomId = Number(await page.inputValue('#room_id'))
      expect(roomId).toBeGreaterThan(0)
      await connectPage(page)
      await sendFromPage(page, '페이지에서 보낸 메시지')
      await page.locator('#messages li.message', { hasText: '페이지에서 보낸 메시지' }).waitFor()
      await page.screenshot({ path: join(artifacts, 'gateway-test-page.png') })

      // Stored as the token's user, read back through nginx with a token.
      const history = await viaGateway(`/chat/v1/room/${roomId}/messages/`, { token: token({ sub: 'user-7', nickname: '김철수', email: 'kim@example.com' }) })
      expect(history.status).toBe(200)
      expect(((await history.json()) as { message: string; user_id: string; nickname: string; sender: string }[]).map(({ message, user_id, nickname, sender }) => ({ message, user_id, nickname, sender }))).toEqual([
        { message: '페이지에서 보낸 메시지', user_id: 'user-42', nickname: '홍길동', sender: 'hong@example.com' },
      ])
      const room = await viaGateway(`/chat/v1/room/${roomId}/`, { token: t })
      expect(((await room.json()) as { name: string }).name).toBe('게이트웨이 테스트 페이지')
      // The room list the page asks for as it loads, before it has a token, is the one refusal.
      expect(await page.locator('[data-testid=errors] p').allTextContents()).toEqual([expect.stringMatching(/^Could not list rooms: no token/)])
      expect(new Set(loaded.map((entry) => entry.split(' ')[1]))).toEqual(new Set([gateway.base]))
      expect(gateway.accessLog()).toContain('"path":"/chat/v1/create-room/","status":201,"user":"user-42"')
      expect([...opened.dialogs, ...opened.violations]).toEqual([])
    } finally {
      await opened.context.close()
    }
  }, 60_000)
})
