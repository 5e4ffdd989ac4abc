import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import type { Message } from '../client/src/index.ts'
import { artifacts, connectPage, launchBrowser, messageTexts, openChatPage, sendFromPage, stateBadge, type ChatPage } from './support/browser.ts'
import { until } from './support/wait.ts'
import { startInstance } from './support/cluster.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import { freePort } from './support/nginx.ts'
import { alice, bob, createRoom, endpoint, identityHeaders, startTestServer, UNLIMITED } from './support/server.ts'

let browser: Browser
beforeAll(async () => {
  // The reload below gets its page from the test rather than the network, and Chromium gives
  // such a page no address space, so its local-network checks would refuse its loopback sockets.
  browser = await launchBrowser(['--disable-features=LocalNetworkAccessChecks'])
}, 60_000)
afterAll(async () => {
  await browser?.close()
})

/** Every stored message of a room, oldest first, paged over REST. */
async function stored(base: string, roomId: number): Promise<Message[]> {
  const all: Message[] = []
  for (;;) {
    const page = (await (await fetch(`${base}/chat/v1/room/${roomId}/messages/?after=${all.at(-1)?.id ?? 0}&limit=200`)).json()) as Message[]
    if (page.length === 0) return all
    all.push(...page)
  }
}

/** The stored messages a page shows, as id and text, in the order shown. */
const shownMessages = (page: Page) => page.locator('#messages li.message').evaluateAll((items) => items.map((li) => ({ id: Number((li as HTMLElement).dataset.id), text: li.querySelector('.text')?.textContent ?? '' })))
/** The messages a page shows as waiting for the server, in order. */
const pendingTexts = (page: Page) => page.locator('#messages [data-testid=pending] .text').allTextContents()
/** The outbox entries a page keeps in localStorage. */
const storedOutbox = (page: Page) => page.evaluate(() => Object.keys(localStorage).filter((key) => key.includes('outbox')))

const waitForState = (page: Page, state: 'connected' | 'reconnecting') =>
  stateBadge(page)
    .filter({ hasText: new RegExp(`^${state}$`) })
    .waitFor({ timeout: 30_000 })
const range = (n: number) => [...Array(n).keys()]

describe('the chat test page across a network cut and a server crash', () => {
  it('should show sends made while away as pending, send each once when back, and show every message once, in the server’s order, on both pages', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'page-crash-'))
    const port = freePort()
    const env = { PORT: String(port), DATABASE_PATH: join(dir, 'chat.db'), ...UNLIMITED }
    let server = await startInstance(env)
    // The pages reach the server only through the proxy: their page, REST calls and sockets.
    const proxy = await FaultProxy.start(port, 'chat')
    const pages: ChatPage[] = []
    try {
      const roomId = await createRoom(endpoint(server.base), 'page crash')
      const via = `http://127.0.0.1:${proxy.port}`
      pages.push(await openChatPage(browser, via, alice, roomId), await openChatPage(browser, via, bob, roomId))
      for (const { page } of pages) await connectPage(page)
      const sent: string[] = []
      /** Sends from every page, in turn. */
      const sendFromEach = async (label: string, count = 1) => {
        for (const i of range(count)) {
          for (const [n, { page }] of pages.entries()) {
            await sendFromPage(page, `${n}:${label} ${i}`)
            sent.push(`${n}:${label} ${i}`)
          }
        }
      }
      const settled = async () => {
        for (const { page } of pages) await page.waitForFunction((n) => document.querySelectorAll('#messages li.message').length === n && !document.querySelector('[data-testid=pending]'), sent.length, { timeout: 30_000 })
      }

      await sendFromEach('before', 2)
      await settled()

      // Each page's next message reaches the server and is stored; its acknowledgement does not.
      proxy.stall('down')
      await sendFromEach('at the cut')
      await until(async () => (await stored(server.base, roomId)).length === sent.length, { what: 'the messages at the cut stored', timeoutMs: 10_000 })
      for (const [n, { page }] of pages.entries()) expect(await pendingTexts(page)).toEqual([`${n}:at the cut 0`])

      // The network is cut: every connection is reset, and new ones are refused.
      proxy.dropNewConnections(true)
      proxy.cut()
      for (const { page } of pages) await waitForState(page, 'reconnecting')
      await sendFromEach('while cut', 2)
      for (const [n, { page }] of pages.entries()) expect(await pendingTexts(page)).toEqual([`${n}:at the cut 0`, `${n}:while cut 0`, `${n}:while cut 1`])
      proxy.heal()
      for (const { page } of pages) await waitForState(page, 'connected')
      await settled()

      // The server is killed; the pages go on sending; it comes back on the same port and data.
      server.proc.kill('SIGKILL')
      await server.exited
      for (const { page } of pages) await waitForState(page, 'reconnecting')
      await sendFromEach('while down', 2)
      for (const [n, { page }] of pages.entries()) expect(await pendingTexts(page)).toEqual([`${n}:while down 0`, `${n}:while down 1`])
      server = await startInstance(env)
      for (const { page } of pages) await waitForState(page, 'connected')
      await sendFromEach('after')
      await settled()

      // Every send stored once: those at the cut came back in the replay and were not sent again.
      const history = await stored(server.base, roomId)
      expect(history.map((m) => m.message).sort()).toEqual([...sent].sort())
      // Both pages show the room as the server has it: each message once, in the server's order.
      const expected = history.map((m) => ({ id: m.id, text: m.message }))
      for (const { page } of pages) {
        expect(await shownMessages(page)).toEqual(expected)
        expect(await pendingTexts(page)).toEqual([])
        expect(await storedOutbox(page)).toEqual([])
        expect(await page.locator('[data-testid=errors]').textContent()).not.toMatch(/not sent/i)
      }
      await pages[0]!.page.screenshot({ path: join(artifacts, 'page-after-crash.png') })
      expect(pages.flatMap((p) => [...p.dialogs, ...p.violations])).toEqual([])
    } finally {
      await Promise.all(pages.map((p) => p.context.close()))
      await proxy.close()
      server.proc.kill('SIGKILL')
      await server.exited
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})

describe('the chat test page reloaded with a message unacknowledged', () => {
  it('should send it after the reload, once, and the message behind it too', async () => {
    const server = await startTestServer()
    const proxy = await FaultProxy.start(Number(new URL(server.base).port), 'chat')
    const via = `http://127.0.0.1:${proxy.port}`
    const a = await openChatPage(browser, via, alice, await createRoom(server, 'reload'))
    try {
      const roomId = Number(await a.page.inputValue('#room_id'))
      await connectPage(a.page)
      await sendFromPage(a.page, 'seen')
      await a.page.locator('#messages li.message .text', { hasText: 'seen' }).waitFor()

      // The first message is stored but its acknowledgement held back; the second waits behind it.
      proxy.stall('down')
      await sendFromPage(a.page, 'stored, never acknowledged')
      await sendFromPage(a.page, 'never sent')
      await until(async () => (await stored(server.base, roomId)).length === 2, { what: 'the first stored' })
      expect(await pendingTexts(a.page)).toEqual(['stored, never acknowledged', 'never sent'])

      // The reload's page, script and REST calls go to the server directly; the room's socket
      // still goes through the stalled proxy, so nothing is sent before the test lets it.
      await a.page.route('**/*', async (route) => route.fulfill({ response: await route.fetch({ url: route.request().url().replace(via, server.base) }) }))
      await a.page.reload()
      await a.page.click('#connect')
      await a.page.locator('[data-testid=pending] .text', { hasText: 'never sent' }).waitFor()
      // The stored one shows once, as stored; only the one behind it waits.
      expect(await messageTexts(a.page)).toEqual(['seen', 'stored, never acknowledged'])
      expect(await pendingTexts(a.page)).toEqual(['never sent'])
      expect(await stateBadge(a.page).textContent()).not.toBe('connected')
      await a.page.screenshot({ path: join(artifacts, 'page-pending-after-reload.png') })

      await a.page.unroute('**/*')
      proxy.cut()
      proxy.heal()
      await waitForState(a.page, 'connected')
      await a.page.waitForFunction(() => document.querySelectorAll('#messages li.message').length === 3 && !document.querySelector('[data-testid=pending]'))
      const history = await stored(server.base, roomId)
      expect(history.map((m) => m.message)).toEqual(['seen', 'stored, never acknowledged', 'never sent'])
      expect(await shownMessages(a.page)).toEqual(history.map((m) => ({ id: m.id, text: m.message })))
      expect(await storedOutbox(a.page)).toEqual([])
      expect([...a.dialogs, ...a.violations]).toEqual([])
    } finally {
      await a.context.close()
      await proxy.close()
      await server.destroy()
    }
  }, 60_000)
})

describe('the chat test page after missing more than the server replays', () => {
  it('should say so, and show what was missed in the server’s order, paged in from history', async () => {
    const server = await startTestServer({ RECOVERY_LIMIT: '2' })
    const proxy = await FaultProxy.start(Number(new URL(server.base).port), 'chat')
    const roomId = await createRoom(server, 'gap')
    const post = (message: string) => server.post('/chat/v1/message/', { message, room: roomId }, identityHeaders(bob))
    for (const i of range(3)) await post(`before ${i}`)
    const a = await openChatPage(browser, `http://127.0.0.1:${proxy.port}`, alice, roomId)
    try {
      await connectPage(a.page)
      expect(await messageTexts(a.page)).toEqual(['before 0', 'before 1', 'before 2'])
      proxy.dropNewConnections(true)
      proxy.cut()
      await waitForState(a.page, 'reconnecting')
      for (const i of range(5)) await post(`missed ${i}`)
      proxy.heal()

      await a.page.locator('[data-testid=errors]', { hasText: 'Many messages were missed' }).waitFor({ timeout: 30_000 })
      await a.page.waitForFunction(() => document.querySelectorAll('#messages li.message').length === 8)
      const history = await stored(server.base, roomId)
      expect(await shownMessages(a.page)).toEqual(history.map((m) => ({ id: m.id, text: m.message })))
      expect([...a.dialogs, ...a.violations]).toEqual([])
    } finally {
      await a.context.close()
      await proxy.close()
      await server.destroy()
    }
  }, 60_000)
})
