import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { alice, bob, identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'

describe('GET /chat/v1/me/', () => {
  let server: TestServer
  beforeAll(async () => {
    server = await startTestServer()
  })
  afterAll(() => server.destroy())

  const me = (headers: Record<string, string>) => server.http('/chat/v1/me/', { headers })

  it('should answer the identity the gateway forwarded with the request', async () => {
    const res = await me(identityHeaders(alice))
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ user_id: alice.user_id, nickname: alice.nickname, email: alice.email, profile_picture_url: alice.profile_url! })
    // One user's answer: no shared cache may hand it to another.
    expect(res.headers.get('cache-control')).toBe('private, no-store')
  })

  it('should decode percent-encoded values, Korean ones included, and say null for no picture', async () => {
    const hong: TestUser = { user_id: '사용자-7', nickname: '홍길동', email: 'hong@example.com' }
    expect(await (await me(identityHeaders(hong))).json()).toEqual({ user_id: '사용자-7', nickname: '홍길동', email: 'hong@example.com', profile_picture_url: null })
    expect(await (await me(identityHeaders(bob))).json()).toMatchObject({ user_id: bob.user_id, nickname: '밥', profile_picture_url: null })
  })

  it('should answer whoever each request names, not whoever asked before', async () => {
    const answers = await Promise.all([alice, bob, alice].map(async (user) => ((await (await me(identityHeaders(user))).json()) as { user_id: string }).user_id))
    expect(answers).toEqual([alice.user_id, bob.user_id, alice.user_id])
  })

  it('should refuse a request without identity with 401 identity_required', async () => {
    const res = await me({})
    expect(res.status).toBe(401)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    expect(await res.json()).toMatchObject({ status: 401, code: 'identity_required' })
  })

  it('should refuse identity headers that are invalid with 400 invalid_identity', async () => {
    const { 'x-email': _email, ...withoutEmail } = identityHeaders(alice)
    const res = await me(withoutEmail)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ code: 'invalid_identity' })
  })
})
