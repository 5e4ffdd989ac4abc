import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import fc from 'fast-check'
import { identityHeaders, startTestServer, type TestServer } from './support/server.ts'
import { rawRequest, requestText } from './support/raw-http.ts'

const SECRET = 'gateway-shared-secret-0123456789'
const forged = identityHeaders({ user_id: 'victim', nickname: 'Victim', email: 'victim@example.com' })

let server: TestServer
let port: number
let roomId: number
const withSecret = { 'x-gateway-secret': SECRET }

beforeAll(async () => {
  server = await startTestServer({ GATEWAY_SECRET: SECRET })
  port = Number(new URL(server.base).port)
  const res = await server.post('/chat/v1/create-room/', { name: 'boundary' }, withSecret)
  roomId = ((await res.json()) as { id: number }).id
})
afterAll(() => server.destroy())

async function messagesInRoom(): Promise<number> {
  const res = await server.http(`/chat/v1/room/${roomId}/messages/?limit=200`, { headers: withSecret })
  return ((await res.json()) as unknown[]).length
}

describe('one decision point: the guard judges the path the router routes', () => {
  it('should refuse POST /healthz?/chat/v1/message/ with a short Host and forged identity', async () => {
    const body = JSON.stringify({ message: 'as the victim', room: roomId })
    for (const host of ['x', 'ab', 'abc']) {
      const res = await rawRequest(port, requestText('POST', '/healthz?/chat/v1/message/', { Host: host, 'Content-Type': 'application/json', ...forged }, body))
      expect({ host, status: res.status }).not.toEqual({ host, status: 201 })
      expect([400, 401]).toContain(res.status)
    }
    expect(await messagesInRoom()).toBe(0)
  })

  it('should refuse the same trick from an untrusted peer with TRUSTED_PROXIES', async () => {
    const proxied = await startTestServer({ TRUSTED_PROXIES: '10.0.0.0/8' })
    try {
      const proxiedPort = Number(new URL(proxied.base).port)
      // /healthz is open to anyone; what answers must be /healthz, not the rooms in its query.
      const res = await rawRequest(proxiedPort, requestText('GET', '/healthz?/chat/v1/rooms/', { Host: 'x' }))
      expect(JSON.parse(res.body)).toEqual({ status: 'ok' })
      const post = await rawRequest(proxiedPort, requestText('POST', '/healthz?/chat/v1/create-room/', { Host: 'x', 'Content-Type': 'application/json' }, '{"name":"forged"}'))
      expect(post.status).toBe(403)
      const direct = await rawRequest(proxiedPort, requestText('GET', '/chat/v1/rooms/', { Host: 'x' }))
      expect(direct.status).toBe(403)
    } finally {
      await proxied.destroy()
    }
  })

  it('should route short Hosts like everyone else, parametrised routes included', async () => {
    for (const host of ['api', 'x', 'localhost', '127.0.0.1:1', '[::1]:8000']) {
      const res = await rawRequest(port, requestText('GET', `/chat/v1/room/${roomId}/`, { Host: host, ...withSecret }))
      expect({ host, status: res.status }).toEqual({ host, status: 200 })
      expect(JSON.parse(res.body)).toMatchObject({ id: roomId })
    }
  })

  it('should open only GET and HEAD /healthz without the secret', async () => {
    expect((await rawRequest(port, requestText('GET', '/healthz', { Host: 'h' }))).status).toBe(200)
    expect((await rawRequest(port, requestText('HEAD', '/healthz', { Host: 'h' }))).status).toBe(200)
    for (const [method, path] of [
      ['POST', '/healthz'],
      ['GET', '/healthz/'],
      ['GET', '/healthz?x'],
      ['GET', '/metrics'],
      ['GET', '/readyz'],
      ['GET', '/docs'],
      ['GET', '/docs/json'],
      ['GET', '/chat_gateway_test.html'],
      ['GET', '/'],
    ] as const) {
      const res = await rawRequest(port, requestText(method, path, { Host: 'h' }))
      // A query on /healthz is harmless but not the exact open pair; everything else needs the secret.
      if (path === '/healthz?x') expect(res.status).toBe(200)
      else expect({ method, path, status: res.status }).toEqual({ method, path, status: 401 })
    }
  })

  it('should refuse encoded slashes, backslashes, dots and NULs in the path with 400', async () => {
    for (const path of ['/chat/v1/room%2F1/', '/chat%5Cv1/rooms/', '/chat/v1/a%2e/rooms/', '/chat/v1/rooms/%00', '//chat/v1/rooms/', '/chat/v1/room%2E/', '/healthz%00', '/x#frag']) {
      const res = await rawRequest(port, requestText('GET', path, { Host: 'h', ...withSecret }))
      expect({ path, status: res.status }).toEqual({ path, status: 400 })
      expect(JSON.parse(res.body)).toMatchObject({ code: 'non_canonical_path' })
    }
  })

  it('should judge backslash and dot-segment paths as the router routes them', async () => {
    // Bun resolves these before any handler runs; whatever they become, the secret is required.
    for (const path of ['/docs\\..\\chat\\v1\\rooms\\', '/healthz\\..\\metrics', '/healthz/../metrics', '/healthz/./../chat/v1/rooms/', '/healthz/%2e%2e/metrics', '/docs/%2E%2E/chat/v1/rooms/']) {
      const res = await rawRequest(port, requestText('GET', path, { Host: 'h' }))
      expect({ path, status: res.status }).toEqual({ path, status: 401 })
      expect(res.body).not.toContain('chat_open_sockets')
    }
  })

  it('should refuse Hosts that are not a host name with 400', async () => {
    for (const host of ['a/b', 'h@evil', 'a\\b', 'a b', '']) {
      const res = await rawRequest(port, requestText('GET', '/healthz', { Host: host }))
      expect({ host, status: res.status }).toEqual({ host, status: 400 })
    }
  })

  it('should let no request past without the secret, however it is shaped (property)', async () => {
    const before = await messagesInRoom()
    const segment = fc.constantFrom(
      'chat',
      'v1',
      'rooms',
      'room',
      String(roomId),
      'messages',
      'message',
      'create-room',
      'healthz',
      'readyz',
      'metrics',
      'docs',
      'json',
      'assets',
      'ws',
      'chat_gateway_test.html',
      '..',
      '.',
      '',
      '%2e%2e',
      '%2F',
      '%5C',
      '\\',
      '?',
      '#',
      '%00',
      ';',
      'x',
    )
    const path = fc.array(segment, { minLength: 0, maxLength: 7 }).map((parts) => `/${parts.join('/')}`)
    const query = fc.option(fc.array(fc.constantFrom('/chat/v1/message/', 'user_id=victim', 'nickname=V', 'email=v@example.com', '/healthz', '?', 'a=b', '%2F'), { maxLength: 3 }).map((q) => q.join('&')))
    const host = fc.constantFrom('x', 'ab', 'api', 'localhost', '127.0.0.1', `127.0.0.1:${port}`, '[::1]', 'a.b.c.d.e.f')
    const method = fc.constantFrom('GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH')
    const upgrade = fc.boolean()
    await fc.assert(
      fc.asyncProperty(method, path, query, host, upgrade, async (m, p, q, h, up) => {
        const target = q === null ? p : `${p}?${q}`
        const headers: Record<string, string> = { Host: h, 'Content-Type': 'application/json', ...forged }
        if (up) Object.assign(headers, { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' })
        const body = m === 'POST' || m === 'PUT' || m === 'PATCH' ? JSON.stringify({ message: 'forged', room: roomId, name: 'forged' }) : ''
        const res = await rawRequest(port, requestText(m, target, headers, body))
        const passedAsHealth = (m === 'GET' || m === 'HEAD') && p === '/healthz' && res.status === 200 && (m === 'HEAD' || JSON.parse(res.body).status === 'ok')
        const refused = res.status === 401 || res.status === 400 || res.status === 0
        if (!passedAsHealth && !refused) throw new Error(`${m} ${target} (Host ${h}) answered ${res.status}: ${res.body.slice(0, 200)}`)
      }),
      { numRuns: 400, seed: 1130 },
    )
    expect(await messagesInRoom()).toBe(before)
  }, 60_000)
})

describe('the test page', () => {
  it('should need the secret like everything else', async () => {
    expect((await server.http('/chat_gateway_test.html')).status).toBe(401)
    const page = await server.http('/chat_gateway_test.html', { headers: withSecret })
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('Chat gateway test')
  })

  it('should obey TRUSTED_PROXIES', async () => {
    const proxied = await startTestServer({ TRUSTED_PROXIES: '10.0.0.0/8' })
    try {
      expect((await proxied.http('/chat_gateway_test.html')).status).toBe(403)
    } finally {
      await proxied.destroy()
    }
  })

  it('should be public only when TEST_PAGE=public, and carry security headers', async () => {
    const local = await startTestServer({ GATEWAY_SECRET: SECRET, TEST_PAGE: 'public' })
    try {
      const page = await local.http('/chat_gateway_test.html')
      expect(page.status).toBe(200)
      const html = await page.text()
      expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
      expect(page.headers.get('x-content-type-options')).toBe('nosniff')
      expect(page.headers.get('x-frame-options')).toBe('DENY')
      const assets = [...html.matchAll(/(?:src|href)="\.?\/?([^"]+\.(?:js|css))"/g)].map((m) => m[1]!)
      expect(assets.length).toBeGreaterThan(0)
      for (const asset of assets) {
        const res = await local.http(`/${asset}`)
        expect({ asset, status: res.status }).toEqual({ asset, status: 200 })
        expect(res.headers.get('x-content-type-options')).toBe('nosniff')
      }
      // The page is public; the API behind it is not.
      expect((await local.http('/chat/v1/rooms/')).status).toBe(401)
      expect((await local.http('/chunk-nonexistent.js')).status).toBe(401)
    } finally {
      await local.destroy()
    }
  })
})

describe('the docs', () => {
  it('should carry security headers and answer 404, not 500, for odd asset names', async () => {
    const page = await server.http('/docs', { headers: withSecret })
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
    expect(page.headers.get('x-content-type-options')).toBe('nosniff')
    for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf']) {
      const res = await server.http(`/docs/assets/${name}`, { headers: withSecret })
      expect({ name, status: res.status }).toEqual({ name, status: 404 })
    }
  })
})

describe('/readyz', () => {
  it('should say only ready or not, keeping the details for the log', async () => {
    const broken = await startTestServer({ GATEWAY_SECRET: SECRET })
    try {
      const { writeFileSync } = await import('node:fs')
      writeFileSync(`${broken.dir}/chat.db`, Buffer.alloc(4096, 0x41))
      const res = await broken.http('/readyz', { headers: withSecret })
      expect(res.status).toBe(503)
      const text = await res.text()
      expect(text).not.toContain(broken.dir)
      expect(text).not.toContain('chat.db')
      expect(JSON.parse(text)).toMatchObject({ code: 'not_ready' })
    } finally {
      await broken.destroy()
    }
  })
})

describe('chat_url', () => {
  it('should come from PUBLIC_URL when set, whatever Host the request carried', async () => {
    const pub = await startTestServer({ PUBLIC_URL: 'https://chat.example.com/api' })
    try {
      const res = await rawRequest(Number(new URL(pub.base).port), requestText('POST', '/chat/v1/create-room/', { Host: 'evil.example', 'Content-Type': 'application/json' }, '{"name":"u"}'))
      expect(res.status).toBe(201)
      expect(JSON.parse(res.body).chat_url).toMatch(/^chat\.example\.com\/api\/ws\/chat\/\d+\/chat\/$/)
    } finally {
      await pub.destroy()
    }
  })

  it('should echo a valid Host when PUBLIC_URL is unset', async () => {
    const res = await rawRequest(port, requestText('GET', `/chat/v1/room/${roomId}/`, { Host: 'chat.internal:8000', ...withSecret }))
    expect(JSON.parse(res.body).chat_url).toBe(`chat.internal:8000/ws/chat/${roomId}/chat/`)
  })
})
