import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { artifacts, connectPage as connect, launchBrowser, openChatPage, sendFromPage as send } from './support/browser.ts'
import { startTestServer, type TestServer, type TestUser } from './support/server.ts'
import { until } from './support/wait.ts'

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

const seller: TestUser = { user_id: 'chg-seller', nickname: '판매자', email: 'seller@example.com' }
const buyer: TestUser = { user_id: 'chg-buyer', nickname: '구매자', email: 'buyer@example.com' }

/** The list item of the message whose text (or quote) holds `text`. */
const messageWith = (page: Page, text: string) => page.locator('#messages li.message', { has: page.locator('.text', { hasText: text }) })

/** Opens a message's menu and picks one of its entries (`menu-edit`, `menu-unsend`, `menu-reply`, or an emoji). */
async function fromMenu(item: ReturnType<typeof messageWith>, entry: string) {
  await item.locator('[data-testid=message-menu]').click()
  const menu = item.locator('[data-testid=menu]')
  await (entry.startsWith('menu-') ? menu.locator(`[data-testid=${entry}]`) : menu.getByRole('button', { name: entry, exact: true })).click()
}

/** The reactions under a message as "emoji count" texts. */
const reactionsOf = (item: ReturnType<typeof messageWith>) => item.locator('[data-testid=reaction]').allTextContents()

describe('messages that change on the test page', () => {
  it('should show edits, unsends, reactions and replies live on both pages and after a reload, and the 1 until the other reads', async () => {
    // Both browsers are Korean: the page's labels (답장, 수정됨) are its Korean ones.
    const s = await openChatPage(browser, server.base, seller, undefined, { locale: 'ko-KR' })
    // The buyer is on a phone.
    const b = await openChatPage(browser, server.base, buyer, undefined, { locale: 'ko-KR' })
    await b.page.setViewportSize({ width: 390, height: 844 })

    await s.page.fill('[data-testid=direct-user-id]', buyer.user_id)
    await s.page.fill('[data-testid=direct-post-id]', '501')
    await s.page.click('[data-testid=direct-room-submit]')
    await s.page.waitForFunction(() => (document.getElementById('room_id') as HTMLInputElement).value !== '')
    const roomId = Number(await s.page.inputValue('#room_id'))
    await connect(s.page)

    // The seller writes before the buyer has the room open: "1" beside it, until the buyer reads it.
    await send(s.page, '내일 3시에 봬요')
    const first = messageWith(s.page, '내일 3시에 봬요')
    await first.locator('[data-testid=unread-by]', { hasText: /^1$/ }).waitFor()
    await b.page.fill('#room_id', String(roomId))
    await connect(b.page)
    await until(async () => (await first.locator('[data-testid=unread-by]').textContent()) === '', { what: 'the 1 gone', timeoutMs: 15_000 })

    // Only one's own messages can be edited and unsent.
    await fromMenu(messageWith(b.page, '내일 3시에 봬요'), 'menu-reply')
    await b.page.locator('[data-testid=composer-context]', { hasText: '판매자에게 답장' }).waitFor()
    expect(await messageWith(b.page, '내일 3시에 봬요').locator('[data-testid=menu-edit], [data-testid=menu-unsend]').count()).toBe(0)
    await b.page.click('[data-testid=composer-cancel]')
    await b.page.locator('[data-testid=composer-context]').waitFor({ state: 'hidden' })

    // The seller edits; the buyer sees it live, marked as edited.
    await fromMenu(first, 'menu-edit')
    expect(await s.page.inputValue('#message')).toBe('내일 3시에 봬요')
    await s.page.fill('#message', '내일 오후 3시에 뵐게요')
    await s.page.click('#send')
    const edited = messageWith(b.page, '내일 오후 3시에 뵐게요')
    await edited.locator('.edited', { hasText: '수정됨' }).waitFor()
    expect(await b.page.locator('#messages li.message').count()).toBe(1)

    // A reaction each way, and taken back.
    await fromMenu(edited, '👍')
    const sellersView = messageWith(s.page, '내일 오후 3시에 뵐게요')
    await sellersView.locator('[data-testid=reaction]', { hasText: '👍 1' }).waitFor()
    await sellersView.locator('[data-testid=reaction]').click()
    await edited.locator('[data-testid=reaction]', { hasText: '👍 2' }).waitFor()
    expect(await edited.locator('[data-testid=reaction]').getAttribute('aria-pressed')).toBe('true')
    await edited.locator('[data-testid=reaction]').click()
    await sellersView.locator('[data-testid=reaction]', { hasText: '👍 1' }).waitFor()

    // The buyer replies: the quote above the input, then above the sent message on both pages.
    await fromMenu(edited, 'menu-reply')
    await b.page.locator('[data-testid=composer-context] .quote', { hasText: '내일 오후 3시에 뵐게요' }).waitFor()
    await send(b.page, '네, 좋아요')
    await b.page.locator('[data-testid=composer-context]').waitFor({ state: 'hidden' })
    for (const page of [s.page, b.page]) await messageWith(page, '네, 좋아요').locator('[data-testid=quote]', { hasText: '판매자 내일 오후 3시에 뵐게요' }).waitFor()

    // The seller sends one more and unsends it; the buyer sees it unsent.
    await send(s.page, '잘못 보낸 메시지')
    await messageWith(b.page, '잘못 보낸 메시지').waitFor()
    await fromMenu(messageWith(s.page, '잘못 보낸 메시지'), 'menu-unsend')
    await messageWith(b.page, '삭제된 메시지입니다.').waitFor()
    await messageWith(b.page, '잘못 보낸 메시지').waitFor({ state: 'detached' })

    // Away and back: what changed meanwhile is shown once the buyer connects again.
    await b.page.click('#disconnect')
    await fromMenu(sellersView, 'menu-edit')
    await s.page.fill('#message', '내일 오후 4시로 바꿔도 될까요?')
    await s.page.click('#send')
    await messageWith(s.page, '내일 오후 4시로 바꿔도 될까요?').waitFor()
    await connect(b.page)
    await messageWith(b.page, '내일 오후 4시로 바꿔도 될까요?').waitFor()
    await messageWith(b.page, '네, 좋아요').locator('[data-testid=quote]', { hasText: '내일 오후 4시로 바꿔도 될까요?' }).waitFor()

    // After a reload, the buyer's page shows every message in its latest form.
    await b.page.reload()
    await connect(b.page)
    const texts = () => b.page.locator('#messages li.message .text').allTextContents()
    await b.page.waitForFunction(() => document.querySelectorAll('#messages li.message').length === 3)
    expect(await texts()).toEqual(['내일 오후 4시로 바꿔도 될까요?', '네, 좋아요', '삭제된 메시지입니다.'])
    const reloaded = messageWith(b.page, '내일 오후 4시로 바꿔도 될까요?')
    expect(await reactionsOf(reloaded)).toEqual(['👍 1'])
    expect(await reloaded.locator('.edited').count()).toBe(1)
    expect(await messageWith(b.page, '네, 좋아요').locator('[data-testid=quote]').textContent()).toBe('판매자 내일 오후 4시로 바꿔도 될까요?')

    // On the phone the page fits the screen's width, and the menu's entries are all on it.
    expect(await b.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    await reloaded.locator('[data-testid=message-menu]').click()
    for (const entry of await reloaded.locator('[data-testid=menu] button').all()) {
      const box = await entry.boundingBox()
      expect(box && box.x >= 0 && box.x + box.width <= 390).toBe(true)
    }
    await b.page.screenshot({ path: join(artifacts, 'changes-phone.png') })
    await s.page.screenshot({ path: join(artifacts, 'changes-desktop.png') })
    expect([...s.dialogs, ...b.dialogs]).toEqual([])
    expect([...s.violations, ...b.violations]).toEqual([])
    await Promise.all([s.context.close(), b.context.close()])
  }, 90_000)
})
