import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { artifacts, launchBrowser } from './support/browser.ts'
import { alice, bob, carol, createRoom, identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'

let server: TestServer
let browser: Browser
beforeAll(async () => {
  server = await startTestServer()
  browser = await launchBrowser()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await server?.destroy()
})

/** Collects what the browser reports as blocked by the page's content security policy. */
function cspViolations(page: Page): string[] {
  const violations: string[] = []
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) violations.push(message.text())
  })
  return violations
}

/** A page in its own browser context (its own localStorage), with dialogs and policy violations recorded. */
async function openChatPage(user: TestUser, roomId?: number): Promise<{ page: Page; context: BrowserContext; dialogs: string[]; violations: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 760 } })
  const page = await context.newPage()
  const dialogs: string[] = []
  const violations = cspViolations(page)
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  await page.goto(`${server.base}/`)
  await page.fill('#user_id', user.user_id)
  await page.fill('#nickname', user.nickname)
  await page.fill('#email', user.email)
  await page.fill('#profile_url', user.profile_url ?? '')
  if (roomId !== undefined) await page.fill('#room_id', String(roomId))
  return { page, context, dialogs, violations }
}

const state = (page: Page) => page.locator('[data-testid=state]')
const messageTexts = (page: Page) => page.locator('#messages li.message .text').allTextContents()

async function send(page: Page, text: string) {
  await page.fill('#message', text)
  await page.click('#send')
}

describe('the chat test page', () => {
  it('should let two users chat both ways, with join, leave and typing, rendering text as text', async () => {
    const a = await openChatPage(alice)
    // Create the room from the page itself.
    await a.page.fill('#room_name', '브라우저 방')
    await a.page.click('#create-room button[type=submit]')
    await a.page.locator('#rooms li', { hasText: '브라우저 방' }).waitFor()
    await a.page.waitForFunction(() => (document.getElementById('room_id') as HTMLInputElement).value !== '')
    const roomId = Number(await a.page.inputValue('#room_id'))
    expect(roomId).toBeGreaterThan(0)
    await a.page.click('#connect')
    await state(a.page).filter({ hasText: 'connected' }).waitFor()

    const b = await openChatPage(bob, roomId)
    await b.page.click('#connect')
    await state(b.page).filter({ hasText: /^connected$/ }).waitFor()
    await a.page.locator('#messages li.notice', { hasText: '밥 joined' }).waitFor()

    await send(a.page, 'hello from Alice')
    await b.page.locator('#messages li.message .text', { hasText: 'hello from Alice' }).waitFor()
    await send(b.page, '안녕하세요, 앨리스')
    await a.page.locator('#messages li.message .text', { hasText: '안녕하세요, 앨리스' }).waitFor()

    // Typing is throttled to one notice per 2 s (client and server); the last one went with the message.
    await Bun.sleep(2100)
    await b.page.type('#message', 'typing…')
    await a.page.locator('[data-testid=typing]', { hasText: '밥 is typing' }).waitFor()
    await b.page.fill('#message', '')

    const attack = '<img src=x onerror=alert(1)>'
    await send(b.page, attack)
    for (const page of [a.page, b.page]) {
      await page.locator('#messages li.message .text', { hasText: attack }).waitFor()
      expect(await page.locator('#messages img[src="x"]').count()).toBe(0)
    }
    await Bun.sleep(300)
    expect(a.dialogs).toEqual([])
    expect(b.dialogs).toEqual([])
    // The page runs under its content security policy without tripping it.
    expect([...a.violations, ...b.violations]).toEqual([])
    expect(await messageTexts(a.page)).toEqual(['hello from Alice', '안녕하세요, 앨리스', attack])

    await a.page.screenshot({ path: join(artifacts, 'chat-alice.png') })
    await b.page.screenshot({ path: join(artifacts, 'chat-bob.png') })

    await b.page.click('#disconnect')
    await a.page.locator('#messages li.notice', { hasText: '밥 left' }).waitFor()
    await Promise.all([a.context.close(), b.context.close()])
  }, 60_000)

  it('should remember its fields in localStorage', async () => {
    const a = await openChatPage(carol, 5)
    await a.page.locator('#email').dispatchEvent('change')
    await a.page.reload()
    expect(await a.page.inputValue('#nickname')).toBe(carol.nickname)
    expect(await a.page.inputValue('#room_id')).toBe('5')
    await a.context.close()
  })

  it('should load older history when scrolled to the top', async () => {
    const roomId = await createRoom(server, 'long history')
    for (let i = 0; i < 120; i++) await server.post('/chat/v1/message/', { message: `old ${i}`, room: roomId }, identityHeaders(carol))
    const a = await openChatPage(alice, roomId)
    await a.page.click('#connect')
    await state(a.page).filter({ hasText: /^connected$/ }).waitFor()
    await a.page.locator('#messages li.message .text', { hasText: 'old 119' }).waitFor()
    expect(await a.page.locator('#messages li.message').count()).toBe(50)
    for (const expected of [100, 120]) {
      await a.page.locator('#messages').evaluate((el) => el.scrollTo(0, 0))
      await a.page.waitForFunction((n) => document.querySelectorAll('#messages li.message').length === n, expected)
    }
    const texts = await messageTexts(a.page)
    expect(texts).toEqual(Array.from({ length: 120 }, (_, i) => `old ${i}`))
    await a.context.close()
  }, 60_000)

  it('should reconnect after a server restart and show what was sent meanwhile, once', async () => {
    const roomId = await createRoom(server, 'restart')
    const a = await openChatPage(alice, roomId)
    await a.page.click('#connect')
    await state(a.page).filter({ hasText: /^connected$/ }).waitFor()
    await send(a.page, 'before the restart')
    await a.page.locator('#messages li.message .text', { hasText: 'before the restart' }).waitFor()

    await server.stop()
    await state(a.page).filter({ hasText: 'reconnecting' }).waitFor()
    server = await server.restart()
    for (let i = 0; i < 3; i++) await server.post('/chat/v1/message/', { message: `while away ${i}`, room: roomId }, identityHeaders(bob))

    await a.page.locator('#messages li.message .text', { hasText: 'while away 2' }).waitFor({ timeout: 20_000 })
    await state(a.page).filter({ hasText: /^connected$/ }).waitFor()
    await send(a.page, 'after the restart')
    await a.page.locator('#messages li.message .text', { hasText: 'after the restart' }).waitFor()
    expect(await messageTexts(a.page)).toEqual(['before the restart', 'while away 0', 'while away 1', 'while away 2', 'after the restart'])
    await a.context.close()
  }, 60_000)
})

describe('the Swagger page', () => {
  it('should render its operations with the network to anything but the server blocked', async () => {
    const context = await browser.newContext({ viewport: { width: 1200, height: 900 } })
    const page = await context.newPage()
    const origin = new URL(server.base).origin
    const blocked: string[] = []
    await context.route('**/*', (route) => {
      if (new URL(route.request().url()).origin === origin) return route.continue()
      blocked.push(route.request().url())
      return route.abort()
    })
    const violations = cspViolations(page)
    await page.goto(`${server.base}/docs`)
    await page.locator('.opblock').first().waitFor({ timeout: 20_000 })
    const summaries = await page.locator('.opblock .opblock-summary-path').allTextContents()
    for (const path of ['/chat/v1/rooms/', '/chat/v1/create-room/', '/chat/v1/room/{room_id}/', '/chat/v1/room/{room_id}/messages/', '/chat/v1/message/', '/healthz', '/readyz', '/metrics']) {
      expect(summaries.map((s) => s.replace(/\u200b/g, ''))).toContain(path)
    }
    expect(await page.locator('.info a[href$="asyncapi.json"]').count()).toBe(1)
    await page.screenshot({ path: join(artifacts, 'swagger.png'), fullPage: true })
    expect(blocked).toEqual([])
    expect(violations).toEqual([])
    await context.close()
  }, 60_000)
})
