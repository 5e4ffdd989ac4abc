import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { createChatClient, type AuthContext, type AuthParams, type Message, type StopInfo } from '../client/src/index.ts'
import { QUICK_RECONNECT, RoomLog } from './support/client.ts'
import { until } from './support/wait.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import { signJwt } from './support/jwt.ts'
import { startGateway, type Gateway } from './support/nginx.ts'
import { startTestServer, type TestServer } from './support/server.ts'

// The client behind the reference nginx gateway, which verifies JWTs: the app's auth hook hands out
// tokens, the gateway refuses expired ones with 401, and the client must ask the hook again.
const JWT_SECRET = 'jwt-signing-secret-for-tests-only'
const GATEWAY_SECRET = 'gateway-shared-secret-0123456789'
const seconds = () => Math.floor(Date.now() / 1000)
const hong = { sub: 'user-42', nickname: '홍길동', email: 'hong@example.com' }
/** A token for `claims` that expires `ttl` seconds from now (no leeway at this gateway). */
const token = (claims: Record<string, unknown>, ttl = 300) => signJwt({ ...claims, exp: seconds() + ttl }, JWT_SECRET)

/**
 * An auth hook as an app writes one: it keeps its current token and gets a new one from `renew`
 * only when asked to refresh. Records each call's `refresh`.
 */
function tokenHook(first: string, renew: () => string) {
  const calls: boolean[] = []
  /** Why each refresh was asked for. */
  const refusals: string[] = []
  let current = first
  const auth = ({ refresh, refused }: AuthContext): AuthParams => {
    calls.push(refresh)
    if (refused) refusals.push(refused.detail)
    if (refresh) current = renew()
    return { token: current }
  }
  return { auth, calls, refusals }
}

let chat: TestServer
let gateway: Gateway
/** Between the clients and nginx, to cut their connections. */
let proxy: FaultProxy
let via: string
beforeAll(async () => {
  chat = await startTestServer({ GATEWAY_SECRET, IDENTITY_SOURCES: 'headers' })
  gateway = await startGateway({ chatPort: Number(new URL(chat.base).port), jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET, env: { JWT_LEEWAY_SECONDS: '0' } })
  proxy = await FaultProxy.start(gateway.port, 'gateway')
  via = `http://127.0.0.1:${proxy.port}`
}, 30_000)
afterAll(async () => {
  await proxy?.close()
  await gateway?.stop()
  await chat?.destroy()
})

const newRoom = async () => (await createChatClient({ baseUrl: gateway.base, auth: () => ({ token: token(hong) }) }).api.createRoom({ name: 'tokens' })).id

describe('credentials from the auth hook, through the reference gateway', () => {
  it('should ask the hook again when the token expired during a connection, and reconnect as the identity of the new token', async () => {
    const roomId = await newRoom()
    // The first token lives two seconds; fresh ones carry a new nickname, so their use shows.
    const hook = tokenHook(token(hong, 2), () => token({ ...hong, nickname: '홍길동 (new token)' }))
    const client = createChatClient({ baseUrl: via, auth: hook.auth, reconnect: QUICK_RECONNECT })
    const log = new RoomLog(client.room(roomId, { since: 0 }))
    expect(await log.room.send('with the first token')).toMatchObject({ user_id: 'user-42', nickname: '홍길동' })

    // The token expires while the socket is open (the gateway checked it at the handshake only)...
    await Bun.sleep(2_500)
    expect(log.room.state).toBe('open')
    // ...then the network drops: the reconnect's handshake is refused with 401, the hook is asked afresh.
    const before = hook.calls.length
    expect(hook.calls).not.toContain(true)
    proxy.cut()
    await until(() => log.states.at(-1) === 'open' && log.states.includes('reconnecting'), { what: 'reconnected' })
    // Asked for a fresh token once (later calls, for REST, get the app's current one).
    expect(hook.calls.slice(before).filter((refresh) => refresh)).toEqual([true])
    // The hook is told why: the gateway's own words.
    expect(hook.refusals).toEqual([expect.stringContaining('expired')])
    const sent = await log.room.send('with the fresh token')
    expect(sent).toMatchObject({ user_id: 'user-42', nickname: '홍길동 (new token)' })
    await until(() => log.messages.length === 2, { what: 'both messages' })
    expect(log.texts()).toEqual(['with the first token', 'with the fresh token'])
    expect(log.stopped).toBeNull()
    log.room.close()
  }, 20_000)

  it('should take a fresh token for a REST call refused with 401, once, and report a second refusal', async () => {
    const roomId = await newRoom()
    const expired = signJwt({ ...hong, exp: seconds() - 60 }, JWT_SECRET)
    const hook = tokenHook(expired, () => token(hong))
    const history: Message[] = await createChatClient({ baseUrl: via, auth: hook.auth }).api.history(roomId)
    expect(history).toEqual([])
    expect(hook.calls).toEqual([false, true])

    const stale = tokenHook(expired, () => expired)
    const refused = await createChatClient({ baseUrl: via, auth: stale.auth })
      .api.history(roomId)
      .then(
        () => null,
        (error: unknown) => error,
      )
    expect(refused).toMatchObject({ name: 'ChatApiError', status: 401 })
    expect(stale.calls).toEqual([false, true])
  })

  it('should give up, saying why, when fresh tokens are refused too, rather than retry forever', async () => {
    const roomId = await newRoom()
    const hook = tokenHook(token(hong, -60), () => token(hong, -60))
    const room = createChatClient({ baseUrl: via, auth: hook.auth, reconnect: { ...QUICK_RECONNECT, maxAuthFailures: 3 } }).room(roomId)
    const stopped = await new Promise<StopInfo>((resolve) => room.on('stopped', resolve))
    expect(stopped).toMatchObject({ reason: 'unauthorized', error: { status: 401 } })
    expect(room.state).toBe('closed')
    // One first attempt, then a refreshed one per refusal; nothing more after it stopped.
    const calls = hook.calls.length
    expect(hook.calls).toEqual([false, true, true])
    await Bun.sleep(600)
    expect(hook.calls.length).toBe(calls)
    await expect(room.send('anyone?')).rejects.toMatchObject({ name: 'ChatSendError', code: 'stopped' })
  })

  it('should let a hook that waits for a sign-in stop waiting when the app closes the connection', async () => {
    const roomId = await newRoom()
    let aborted = false
    let asked = false
    const auth = ({ refresh, signal }: AuthContext): Promise<AuthParams> | AuthParams => {
      if (!refresh) return { token: token(hong, -60) }
      asked = true
      // A sign-in that never finishes: only the connection's end releases it.
      return new Promise((_, reject) => signal?.addEventListener('abort', () => ((aborted = true), reject(new Error('closed')))))
    }
    const room = createChatClient({ baseUrl: via, auth, reconnect: QUICK_RECONNECT }).room(roomId)
    const errors: Error[] = []
    room.on('error', (error) => errors.push(error))
    await until(() => asked, { what: 'a fresh token asked for' })
    expect(room.state).toBe('reconnecting')
    room.close()
    await until(() => aborted, { what: 'the wait aborted' })
    await Bun.sleep(100)
    // Closed by the app: the abandoned wait is no error of the connection.
    expect({ state: room.state, errors }).toEqual({ state: 'closed', errors: [] })
  })

  it('should connect at once with a fresh token when the first one the app had was already expired', async () => {
    const roomId = await newRoom()
    const hook = tokenHook(token(hong, -60), () => token(hong))
    // A backoff of up to a minute: only a retry made at once connects within the wait below.
    const room = createChatClient({ baseUrl: via, auth: hook.auth, reconnect: { baseMs: 60_000, capMs: 60_000 } }).room(roomId)
    await until(() => room.state === 'open', { what: 'connected', timeoutMs: 3000 })
    // Refused once, refreshed at once: no backoff, no second refusal.
    expect(hook.calls.slice(0, 2)).toEqual([false, true])
    expect(hook.calls.filter((refresh) => refresh)).toEqual([true])
    room.close()
  })
})
