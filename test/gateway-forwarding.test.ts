import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { signJson, signJwt } from './support/jwt.ts'
import { rawRequest, startGateway, type Gateway } from './support/nginx.ts'
import { headerValues, startRecorder, type Recorded, type Recorder } from './support/recorder.ts'

// What nginx sends upstream, seen by a recording stand-in for the chat server.

const JWT_SECRET = 'jwt-signing-secret-for-tests-only'
const GATEWAY_SECRET = 'gateway-shared-secret-0123456789'
const now = () => Math.floor(Date.now() / 1000)
const token = (claims: Record<string, unknown> = {}) => signJwt({ sub: 'user-42', nickname: '홍길동', email: 'hong@example.com', exp: now() + 300, ...claims }, JWT_SECRET)
const SPOOF = ['X-User-Id: mallory', 'X-Nickname: Mallory', 'X-Email: m@evil.example', 'X-Profile-Url: /m.png', `X-Gateway-Secret: guess`, 'X-Service-Secret: guess', 'Cookie: session=abc']
const UPGRADE = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']

let upstream: Recorder
let gateway: Gateway
const extraGateways: Gateway[] = []
beforeAll(async () => {
  upstream = startRecorder()
  gateway = await startGateway({ chatPort: upstream.port, jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET })
})
afterAll(async () => {
  for (const g of [gateway, ...extraGateways]) await g?.stop()
  upstream?.stop()
})

/** A gateway with further settings, in front of the same recorder. */
async function gatewayWith(env: Record<string, string>): Promise<Gateway> {
  const g = await startGateway({ chatPort: upstream.port, jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET, env })
  extraGateways.push(g)
  return g
}

/** Sends a GET through `via` and returns the answer with what reached the upstream meanwhile. */
async function send(target: string, headers: string[] = [], via = gateway): Promise<{ status: number; body: string; arrived: Recorded[] }> {
  const before = upstream.received.length
  const res = await rawRequest(via.port, [`GET ${target} HTTP/1.1`, 'Host: chat.example.com', ...headers].join('\r\n'))
  return { status: res.status, body: res.body, arrived: upstream.received.slice(before) }
}

const names = (request: Recorded) => request.headers.map(([name]) => name).sort()

describe('what reaches the chat server for a valid token', () => {
  it('should carry the token user and the secret, and nothing the client claimed', async () => {
    const { status, arrived } = await send('/chat/v1/rooms/?user_id=mallory&limit=5&Nickname=M&email=m%40evil.example&profile_url=x', [`Authorization: Bearer ${token({ picture: '/p/42.png' })}`, ...SPOOF])
    expect(status).toBe(200)
    expect(arrived).toHaveLength(1)
    const request = arrived[0]!
    expect(request.uri).toBe('/chat/v1/rooms/?limit=5')
    expect(headerValues(request, 'x-user-id')).toEqual(['user-42'])
    expect(headerValues(request, 'x-nickname')).toEqual([encodeURIComponent('홍길동')])
    expect(headerValues(request, 'x-email')).toEqual(['hong%40example.com'])
    expect(headerValues(request, 'x-profile-url')).toEqual([encodeURIComponent('/p/42.png')])
    expect(headerValues(request, 'x-gateway-secret')).toEqual([GATEWAY_SECRET])
    for (const name of ['authorization', 'x-service-secret']) expect(headerValues(request, name)).toEqual([])
  })

  it("should forward the client's address as nginx saw it, never one the client claimed", async () => {
    const { arrived } = await send('/chat/v1/rooms/', [`Authorization: Bearer ${token()}`, 'X-Forwarded-For: 6.6.6.6', 'Forwarded: for=6.6.6.6'])
    expect(arrived).toHaveLength(1)
    expect(headerValues(arrived[0]!, 'x-forwarded-for')).toEqual(['127.0.0.1'])
    expect(headerValues(arrived[0]!, 'forwarded')).toEqual([])
  })

  it('should forward the subprotocols without the bearer entry, whatever its place', async () => {
    for (const offered of [[`bearer.${token()}, chat`], [`chat, bearer.${token()}`], ['chat', `bearer.${token()}`]]) {
      const { arrived } = await send('/ws/chat/1/chat/', [...UPGRADE, ...offered.map((value) => `Sec-WebSocket-Protocol: ${value}`)])
      expect(arrived).toHaveLength(1)
      expect(headerValues(arrived[0]!, 'sec-websocket-protocol')).toEqual(['chat'])
      expect(headerValues(arrived[0]!, 'x-user-id')).toEqual(['user-42'])
      expect(headerValues(arrived[0]!, 'upgrade')).toEqual(['websocket'])
    }
  })
})

describe('what reaches the chat server without a token', () => {
  it('should send /healthz, the docs and the test page at their fixed paths, with no query and none of the client headers', async () => {
    const cases: [string, string, string[]][] = [
      ['/healthz?/chat/v1/rooms/', '/healthz', ['host']],
      ['/docs?user_id=alice', '/docs', ['host', 'x-gateway-secret']],
      ['/docs/json?token2=x', '/docs/json', ['host', 'x-gateway-secret']],
      ['/docs/asyncapi.json', '/docs/asyncapi.json', ['host', 'x-gateway-secret']],
      ['/docs/assets/swagger-ui.css?v=1', '/docs/assets/swagger-ui.css', ['host', 'x-gateway-secret']],
      ['/chat_gateway_test.html?user_id=alice&nickname=Alice', '/chat_gateway_test.html', ['host', 'x-gateway-secret']],
      ['/?/chat/v1/rooms/', '/', ['host', 'x-gateway-secret']],
      ['/chunk-1a2b3c.js?v=1', '/chunk-1a2b3c.js', ['host', 'x-gateway-secret']],
      ['/chunk-1a2b3c.css', '/chunk-1a2b3c.css', ['host', 'x-gateway-secret']],
    ]
    for (const [target, uri, headerNames] of cases) {
      for (const auth of [[], [`Authorization: Bearer ${token()}`]]) {
        const { status, arrived } = await send(target, [...auth, ...SPOOF, ...UPGRADE.slice(0, 2)])
        expect({ target, status }).toEqual({ target, status: 200 })
        expect(arrived.map((r) => ({ uri: r.uri, names: names(r) }))).toEqual([{ uri, names: headerNames }])
      }
    }
  })

  it('should answer other paths under /docs/ and beside the test page itself', async () => {
    for (const target of [
      '/docs/',
      '/docs/chat/v1/rooms/',
      '/docs/assets/',
      '/docs/assets/.hidden',
      '/docs/assets/a/b',
      '/docs/json/x',
      '/metrics',
      '/readyz',
      '/.chunk.js',
      '/chunk.json',
      '/chunk.js.map',
      '/a/chunk.js',
      '/chat_gateway_test.html/x',
      '/chat_gateway_test.htm',
    ]) {
      const { status, arrived } = await send(target)
      expect({ target, status, arrived: arrived.length }).toEqual({ target, status: 404, arrived: 0 })
    }
  })
})

describe('tokens refused at nginx', () => {
  const refused = async (headers: string[], via = gateway) => {
    const { status, arrived } = await send('/chat/v1/rooms/', headers, via)
    return { status, arrived: arrived.length }
  }
  const REFUSED = { status: 401, arrived: 0 }

  it('should refuse two tokens, another scheme and a bearer entry with nothing after it', async () => {
    const t = token()
    for (const headers of [
      [`Authorization: Bearer ${t}`, `Sec-WebSocket-Protocol: chat, bearer.${t}`],
      [`Sec-WebSocket-Protocol: bearer.${t}, bearer.${t}`],
      [`Sec-WebSocket-Protocol: chat, bearer.${t}`, `Sec-WebSocket-Protocol: bearer.${t}`],
      [`Authorization: Basic ${t}`],
      [`Authorization: ${t}`],
      ['Sec-WebSocket-Protocol: chat, bearer.'],
      ['Authorization: Bearer'],
    ]) {
      expect({ headers, ...(await refused(headers)) }).toEqual({ headers, ...REFUSED })
    }
    // nginx itself refuses a second Authorization header.
    expect(await refused([`Authorization: Bearer ${t}`, `Authorization: Bearer ${t}`])).toEqual({ status: 400, arrived: 0 })
  })

  it('should refuse signed tokens with a wrong algorithm, a critical header or bad times', async () => {
    const claims = { sub: 'user-42', exp: now() + 300 }
    const bad = {
      hs512: signJwt(claims, JWT_SECRET, { alg: 'HS512' }),
      rs256: signJwt(claims, JWT_SECRET, { alg: 'RS256' }),
      lowerCase: signJwt(claims, JWT_SECRET, { alg: 'hs256' }),
      noAlg: signJwt(claims, JWT_SECRET, { typ: 'JWT' }),
      crit: signJwt(claims, JWT_SECRET, { alg: 'HS256', crit: ['exp'] }),
      expString: signJwt({ ...claims, exp: String(now() + 300) }, JWT_SECRET),
      expInfinity: signJson('{"alg":"HS256"}', '{"sub":"user-42","exp":1e999}', JWT_SECRET),
      exp1e308: signJwt({ ...claims, exp: 1e308 }, JWT_SECRET),
      expNull: signJwt({ ...claims, exp: null }, JWT_SECRET),
      nbfString: signJwt({ ...claims, nbf: 'yesterday' }, JWT_SECRET),
      iatFuture: signJwt({ ...claims, iat: now() + 600 }, JWT_SECRET),
      iatNegative: signJwt({ ...claims, iat: -1 }, JWT_SECRET),
    }
    for (const [name, t] of Object.entries(bad)) expect({ name, ...(await refused([`Authorization: Bearer ${t}`])) }).toEqual({ name, ...REFUSED })
  })

  it('should refuse a subject that is missing, not a string, empty, too long, with control characters or not well-formed', async () => {
    for (const sub of [undefined, 42, null, ['a'], { id: 'a' }, '', 'x'.repeat(256), 'a\nb', 'a\u0000', 'a\u0085', '\ud800']) {
      expect({ sub, ...(await refused([`Authorization: Bearer ${token({ sub })}`])) }).toEqual({ sub, ...REFUSED })
    }
    expect((await refused([`Authorization: Bearer ${token({ sub: 'x'.repeat(255) })}`])).status).toBe(200)
  })

  it('should forward only string claims', async () => {
    const { arrived } = await send('/chat/v1/rooms/', [`Authorization: Bearer ${token({ nickname: 7, email: ['a@b.c'], picture: { url: 'x' } })}`])
    expect(arrived.map((r) => [headerValues(r, 'x-nickname'), headerValues(r, 'x-email'), headerValues(r, 'x-profile-url')])).toEqual([[['user-42'], [], []]])
  })

  it('should check iss and aud when JWT_ISSUER and JWT_AUDIENCE are set', async () => {
    const strict = await gatewayWith({ JWT_ISSUER: 'https://id.example.com', JWT_AUDIENCE: 'chat' })
    const iss = 'https://id.example.com'
    for (const good of [
      { iss, aud: 'chat' },
      { iss, aud: ['other', 'chat'] },
    ]) {
      expect((await refused([`Authorization: Bearer ${token(good)}`], strict)).status).toBe(200)
    }
    for (const claims of [{ aud: 'chat' }, { iss: 'https://evil.example.com', aud: 'chat' }, { iss }, { iss, aud: 'other' }, { iss, aud: ['other'] }, { iss, aud: [] }, { iss, aud: 7 }, { iss: [iss], aud: 'chat' }]) {
      expect({ claims, ...(await refused([`Authorization: Bearer ${token(claims)}`], strict)) }).toEqual({ claims, ...REFUSED })
    }
  })

  it('should allow JWT_LEEWAY_SECONDS of clock skew, 5 by default', async () => {
    const expiredBy = (seconds: number) => [`Authorization: Bearer ${token({ exp: now() - seconds })}`]
    expect((await refused(expiredBy(2))).status).toBe(200)
    expect((await refused(expiredBy(30))).status).toBe(401)
    const none = await gatewayWith({ JWT_LEEWAY_SECONDS: '0' })
    expect((await refused(expiredBy(1), none)).status).toBe(401)
    const wide = await gatewayWith({ JWT_LEEWAY_SECONDS: '120' })
    expect((await refused(expiredBy(60), wide)).status).toBe(200)
  })

  it('should refuse every token while JWT_LEEWAY_SECONDS is not a number of seconds from 0 to 300', async () => {
    for (const leeway of ['-1', '1.5', 'abc', '301', '5s', ' 5']) {
      const misconfigured = await gatewayWith({ JWT_LEEWAY_SECONDS: leeway })
      const { status, body, arrived } = await send('/chat/v1/rooms/', [`Authorization: Bearer ${token()}`], misconfigured)
      expect({ leeway, status, arrived: arrived.length }).toEqual({ leeway, status: 401, arrived: 0 })
      expect(body).toContain('JWT_LEEWAY_SECONDS')
      await misconfigured.stop()
      extraGateways.splice(extraGateways.indexOf(misconfigured), 1)
    }
  })
})

describe('the error log', () => {
  it('should hold nothing from jwt.js after all of the above', () => {
    expect(gateway.errorLog()).not.toContain('js')
  })
})
