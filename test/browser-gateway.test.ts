import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { createChatClient } from '../client/src/index.ts'
import { artifacts, connectPage, launchBrowser, newChatPage, sendFromPage, stateBadge, type ChatPage } from './support/browser.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import { signJwt } from './support/jwt.ts'
import { startGateway, type Gateway } from './support/nginx.ts'
import { startTestServer, type TestServer } from './support/server.ts'

// The test page behind the reference nginx gateway, which verifies JWTs: the page holds a pasted
// token, the gateway refuses it once expired, and the page asks its user for a fresh one.
const JWT_SECRET = 'jwt-signing-secret-for-tests-only'
const GATEWAY_SECRET = 'gateway-shared-secret-0123456789'
const seconds = () => Math.floor(Date.now() / 1000)
const hong = { sub: 'user-42', nickname: '홍길동', email: 'hong@example.com' }
/** A token for `claims` that expires `ttl` seconds from now (no leeway at this gateway). */
const token = (claims: Record<string, unknown>, ttl = 300) => signJwt({ ...claims, exp: seconds() + ttl }, JWT_SECRET)

let browser: Browser
let chat: TestServer
let gateway: Gateway
/** Between the browser and nginx, to cut its connections. */
let proxy: FaultProxy
let via: string
beforeAll(async () => {
  // The page's own files come from the test rather than the network (below), and Chromium gives
  // such a page no address space, so its local-network checks would refuse its loopback sockets.
  browser = await launchBrowser(['--disable-features=LocalNetworkAccessChecks'])
  chat = await startTestServer({ GATEWAY_SECRET, IDENTITY_SOURCES: 'headers' })
  gateway = await startGateway({ chatPort: Number(new URL(chat.base).port), jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET, env: { JWT_LEEWAY_SECONDS: '0' } })
  proxy = await FaultProxy.start(gateway.port, 'gateway')
  via = `http://127.0.0.1:${proxy.port}`
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await proxy?.close()
  await gateway?.stop()
  await chat?.destroy()
})

/** The chat API through the gateway, as `hong` with a token of their own. */
const api = () => createChatClient({ baseUrl: gateway.base, auth: () => ({ token: token(hong) }) }).api

/**
 * The test page at the proxy's origin. The gateway passes on only the chat API (/chat/, /ws/),
 * so the page's own files are fetched from the chat server directly, with the gateway's secret,
 * as a deployment would serve them beside the gateway; its REST calls and sockets go through
 * the proxy and nginx.
 */
async function openPageBehindGateway(options: { fakeClock?: boolean } = {}): Promise<ChatPage> {
  const opened = await newChatPage(browser)
  const { page } = opened
  if (options.fakeClock) await page.clock.install()
  await page.route(
    (url) => !/^\/(chat|ws)\//.test(url.pathname),
    async (route) => {
      const { pathname, search } = new URL(route.request().url())
      const response = await route.fetch({ url: chat.base + pathname + search, headers: { ...route.request().headers(), 'x-gateway-secret': GATEWAY_SECRET } })
      await route.fulfill({ response })
    },
  )
  await page.goto(`${via}/chat_gateway_test.html`)
  return opened
}

/** The stored messages a page shows: text, sender's nickname, and whether it is marked as the page user's own. */
const shownRows = (page: Page) =>
  page
    .locator('#messages li.message')
    .evaluateAll((items) => items.map((li) => ({ text: li.querySelector('.text')?.textContent ?? '', nickname: li.querySelector('.meta strong')?.textContent ?? '', mine: li.classList.contains('mine') })))
const prompt = (page: Page) => page.getByTestId('token-refused')
const waitForState = (page: Page, state: 'connected' | 'reconnecting' | 'disconnected') =>
  stateBadge(page)
    .filter({ hasText: new RegExp(`^${state}$`) })
    .waitFor({ timeout: 15_000 })

describe('the chat test page with a bearer token, through the reference gateway', () => {
  it('should connect as the user the token names, ask for a fresh token when the gateway refuses the expired one, and go on as the identity of the new token', async () => {
    const roomId = (await api().createRoom({ name: 'token page' })).id
    const a = await openPageBehindGateway()
    const { page } = a
    try {
      // The room list the page asks for as it loads goes out before it has a token (and is refused).
      await page.locator('[data-testid=errors] p', { hasText: 'Could not list rooms: no token' }).waitFor()
      // Three seconds to live: no identity fields, the gateway takes the user from the token.
      const exp = seconds() + 3
      const first = signJwt({ ...hong, exp }, JWT_SECRET)
      await page.getByTestId('token').fill(first)
      await page.getByTestId('token-identity').filter({ hasText: 'As 홍길동 (user-42, hong@example.com)' }).waitFor()
      expect(await page.inputValue('#user_id')).toBe('')
      await page.fill('#room_id', String(roomId))
      await connectPage(page)
      await sendFromPage(page, 'with the first token')
      await page.locator('#messages li.message', { hasText: 'with the first token' }).waitFor()
      expect(await shownRows(page)).toEqual([{ text: 'with the first token', nickname: '홍길동', mine: true }])
      // A credential: remembered in its field only, not with the other settings.
      expect(await page.evaluate(() => JSON.stringify({ ...localStorage }))).not.toContain(first)

      // The token expires while the socket is open (the gateway checked it at the handshake only)...
      await Bun.sleep(exp * 1000 - Date.now() + 300)
      expect(await stateBadge(page).textContent()).toBe('connected')
      expect(await prompt(page).isHidden()).toBe(true)
      // ...then the network drops: the reconnect's handshake is refused (401), and the page asks.
      proxy.cut()
      await prompt(page).waitFor({ timeout: 15_000 })
      expect(await prompt(page).textContent()).toContain('The gateway refused the token (token expired): paste a fresh one')
      expect(await stateBadge(page).textContent()).toBe('reconnecting')
      expect(gateway.accessLog()).toContain(`"path":"/ws/chat/${roomId}/chat/","status":401`)
      await page.screenshot({ path: join(artifacts, 'page-token-refused.png') })

      await page.getByTestId('token').fill(token({ ...hong, nickname: '홍길동 (new token)' }))
      await prompt(page).waitFor({ state: 'hidden' })
      await waitForState(page, 'connected')
      await page.getByTestId('token-identity').filter({ hasText: 'As 홍길동 (new token) (user-42' }).waitFor()
      await sendFromPage(page, 'with the fresh token')
      await page.locator('#messages li.message', { hasText: 'with the fresh token' }).waitFor()
      expect(await shownRows(page)).toEqual([
        { text: 'with the first token', nickname: '홍길동', mine: true },
        { text: 'with the fresh token', nickname: '홍길동 (new token)', mine: true },
      ])
      expect(await page.getByTestId('pending').count()).toBe(0)

      // The server stored each message as the identity of the token it came with.
      const history = await api().history(roomId)
      expect(history.map(({ message, user_id, nickname }) => ({ message, user_id, nickname }))).toEqual([
        { message: 'with the first token', user_id: 'user-42', nickname: '홍길동' },
        { message: 'with the fresh token', user_id: 'user-42', nickname: '홍길동 (new token)' },
      ])
      // Nothing was refused but the room list the page asks for as it loads, before it has a token.
      expect(await page.locator('[data-testid=errors] p').allTextContents()).toEqual([expect.stringMatching(/^Could not list rooms: no token/)])
      await page.screenshot({ path: join(artifacts, 'page-fresh-token.png') })
      expect([...a.dialogs, ...a.violations]).toEqual([])
    } finally {
      await a.context.close()
    }
  }, 60_000)

  it('should stop as unauthorized, saying so, when no fresh token comes', async () => {
    const roomId = (await api().createRoom({ name: 'no fresh token' })).id
    // The page waits a while for each fresh token; its clock is moved on instead of waiting.
    const a = await openPageBehindGateway({ fakeClock: true })
    const { page } = a
    try {
      await page.getByTestId('token').fill(token(hong))
      await page.fill('#room_id', String(roomId))
      await connectPage(page)
      // An expired token takes its place; the next handshake, after the cut, is refused.
      await page.getByTestId('token').fill(token(hong, -60))
      proxy.cut()
      // Asked for a fresh token after each refusal but the last; none comes.
      for (let ask = 0; ask < 2; ask++) {
        await prompt(page).waitFor({ timeout: 15_000 })
        await page.clock.fastForward(31_000)
        await prompt(page).waitFor({ state: 'hidden' })
      }
      await page.getByTestId('errors').filter({ hasText: 'The server refused these credentials: token expired' }).waitFor({ timeout: 15_000 })
      await waitForState(page, 'disconnected')
      expect(await prompt(page).isHidden()).toBe(true)
      expect([...a.dialogs, ...a.violations]).toEqual([])
    } finally {
      await a.context.close()
    }
  }, 60_000)
})
