import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { createHmac } from 'node:crypto'
import fc from 'fast-check'
import { signJson } from './support/jwt.ts'
import { rawRequest, startGateway, type Gateway, type RawResponse } from './support/nginx.ts'
import { headerValues, startRecorder, type Recorded, type Recorder } from './support/recorder.ts'

// Thousands of mutated and random tokens and paths through real nginx (the shipped template and
// jwt.js) in front of a recording upstream. Whatever reaches the upstream is either an exact public
// path with no query and none of the client's headers, or carries exactly the identity of a token
// this test signed as valid. A failure prints fast-check's seed and path; replay with
// GATEWAY_FUZZ_SEED=<seed>, and GATEWAY_FUZZ_RUNS=<n> for more or fewer runs.

const SEED = Number(process.env.GATEWAY_FUZZ_SEED ?? 20_240_611)
const RUNS = Number(process.env.GATEWAY_FUZZ_RUNS ?? 3000)
const JWT_SECRET = 'jwt-signing-secret-for-tests-only'
const GATEWAY_SECRET = 'gateway-shared-secret-0123456789'
const now = () => Math.floor(Date.now() / 1000)

let upstream: Recorder
let gateway: Gateway
beforeAll(async () => {
  upstream = startRecorder()
  gateway = await startGateway({ chatPort: upstream.port, jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET })
})
afterAll(async () => {
  await gateway?.stop()
  upstream?.stop()
})

// ---- tokens ----

interface Claims {
  sub: string
  nickname?: unknown
  name?: unknown
  email?: unknown
  picture?: unknown
  exp: number
  nbf?: number
  iat?: number
}

/** A token and whether this test made it valid (then with its claims). */
interface TestToken {
  token: string
  claims: Claims | null
}

const text = (chars: string, maxLength: number, minLength = 0) => fc.string({ unit: fc.constantFrom(...chars), minLength, maxLength })
const subject = text('abcxyzABC0129-_.@:|+/?%= 홍길동é😀', 64, 1)
const display = fc.option(fc.oneof(text('abc XYZ홍길동😀%+&"\\\n\'<>', 30), fc.constantFrom(7, null, ['x'], { a: 1 })), { nil: undefined })
const validClaims: fc.Arbitrary<Claims> = fc
  .record({
    sub: subject,
    nickname: display,
    name: display,
    email: fc.option(fc.constantFrom('hong@example.com', 'a+b@x.org', '김@example.kr'), { nil: undefined }),
    picture: fc.option(fc.constantFrom('https://cdn.example.com/p/1.png', '/media/a b.png'), { nil: undefined }),
    expIn: fc.integer({ min: 120, max: 365 * 86_400 }),
    nbfAgo: fc.option(fc.integer({ min: 0, max: 86_400 }), { nil: undefined }),
    iatAgo: fc.option(fc.integer({ min: 0, max: 86_400 }), { nil: undefined }),
  })
  .map(({ expIn, nbfAgo, iatAgo, ...rest }) => {
    const claims: Claims = { ...rest, exp: now() + expIn }
    if (nbfAgo !== undefined) claims.nbf = now() - nbfAgo
    if (iatAgo !== undefined) claims.iat = now() - iatAgo
    return JSON.parse(JSON.stringify(claims)) as Claims
  })
const HEADER = '{"alg":"HS256","typ":"JWT"}'
const validToken: fc.Arbitrary<TestToken> = validClaims.map((claims) => ({ token: signJson(HEADER, JSON.stringify(claims), JWT_SECRET), claims }))
const invalid = (token: string): TestToken => ({ token, claims: null })

// Characters a mutation may bring in: none is whitespace (a header would trim it) nor CR/LF.
const MUTATION_CHARS = 'AZaz09-_.=+/%~!,;"\\é'
const mutated = fc
  .tuple(validToken, fc.nat(), fc.constantFrom(...MUTATION_CHARS), fc.constantFrom('flip', 'insert', 'delete', 'truncate', 'case'))
  .map(([{ token }, at, char, how]) => {
    const i = at % token.length
    const changed = {
      flip: token.slice(0, i) + char + token.slice(i + 1),
      insert: token.slice(0, i) + char + token.slice(i),
      delete: token.slice(0, i) + token.slice(i + 1),
      truncate: token.slice(0, i),
      case: token.slice(0, i) + (token[i]!.toLowerCase() === token[i] ? token[i]!.toUpperCase() : token[i]!.toLowerCase()) + token.slice(i + 1),
    }[how]
    return { token, changed }
  })
  // Any change to the signed text or the signature makes a token invalid; no change, not.
  .filter(({ token, changed }) => changed !== token)
  .map(({ changed }) => changed)
const swapped = fc.tuple(validToken, validToken, fc.constantFrom('parts', 'signature', 'extra', 'none')).map(([a, b, how]) => {
  const [h, c, s] = a.token.split('.') as [string, string, string]
  const other = b.token.split('.')[2]!
  return { parts: `${c}.${h}.${s}`, signature: s === other ? `${h}.${c}.x${s}` : `${h}.${c}.${other}`, extra: `${h}.${c}.${s}.${s}`, none: `${h}.${c}.` }[how]
})
const BAD_HEADERS = [
  'null',
  '[]',
  '1',
  '"HS256"',
  'true',
  '{}',
  '{"alg":"none"}',
  '{"alg":"HS512"}',
  '{"alg":"RS256"}',
  '{"alg":"hs256"}',
  '{"alg":"HS256 "}',
  '{"alg":["HS256"]}',
  '{"alg":null}',
  '{"alg":"HS256","crit":["exp"]}',
  '{"alg":"HS256","crit":[]}',
  '{',
  '',
  'nul',
  '{"alg":"HS256"}x',
]
const badHeader = fc.tuple(validClaims, fc.constantFrom(...BAD_HEADERS)).map(([claims, header]) => signJson(header, JSON.stringify(claims), JWT_SECRET))
// Raw JSON values spliced into otherwise valid claims (JSON.stringify cannot write 1e999).
const future = () => now() + 3600
const BAD_FIELDS: [keyof Claims, () => string | undefined][] = [
  ['exp', () => undefined],
  ['exp', () => `"${future()}"`],
  ['exp', () => '"NaN"'],
  ['exp', () => '1e999'],
  ['exp', () => '-1e999'],
  ['exp', () => '1e308'],
  ['exp', () => 'null'],
  ['exp', () => 'true'],
  ['exp', () => '[]'],
  ['exp', () => `[${future()}]`],
  ['exp', () => String(now() - 60)],
  ['exp', () => '0'],
  ['nbf', () => String(now() + 600)],
  ['nbf', () => '"0"'],
  ['nbf', () => '1e308'],
  ['nbf', () => '-1'],
  ['iat', () => String(now() + 600)],
  ['iat', () => '1e999'],
  ['iat', () => '"now"'],
  ['sub', () => undefined],
  ['sub', () => '42'],
  ['sub', () => 'null'],
  ['sub', () => '[]'],
  ['sub', () => '{}'],
  ['sub', () => '""'],
  ['sub', () => JSON.stringify('x'.repeat(256))],
  ['sub', () => '"a\\nb"'],
  ['sub', () => '"a\\u0000"'],
  ['sub', () => '"\\u009f"'],
  ['sub', () => '"\\ud800"'],
  ['nickname', () => '"\\udfff"'],
  ['email', () => '"a\\ud800@x"'],
]
const badClaims = fc.oneof(
  fc.constantFrom('null', '[]', '42', '"user-42"', '{', '', 'true').map((claims) => signJson(HEADER, claims, JWT_SECRET)),
  fc.tuple(validClaims, fc.constantFrom(...BAD_FIELDS)).map(([claims, [field, raw]]) => {
    const rest: Record<string, unknown> = { ...claims }
    delete rest[field]
    const json = JSON.stringify(rest)
    const value = raw()
    return signJson(HEADER, value === undefined ? json : `${json.slice(0, -1)},"${field}":${value}}`, JWT_SECRET)
  }),
)
const otherSignatures = validClaims.chain((claims) =>
  fc.constantFrom(
    signJson(HEADER, JSON.stringify(claims), 'some-other-secret'),
    (() => {
      const head = `${Buffer.from('{"alg":"HS512"}').toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`
      return `${head}.${createHmac('sha512', JWT_SECRET).update(head).digest('base64url')}`
    })(),
    signJson(HEADER, JSON.stringify({ ...claims, nickname: 'x'.repeat(7000) }), JWT_SECRET),
  ),
)
const garbage = fc.oneof(
  fc.constantFrom('bnVsbA.e30.x', 'W10.e30.x', 'MQ.e30.x', 'e30.bnVsbA.x', 'e30.e30.e30', '..', '.', 'a.b', 'a.b.c.d', '%E0%A4%A', '%', 'eyJ', 'null'),
  text('AZaz09-_.', 120, 1),
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 60 }).map((s) => s.replace(/[\r\n\0]/g, '.')),
)
const anyToken: fc.Arbitrary<TestToken> = fc.oneof(
  { weight: 6, arbitrary: validToken },
  { weight: 4, arbitrary: mutated.map(invalid) },
  { weight: 2, arbitrary: swapped.map(invalid) },
  { weight: 2, arbitrary: badHeader.map(invalid) },
  { weight: 3, arbitrary: badClaims.map(invalid) },
  { weight: 1, arbitrary: otherSignatures.map(invalid) },
  { weight: 2, arbitrary: garbage.map(invalid) },
)

/** Where the token travels; only the places in CARRIES can carry a valid one. */
const PLACES = ['authorization', 'protocol-after-chat', 'protocol-first', 'protocol-own-header', 'both', 'query', 'query-encoded-name', 'basic', 'none'] as const
type Place = (typeof PLACES)[number]
const CARRIES = new Set<Place>(['authorization', 'protocol-after-chat', 'protocol-first', 'protocol-own-header'])
const anyPlace = fc.oneof(...PLACES.map((place) => ({ weight: CARRIES.has(place) ? 3 : 1, arbitrary: fc.constant(place) })))

function placeToken(token: string, place: Place): { query: string; headers: string[] } {
  switch (place) {
    case 'authorization':
      return { query: '', headers: [`Authorization: Bearer ${token}`] }
    case 'protocol-after-chat':
      return { query: '', headers: [`Sec-WebSocket-Protocol: chat, bearer.${token}`] }
    case 'protocol-first':
      return { query: '', headers: [`Sec-WebSocket-Protocol: bearer.${token},chat`] }
    case 'protocol-own-header':
      return { query: '', headers: ['Sec-WebSocket-Protocol: chat', `Sec-WebSocket-Protocol: bearer.${token}`] }
    case 'both':
      return { query: '', headers: [`Authorization: Bearer ${token}`, `Sec-WebSocket-Protocol: chat, bearer.${token}`] }
    case 'query':
      return { query: `token=${token}`, headers: [] }
    case 'query-encoded-name':
      return { query: `limit=5&%74oken=${token}`, headers: [] }
    case 'basic':
      return { query: '', headers: [`Authorization: Basic ${token}`] }
    case 'none':
      return { query: '', headers: [] }
  }
}

// ---- paths ----

const PROTECTED = ['/chat/v1/rooms/', '/chat/v1/room/1/messages/', '/ws/chat/1/chat/', '/chat/v1/create-room/']
const PUBLIC = ['/healthz', '/docs', '/docs/json', '/docs/asyncapi.json', '/docs/assets/swagger-ui.css']
// The test page and its files, public too: starts for the path property only (the token property aims at the API).
const PAGE = ['/', '/chat_gateway_test.html', '/chunk-abc.js', '/chunk-abc.css']
const OTHER = ['/readyz', '/metrics', '/docs/', '/healthz/', '/chunk.json', '']
// Tricky pieces, and plain ones often enough that valid requests get through and are checked too.
const TRICKY_SEPARATORS = ['\\', '%5C', '%5c', '%2F', '%2f', '//', '/./', '/../']
const TRICKY_SEGMENTS = ['..', '.', '%2e%2e', '%2E%2E', '.%2e', '%2e', '%00', '#', '%3F', '?', 'é', '%', '%zz', '%20', '%25', '%63hat', '%77s', 'chat', 'ws', 'metrics', 'readyz', 'docs', 'healthz', 'json']
const PLAIN_SEGMENTS = ['rooms', '1', 'v1', 'x', ';', '~', 'a-b', ':', '@', '!']
const TRICKY_QUERIES = [
  '?user_id=alice&nickname=Alice&email=a@example.com',
  '?/chat/v1/rooms/',
  '?%zz',
  '?a=%E0%A4%A',
  '?token=x',
  '?user%5Fid=alice',
  '?since=0&user_id=alice',
  '?x=\\',
  '?x=%5c',
  '?x=/../',
  '?USER_ID=alice&limit=2',
  '?profile_url=/x&limit=3',
  '?a=b#frag',
  '?x=%2F',
]
const PLAIN_QUERIES = ['', '?', '?limit=5', '?&&limit=1&', '?since=0', '?after=3&limit=2']
const weighted = <T>(plain: T[], tricky: T[]) => fc.oneof({ weight: 2, arbitrary: fc.constantFrom(...plain) }, { weight: 1, arbitrary: fc.constantFrom(...tricky) })
// Each piece is a segment and what follows it; the starts above end in / or a name.
const piece = fc.tuple(fc.oneof(weighted(PLAIN_SEGMENTS, TRICKY_SEGMENTS), text('az09._~-', 6, 1)), weighted(['/', ''], TRICKY_SEPARATORS))
const path = fc
  .tuple(fc.constantFrom(...PROTECTED, ...PUBLIC, ...PAGE, ...OTHER), fc.array(piece, { maxLength: 4 }), weighted(PLAIN_QUERIES, TRICKY_QUERIES))
  .map(([start, pieces, query]) => ({ path: (start + pieces.map(([segment, after]) => segment + after).join('')).replace(/^(?!\/)/, '/'), query: query.replace(/^\?/, '') }))
const host = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('localhost', 'chat.example.com', '127.0.0.1', '[::1]', 'gw_1.internal', 'localhost:8080') },
  { weight: 1, arbitrary: fc.constantFrom('x', 'ab', 'abc', 'x:80', 'a..b', '') },
)
const SPOOF = ['X-User-Id: mallory', 'X-Nickname: Mallory', 'X-Email: m@evil.example', 'X-Profile-Url: /m.png', `X-Gateway-Secret: ${GATEWAY_SECRET}`, 'X-Service-Secret: s', 'X_User_Id: mallory', 'Cookie: a=b']
const UPGRADE = ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13']

// ---- the property ----

interface Attempt {
  method: 'GET' | 'POST'
  path: string
  query: string
  host: string
  headers: string[]
  /** The claims of the one valid token this request carries where a token may travel, else null. */
  valid: Claims | null
}

function buildAttempt(t: TestToken, place: Place, target: { path: string; query: string }, host: string, spoof: boolean, upgrade: boolean, method: 'GET' | 'POST'): Attempt {
  const placed = placeToken(t.token, place)
  const query = [target.query, placed.query].filter(Boolean).join('&')
  const headers = [...placed.headers, ...(spoof ? SPOOF : []), ...(upgrade ? UPGRADE : [])]
  return { method, path: target.path, query, host, headers, valid: t.claims && CARRIES.has(place) ? t.claims : null }
}

async function send(attempt: Attempt): Promise<{ res: RawResponse; arrived: Recorded[] }> {
  const before = upstream.received.length
  const target = attempt.path + (attempt.query ? `?${attempt.query}` : '')
  const head = [`${attempt.method} ${target} HTTP/1.1`, `Host: ${attempt.host}`, ...attempt.headers].join('\r\n')
  const res = await rawRequest(gateway.port, head, attempt.method === 'POST' ? '{"name":"fuzz"}' : '')
  return { res, arrived: upstream.received.slice(before) }
}

const PUBLIC_URI = /^\/(healthz|docs|docs\/json|docs\/asyncapi\.json|docs\/assets\/[A-Za-z0-9_-][A-Za-z0-9._-]*|chat_gateway_test\.html|[A-Za-z0-9_-][A-Za-z0-9._-]*\.(js|css))?$/
const AMBIGUOUS = /[\\#]|%5c|%2f|%2e|%00|[^\x21-\x7e]|\/\.\.?(\/|\?|$)/i
const IDENTITY = ['x-user-id', 'x-nickname', 'x-email', 'x-profile-url']
const stringClaim = (value: unknown) => (typeof value === 'string' ? value : '')

/** The identity headers a valid token must produce (an empty one is not sent). */
function expectedIdentity(claims: Claims): Record<string, string[]> {
  const values = [claims.sub, stringClaim(claims.nickname) || stringClaim(claims.name) || claims.sub, stringClaim(claims.email), stringClaim(claims.picture)]
  return Object.fromEntries(IDENTITY.map((name, i) => [name, values[i] ? [encodeURIComponent(values[i]!)] : []]))
}

type Outcome = 'refused' | 'public' | 'identity'
const tally = () => ({ refused: 0, public: 0, identity: 0 })
const describeTally = (name: string, counts: Record<Outcome, number>) =>
  `gateway fuzz, ${name}: seed ${SEED}, ${RUNS} runs: ${counts.identity} forwarded with a valid token's identity, ${counts.public} to public paths, ${counts.refused} refused`

/** Checks one request's fate against the property; says which of the three it was. */
function check(attempt: Attempt, res: RawResponse, arrived: Recorded[]): Outcome {
  expect(res.status).toBeGreaterThanOrEqual(200)
  expect(res.status).toBeLessThan(500)
  expect(arrived.length).toBeLessThanOrEqual(1)
  if (arrived.length === 0) {
    // A refusal, or nginx's own redirect from /chat and /ws to /chat/ and /ws/.
    expect(res.status).toBeGreaterThanOrEqual(300)
    return 'refused'
  }
  const request = arrived[0]!
  const names = request.headers.map(([name]) => name).sort()
  if (PUBLIC_URI.test(request.uri)) {
    // (a) an exact public path: no query, and of the client's headers only the Host.
    expect(names).toEqual(request.uri === '/healthz' ? ['host'] : ['host', 'x-gateway-secret'])
    return 'public'
  }
  // (b) anything else only with a token this test signed as valid, and exactly its identity.
  expect({ uri: request.uri, valid: attempt.valid !== null }).toEqual({ uri: request.uri, valid: true })
  expect(request.uri).toMatch(/^\/(chat|ws)\//)
  expect(request.uri).not.toMatch(AMBIGUOUS)
  expect(request.uri.split('?')[0]).not.toMatch(/\/\/|%/)
  expect(request.uri.split('?')[0]).toBe(attempt.path.split('?')[0])
  const query = new URLSearchParams(request.uri.split('?')[1] ?? '')
  for (const name of query.keys()) expect(['user_id', 'nickname', 'email', 'profile_url', 'token', 'access_token']).not.toContain(name.toLowerCase())
  const identity = Object.fromEntries(IDENTITY.map((name) => [name, headerValues(request, name)]))
  expect(identity).toEqual(expectedIdentity(attempt.valid!))
  expect(headerValues(request, 'x-gateway-secret')).toEqual([GATEWAY_SECRET])
  for (const name of ['authorization', 'x-service-secret']) expect(headerValues(request, name)).toEqual([])
  for (const value of headerValues(request, 'sec-websocket-protocol')) expect(value).not.toMatch(/bearer\./i)
  return 'identity'
}

const sentTokens: string[] = []

describe('the gateway under fuzzing', () => {
  it(`should let no invalid token through (seed ${SEED}, ${RUNS} runs)`, async () => {
    const target = fc.constantFrom(...PROTECTED, ...PUBLIC).map((p) => ({ path: p, query: '' }))
    const counts = tally()
    await fc.assert(
      fc.asyncProperty(anyToken, anyPlace, target, fc.boolean(), fc.boolean(), async (t, place, where, spoof, upgrade) => {
        sentTokens.push(t.token)
        const attempt = buildAttempt(t, place, where, 'chat.example.com', spoof, upgrade, 'GET')
        const { res, arrived } = await send(attempt)
        counts[check(attempt, res, arrived)]++
        // A valid token on a protected path in a place for tokens goes through.
        if (attempt.valid && PROTECTED.includes(where.path)) expect({ token: t.token, status: res.status }).toEqual({ token: t.token, status: 200 })
      }),
      { seed: SEED, numRuns: RUNS },
    )
    console.info(describeTally('tokens', counts))
    // The generators reach the valid path too, not only refusals.
    expect(counts.identity).toBeGreaterThan(RUNS / 20)
  }, 120_000)

  it(`should send no tricky path anywhere but a public path or, with a valid token, its own (seed ${SEED}, ${RUNS} runs)`, async () => {
    const token = fc.oneof({ weight: 4, arbitrary: validToken }, { weight: 1, arbitrary: fc.constant(invalid('bnVsbA.e30.x')) }, { weight: 1, arbitrary: fc.constant(invalid('')) })
    const place = fc.constantFrom<Place>('authorization', 'protocol-after-chat', 'none')
    const counts = tally()
    await fc.assert(
      fc.asyncProperty(token, place, path, host, fc.boolean(), fc.boolean(), fc.constantFrom<'GET' | 'POST'>('GET', 'POST'), async (t, tokenPlace, target, hostName, spoof, upgrade, method) => {
        sentTokens.push(t.token)
        const attempt = buildAttempt(t, t.token === '' ? 'none' : tokenPlace, target, hostName, spoof, upgrade, method)
        const { res, arrived } = await send(attempt)
        counts[check(attempt, res, arrived)]++
      }),
      { seed: SEED, numRuns: RUNS },
    )
    console.info(describeTally('paths', counts))
    expect(counts.identity).toBeGreaterThan(RUNS / 50)
  }, 120_000)

  it('should have written no token and no jwt.js exception to the logs', () => {
    const logs = gateway.errorLog() + gateway.accessLog()
    expect(logs).not.toContain('js exception')
    // Every HS256 signature is 43 characters: look each 43-character window of the logs up.
    const signatures = new Set(sentTokens.map((t) => t.split('.')[2] ?? '').filter((s) => s.length === 43))
    const leaked: string[] = []
    for (const [run] of logs.matchAll(/[A-Za-z0-9_-]{43,}/g)) {
      for (let i = 0; i + 43 <= run.length; i++) if (signatures.has(run.slice(i, i + 43))) leaked.push(run)
    }
    expect(leaked).toEqual([])
  })
})
