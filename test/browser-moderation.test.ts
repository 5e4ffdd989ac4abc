import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { artifacts, connectPage as connect, launchBrowser, openChatPage, sendFromPage as send } from './support/browser.ts'
import { identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'
import { until } from './support/wait.ts'

// Moderation on the test page, in Korean browsers at a phone's width: the contact guard's warning
// under a message on the other member's page (never the sender's), a moderator muting the other
// member from the members panel and their composer turned off saying so, slow mode's badge and
// countdown, a moderator deleting a message and banning its sender, whose page then has no
// composer. Real server, real Chromium.

const SERVICE_SECRET = 'moderation-page-secret-0123456789'
const service = { 'x-service-secret': SERVICE_SECRET, 'content-type': 'application/json' }
const seller: TestUser = { user_id: 'bm-seller', nickname: '판매자', email: 'seller@example.com' }
const buyer: TestUser = { user_id: 'bm-buyer', nickname: '구매자', email: 'buyer@example.com' }
const PHONE = { width: 375, height: 740 }
const KOREAN_PHONE = { locale: 'ko-KR', viewport: PHONE }

let server: TestServer
let browser: Browser
beforeAll(async () => {
  server = await startTestServer({ TEST_PAGE: 'true', SERVICE_SECRET })
  browser = await launchBrowser()
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await server?.destroy()
})

/** A JSON answer with the status expected. */
async function json<T>(res: Promise<Response>, status: number): Promise<T> {
  const answer = await res
  const text = await answer.text()
  if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status}: ${text}`)
  return (text === '' ? null : JSON.parse(text)) as T
}

const byTestId = (page: Page, testid: string) => page.locator(`[data-testid=${testid}]`)
const messageItem = (page: Page, text: string) => page.locator('#messages li.message', { has: page.locator('.text', { hasText: text }) })
const memberRow = (page: Page, user: TestUser) => page.locator(`#members li[data-user-id="${user.user_id}"]`)

/** Nothing on the page is wider than the phone: no sideways scrolling. */
async function fitsThePhone(page: Page, name: string) {
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width)
  await page.screenshot({ path: join(artifacts, `moderation-${name}.png`) })
}

/** The texts stored in a room, as the app's backend reads them. */
const storedTexts = async (roomId: number) => (await json<{ message: string }[]>(server.http(`/chat/v1/room/${roomId}/messages/?limit=200`, { headers: service }), 200)).map((m) => m.message)

describe('moderation on the test page', () => {
  it('should warn the other member of shared contact details, let a moderator mute, slow down, delete and ban from the page, and fit a phone', async () => {
    const roomId = (
      await json<{ id: number }>(
        server.post('/chat/v1/create-room/', { name: '중고거래', kind: 'direct', members: [seller.user_id, buyer.user_id], post_id: 41, data: { title: '캠핑 의자', price: 30000, status: '판매중' } }, service),
        201,
      )
    ).id
    // The app's backend names the seller the room's moderator.
    await json(server.http(`/chat/v1/admin/moderators/${seller.user_id}/`, { method: 'PUT', headers: service, body: JSON.stringify({ rooms: [roomId] }) }), 200)
    const s = await openChatPage(browser, server.base, seller, roomId, KOREAN_PHONE)
    const b = await openChatPage(browser, server.base, buyer, roomId, KOREAN_PHONE)
    // The buyer writes first: the seller's members panel then knows their nickname.
    await connect(b.page)
    await send(b.page, '안녕하세요, 의자 아직 있나요?')
    await messageItem(b.page, '의자 아직 있나요').waitFor()
    await connect(s.page)

    // The contact guard: the seller's page warns under the buyer's phone number; the buyer's own page does not.
    await send(b.page, '제 번호는 010-1234-5678 이에요')
    const warned = messageItem(s.page, '010-1234-5678')
    await warned.locator('[data-testid=contact-warning]').waitFor()
    expect(await warned.locator('[data-testid=contact-warning] strong').textContent()).toBe('⚠️ 외부 연락처 공유에 주의하세요')
    expect(await warned.locator('[data-testid=contact-warning] span').textContent()).toBe('앱 밖에서 거래하면 보호받을 수 없어요')
    expect(await warned.locator('[data-testid=contact-warning]').getAttribute('data-kinds')).toBe('phone')
    expect(await messageItem(s.page, '의자 아직 있나요').locator('[data-testid=contact-warning]').count()).toBe(0)
    await messageItem(b.page, '010-1234-5678').waitFor()
    await Bun.sleep(300)
    expect(await byTestId(b.page, 'contact-warning').count()).toBe(0)
    await fitsThePhone(s.page, 'warning')

    // Only the moderator has the moderator's controls.
    await memberRow(s.page, buyer).locator('[data-testid=mute-member]').waitFor()
    expect(await memberRow(s.page, buyer).locator('[data-testid=mute-member]').textContent()).toBe('10분 채팅 금지')
    expect(await memberRow(s.page, buyer).locator('[data-testid=ban-member]').textContent()).toBe('내보내기')
    expect(await memberRow(s.page, seller).locator('[data-testid=mute-member]').count()).toBe(0)
    expect(await byTestId(s.page, 'moderation-bar').isVisible()).toBe(true)
    await memberRow(b.page, seller).waitFor()
    expect(await b.page.locator('[data-testid=mute-member], [data-testid=ban-member]').count()).toBe(0)
    expect(await byTestId(b.page, 'moderation-bar').isHidden()).toBe(true)

    // Slow mode, 10 s: both headers show the badge; the buyer's page counts down after a send, the moderator's does not.
    await s.page.selectOption('[data-testid=slow-mode-select]', '10')
    for (const { page } of [s, b]) await byTestId(page, 'slow-mode-badge').filter({ hasText: '슬로우 모드 10초' }).waitFor()
    await send(b.page, '내일 저녁에 가능해요')
    const countdown = byTestId(b.page, 'slow-mode-wait')
    await countdown.filter({ hasText: /^슬로우 모드: \d+초 후 보낼 수 있어요$/ }).waitFor()
    const secondsLeft = async () => Number((await countdown.textContent())?.match(/(\d+)초/)?.[1])
    const first = await secondsLeft()
    expect(first).toBeGreaterThanOrEqual(8)
    expect(first).toBeLessThanOrEqual(10)
    expect(await b.page.locator('#send').isDisabled()).toBe(true)
    await until(async () => (await secondsLeft()) < first, { what: 'the countdown moving' })
    await fitsThePhone(b.page, 'slow-mode')
    await send(s.page, '네 가능합니다')
    await send(s.page, '7시 어떠세요?')
    await messageItem(b.page, '7시 어떠세요?').waitFor()
    expect(await byTestId(s.page, 'slow-mode-wait').isHidden()).toBe(true)
    await s.page.selectOption('[data-testid=slow-mode-select]', '0')
    for (const { page } of [s, b]) await byTestId(page, 'slow-mode-badge').waitFor({ state: 'detached' })
    await countdown.waitFor({ state: 'hidden' })
    expect(await b.page.locator('#send').isDisabled()).toBe(false)

    // The moderator mutes the buyer for 10 minutes from the members panel, after a question.
    await memberRow(s.page, buyer).locator('[data-testid=mute-member]').click()
    const question = memberRow(s.page, buyer).locator('[data-testid=mute-member-question]')
    expect(await question.locator('span').textContent()).toBe('구매자님을 10분 동안 채팅 금지할까요?')
    await memberRow(s.page, buyer).locator('[data-testid=mute-member-confirm]').click()
    await memberRow(s.page, buyer).locator('[data-testid=unmute-member]').filter({ hasText: '채팅 금지 해제' }).waitFor()
    expect(await memberRow(s.page, buyer).locator('[data-testid=member-muted]').textContent()).toBe('채팅 금지 중')
    const mutes = await json<{ user_id: string; until: string }[]>(server.http(`/chat/v1/room/${roomId}/mutes/`, { headers: service }), 200)
    expect(mutes.map((m) => m.user_id)).toEqual([buyer.user_id])
    expect(Date.parse(mutes[0]!.until) - Date.now()).toBeGreaterThan(9 * 60_000)

    // Nothing tells the buyer's page at once; its next send is refused and the composer says so, with the mute's end.
    await send(b.page, '왜 답이 없으세요?')
    await byTestId(b.page, 'composer-notice')
      .filter({ hasText: /^채팅이 제한되었어요 \(.+까지\)$/ })
      .waitFor()
    expect(await b.page.locator('#message').isDisabled()).toBe(true)
    expect(await b.page.locator('#send').isDisabled()).toBe(true)
    expect(await storedTexts(roomId)).not.toContain('왜 답이 없으세요?')
    await fitsThePhone(b.page, 'muted')
    // Lifted: the buyer's page learns it from the room (here, connecting again).
    await memberRow(s.page, buyer).locator('[data-testid=unmute-member]').click()
    await memberRow(s.page, buyer).locator('[data-testid=mute-member]').waitFor()
    await b.page.click('#disconnect')
    await connect(b.page)
    await byTestId(b.page, 'composer-notice').waitFor({ state: 'hidden' })
    await send(b.page, '이제 보이시나요?')
    await messageItem(s.page, '이제 보이시나요?').waitFor()

    // The moderator deletes the buyer's phone number for everyone, after a question.
    await warned.locator('[data-testid=message-menu]').click()
    await warned.locator('[data-testid=menu-delete]').click()
    expect(await warned.locator('[data-testid=menu-delete-question] span').textContent()).toBe('이 메시지를 모두에게서 삭제할까요?')
    await warned.locator('[data-testid=menu-delete-confirm]').click()
    for (const { page } of [s, b]) await page.locator('#messages li.message.unsent .text', { hasText: '삭제된 메시지입니다.' }).waitFor()

    // …and bans the buyer from a message's menu: the buyer's page says so, and has no composer.
    const last = messageItem(s.page, '이제 보이시나요?')
    await last.locator('[data-testid=message-menu]').click()
    await last.locator('[data-testid=menu-ban]').click()
    expect(await last.locator('[data-testid=menu-ban-question] span').textContent()).toBe('구매자님을 내보낼까요? 다시 들어올 수 없어요.')
    expect(await last.locator('[data-testid=menu-mute]').textContent()).toBe('10분 채팅 금지')
    await fitsThePhone(s.page, 'ban-question')
    await last.locator('[data-testid=menu-ban-confirm]').click()
    await byTestId(b.page, 'composer-notice').filter({ hasText: '이 채팅방에서 내보내졌어요' }).waitFor()
    await b.page.locator('#messages li.notice', { hasText: '이 채팅방에서 내보내졌어요' }).waitFor()
    expect(await b.page.locator('#composer').isHidden()).toBe(true)
    expect(await b.page.locator('[data-testid=state]').getAttribute('data-state')).toBe('closed')
    await memberRow(s.page, buyer).waitFor({ state: 'detached' })
    const bans = await json<{ user_id: string }[]>(server.http(`/chat/v1/room/${roomId}/bans/`, { headers: service }), 200)
    expect(bans.map((m) => m.user_id)).toEqual([buyer.user_id])
    expect((await server.post('/chat/v1/message/', { room: roomId, message: '다시요' }, identityHeaders(buyer))).status).toBe(403)
    await fitsThePhone(b.page, 'banned')
    // In English.
    await b.page.click('[data-testid=language-en]')
    expect(await byTestId(b.page, 'composer-notice').textContent()).toBe('You were removed from this chat and cannot come back.')
    await s.page.click('[data-testid=language-en]')
    expect(await byTestId(s.page, 'contact-warning').count()).toBe(0)
    await fitsThePhone(s.page, 'moderator')

    expect([...s.dialogs, ...b.dialogs, ...s.violations, ...b.violations]).toEqual([])
    await Promise.all([s.context.close(), b.context.close()])
  }, 90_000)

  it('should show the warning in English under a message that shares an account, not to its sender', async () => {
    const roomId = (await json<{ id: number }>(server.post('/chat/v1/create-room/', { name: 'chair', kind: 'direct', members: [seller.user_id, buyer.user_id], post_id: 42 }, service), 201)).id
    const s = await openChatPage(browser, server.base, seller, roomId, { viewport: PHONE })
    const b = await openChatPage(browser, server.base, buyer, roomId, { viewport: PHONE })
    await connect(s.page)
    await connect(b.page)
    await send(s.page, '입금은 카카오뱅크 3333-01-1234567 로 해주세요')
    const warned = messageItem(b.page, '3333-01-1234567')
    await warned.locator('[data-testid=contact-warning]').waitFor()
    expect(await warned.locator('[data-testid=contact-warning] strong').textContent()).toBe('⚠️ Be careful sharing contact details outside the app')
    expect(await warned.locator('[data-testid=contact-warning] span').textContent()).toBe('Deals outside the app are not protected')
    expect(await byTestId(s.page, 'contact-warning').count()).toBe(0)
    // Not a moderator here: no moderator's controls, in the menu either.
    await warned.locator('[data-testid=message-menu]').click()
    expect(await warned.locator('[data-testid=menu-delete], [data-testid=menu-mute], [data-testid=menu-ban]').count()).toBe(0)
    // A switch to Korean re-labels the warning in place.
    await b.page.click('[data-testid=language-ko]')
    await warned.locator('[data-testid=contact-warning] strong', { hasText: '⚠️ 외부 연락처 공유에 주의하세요' }).waitFor()
    await fitsThePhone(b.page, 'warning-english')
    expect([...s.dialogs, ...b.dialogs, ...s.violations, ...b.violations]).toEqual([])
    await Promise.all([s.context.close(), b.context.close()])
  }, 60_000)
})
