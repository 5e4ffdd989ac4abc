import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { artifacts, launchBrowser, newChatPage } from './support/browser.ts'
import { createRoom, startTestServer, type TestServer } from './support/server.ts'

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

// biome-ignore lint/suspicious/noExplicitAny: the API documents are walked as untyped JSON; each expectation states the shape
type Json = Record<string, any>

/** Enters one header's value in Swagger UI's "Authorize" dialog and applies it. */
async function authorize(page: Page, header: string, value: string) {
  const form = page.locator('.modal-ux .auth-container').filter({ has: page.locator('h4 code', { hasText: new RegExp(`^${header}$`) }) })
  await form.locator('input[type=text]').fill(value)
  await form.locator('button.authorize').click()
  // Applied: the dialog now offers to log out of this scheme.
  await form.locator('button', { hasText: 'Logout' }).waitFor()
}

describe('Swagger UI at /docs/', () => {
  it('should describe the identity headers as security schemes that operations require', async () => {
    const openapi = (await (await server.http('/docs/json')).json()) as Json
    const schemes = openapi.components.securitySchemes as Record<string, Json>
    for (const header of ['X-User-Id', 'X-Nickname', 'X-Email', 'X-Profile-Url', 'X-Service-Secret', 'X-Gateway-Secret']) {
      expect({ header, scheme: schemes[header] }).toEqual({ header, scheme: { type: 'apiKey', in: 'header', name: header, description: expect.any(String) } })
    }
    const send = openapi.paths['/chat/v1/message/'].post
    expect(send.parameters ?? []).toEqual([])
    // Identity required; the picture, the service secret and the gateway secret sent when there are any.
    expect(send.security).toEqual([
      { 'X-User-Id': [], 'X-Nickname': [], 'X-Email': [], 'X-Profile-Url': [], 'X-Service-Secret': [], 'X-Gateway-Secret': [] },
      { 'X-User-Id': [], 'X-Nickname': [], 'X-Email': [] },
    ])
    // No operation lists the identity headers as parameters of its own.
    for (const [path, item] of Object.entries(openapi.paths as Json)) {
      for (const [method, op] of Object.entries(item as Json)) {
        const headers = ((op.parameters ?? []) as Json[]).filter((p) => p.in === 'header').map((p) => p.name)
        expect({ at: `${method} ${path}`, headers }).toEqual({ at: `${method} ${path}`, headers: [] })
      }
    }
  })

  it('should send a message as a Korean nickname entered once under Authorize, with "Try it out"', async () => {
    const roomId = await createRoom(server, 'Swagger room')
    const { page, context, violations } = await newChatPage(browser)
    // A missing control fails naming its selector, well before the test's own timeout. Swagger UI
    // renders the whole document in the browser: on a loaded machine of two cores, a step can take
    // several seconds (the first render about 2 s unloaded).
    page.setDefaultTimeout(20_000)
    try {
      await page.goto(`${server.base}/docs/`)
      await page.locator('.auth-wrapper button.authorize').click()
      await authorize(page, 'X-User-Id', '7')
      await authorize(page, 'X-Nickname', '홍길동')
      await authorize(page, 'X-Email', 'hong@example.com')
      await authorize(page, 'X-Profile-Url', '/media/홍길동.png')
      await page.locator('.modal-ux .close-modal').click()
      // The dialog is gone before anything under it is clicked.
      await page.locator('.modal-ux').waitFor({ state: 'detached' })

      const operation = page.locator('.opblock-post').filter({ has: page.locator('.opblock-summary-path[data-path="/chat/v1/message/"]') })
      await operation.locator('.opblock-summary').first().click()
      await operation.locator('button.try-out__btn').click()
      await operation.locator('textarea.body-param__text').fill(JSON.stringify({ room: roomId, message: '안녕하세요, Swagger' }))
      await operation.locator('button.execute').click()

      const status = operation.locator('.live-responses-table .response .response-col_status')
      await status.first().waitFor()
      await page.screenshot({ path: join(artifacts, 'docs-try-it-out.png'), fullPage: true })
      expect((await status.first().textContent())?.trim()).toMatch(/^2\d\d$/)

      const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/`)).json()) as Json[]
      expect(history.map((m) => [m.user_id, m.nickname, m.message, m.profile_picture_url])).toEqual([['7', '홍길동', '안녕하세요, Swagger', '/media/홍길동.png']])
      expect(violations).toEqual([])
    } finally {
      await context.close()
    }
  }, 90_000)
})
