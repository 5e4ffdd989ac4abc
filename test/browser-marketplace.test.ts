import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { artifacts, connectPage as connect, launchBrowser, openChatPage, sendFromPage as send, type ChatPage } from './support/browser.ts'
import { identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'
import { until } from './support/wait.ts'

// A marketplace on the test page, in Korean browsers: rooms about a post show the post in their
// header, the seller's backend closes the deal (a system message and an archive in every room about
// the post), buyers' pages turn read-only at once, a buyer hides or leaves a chat from the inbox,
// and the page speaks English when switched to it. Real server, real Chromium, a phone among them.

const SERVICE_SECRET = 'marketplace-backend-secret-0123456789'
const service = { 'x-service-secret': SERVICE_SECRET }
const seller: TestUser = { user_id: 'mk-seller', nickname: '판매자', email: 'seller@example.com' }
const buyer1: TestUser = { user_id: 'mk-buyer1', nickname: '구매자1', email: 'b1@example.com' }
const buyer2: TestUser = { user_id: 'mk-buyer2', nickname: '구매자2', email: 'b2@example.com' }
const buyer3: TestUser = { user_id: 'mk-buyer3', nickname: '구매자3', email: 'b3@example.com' }
const KOREAN = { locale: 'ko-KR' }
const PHONE = { width: 375, height: 740 }

/** The post's picture, from a host of its own as an app's CDN would serve it. */
const THUMBNAIL = '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect width="64" height="64" fill="#3b6ef5"/></svg>'

let server: TestServer
let browser: Browser
let cdn: ReturnType<typeof Bun.serve>
beforeAll(async () => {
  server = await startTestServer({ TEST_PAGE: 'true', SERVICE_SECRET })
  browser = await launchBrowser()
  cdn = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => new Response(THUMBNAIL, { headers: { 'content-type': 'image/svg+xml' } }) })
}, 60_000)
afterAll(async () => {
  await browser?.close()
  await cdn?.stop(true)
  await server?.destroy()
})

/** A JSON answer with the status expected. */
async function json<T>(res: Promise<Response>, status: number): Promise<T> {
  const answer = await res
  const text = await answer.text()
  if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status}: ${text}`)
  return (text === '' ? null : JSON.parse(text)) as T
}

/** The app's backend opens the direct room of `buyer` and the seller about a post, with the post's data. */
const directRoom = async (buyer: TestUser, postId: number, data: Record<string, unknown>) =>
  (await json<{ id: number }>(server.post('/chat/v1/create-room/', { name: '중고거래', kind: 'direct', members: [seller.user_id, buyer.user_id], post_id: postId, data }, service), 201)).id

const patchRoom = (roomId: number, body: unknown) => json(server.http(`/chat/v1/room/${roomId}/`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...service }, body: JSON.stringify(body) }), 200)

/** The texts stored in a room, as the app's backend reads them. */
const storedTexts = async (roomId: number) => (await json<{ message: string }[]>(server.http(`/chat/v1/room/${roomId}/messages/?limit=200`, { headers: service }), 200)).map((m) => m.message)

/** A REST send as `user`, as another client of theirs would try it. */
const sendAs = (roomId: number, user: TestUser, message: string) => server.post('/chat/v1/message/', { room: roomId, message }, identityHeaders(user))

const byTestId = (page: Page, testid: string) => page.locator(`[data-testid=${testid}]`)
const text = async (page: Page, testid: string) => (await byTestId(page, testid).textContent())?.trim()

/** The system message of a page whose text is `message`. */
const systemLine = (page: Page, message: string) => page.locator('#messages li[data-testid=system-message]', { hasText: message })

/** A system message is a centred line of its own: no name, picture or menu, and no one's own. */
async function expectSystemLine(page: Page, message: string) {
  const line = systemLine(page, message)
  await line.waitFor()
  expect(await line.locator('.avatar, .meta, [data-testid=message-menu], [data-testid=unread-by]').count()).toBe(0)
  expect(await line.evaluate((li) => li.classList.contains('mine') || li.classList.contains('message'))).toBe(false)
  const [bubble, list] = [await line.locator('.text').boundingBox(), await page.locator('#messages').boundingBox()]
  expect(bubble && list && Math.abs(bubble.x + bubble.width / 2 - (list.x + list.width / 2))).toBeLessThan(2)
}

/** The composer is off, saying `notice`. */
async function expectReadOnly(page: Page, notice: string) {
  await byTestId(page, 'composer-notice').filter({ hasText: notice }).waitFor()
  expect(await page.locator('#message').isDisabled()).toBe(true)
  expect(await page.locator('#send').isDisabled()).toBe(true)
  expect(await page.locator('#attach').isDisabled()).toBe(true)
}

/**
 * Clicks an inbox entry's button and says whether the entry was gone when the click's handlers
 * returned: that is, at once, before the server answered.
 */
const goneOnClick = (page: Page, roomId: number, testid: string) =>
  page.evaluate(
    ([id, button]) => {
      document.querySelector<HTMLElement>(`[data-testid=inbox] li[data-id="${id}"] [data-testid=${button}]`)!.click()
      return document.querySelector(`[data-testid=inbox] li[data-id="${id}"]`) === null
    },
    [roomId, testid] as const,
  )

/** Every element matched lies on the screen: nothing cut off at the sides, top or bottom. */
async function onScreen(page: Page, selector: string, { width, height }: { width: number; height: number }) {
  for (const box of await page.locator(selector).evaluateAll((els) => els.map((el) => ({ id: el.id || el.getAttribute('data-testid'), ...(el.getBoundingClientRect().toJSON() as DOMRect) })))) {
    expect({ id: box.id, inside: box.left >= 0 && box.right <= width && box.top >= 0 && box.bottom <= height && box.width > 0 && box.height > 0 }).toEqual({ id: box.id, inside: true })
  }
}

describe('a deal on the test page', () => {
  it('should show the post in the header, and when the seller closes the deal turn both buyers read-only at once, let one hide the chat and another read it in English', async () => {
    const postId = 31
    const post = { title: '아이폰 15 프로 256GB', price: 950000, thumbnail: `http://127.0.0.1:${cdn.port}/posts/31.svg`, status: '판매중' }
    const room1 = await directRoom(buyer1, postId, post)
    const room2 = await directRoom(buyer2, postId, post)
    // The seller has answered in both, so each buyer's header names them.
    await json(sendAs(room2, seller, '네, 아직 판매 중이에요'), 201)
    const s = await openChatPage(browser, server.base, seller, room1, KOREAN)
    const b1 = await openChatPage(browser, server.base, buyer1, room1, { ...KOREAN, viewport: PHONE })
    const b2 = await openChatPage(browser, server.base, buyer2, room2, KOREAN)
    const pages: ChatPage[] = [s, b1, b2]
    await connect(s.page)
    await send(s.page, '안녕하세요, 아직 판매 중이에요')
    await connect(b1.page)
    await connect(b2.page)

    // The header: the seller, the post's picture, title, state and price in Korean.
    for (const { page } of [b1, b2]) {
      await byTestId(page, 'post-title').filter({ hasText: post.title }).waitFor()
      expect(await text(page, 'room-name')).toBe('판매자')
      expect(await text(page, 'post-price')).toBe('950,000원')
      expect(await text(page, 'post-status')).toBe('판매중')
      expect(await byTestId(page, 'post-thumbnail').getAttribute('src')).toBe(post.thumbnail)
      await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('[data-testid=post-thumbnail]')?.naturalWidth ?? 0) === 64)
      expect(await page.locator('html').getAttribute('lang')).toBe('ko')
      expect(await page.locator('#send').textContent()).toBe('전송')
    }
    await send(b1.page, '아직 판매 중인가요?')
    await s.page.locator('#messages li.message .text', { hasText: '아직 판매 중인가요?' }).waitFor()

    // On the phone: the header, the messages and the composer are all on the screen, and nothing scrolls sideways.
    expect(await b1.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width)
    await onScreen(b1.page, '[data-testid=room-header], #messages, #composer, #message, #send, [data-testid=language-en]', PHONE)
    await b1.page.screenshot({ path: join(artifacts, 'marketplace-phone-open.png') })

    // The seller's backend closes the deal: one system message in every room about the post, which become read-only.
    const event = await json<{ rooms: number[] }>(server.post(`/chat/v1/posts/${postId}/messages/`, { message: '거래가 완료되었어요', status: 'archived', data: { event: 'sold' } }, service), 200)
    expect(event.rooms.toSorted((a, b) => a - b)).toEqual([room1, room2].toSorted((a, b) => a - b))
    for (const { page } of [b1, b2]) {
      await expectReadOnly(page, '거래가 완료된 채팅방이에요. 메시지를 보낼 수 없어요.')
      await expectSystemLine(page, '거래가 완료되었어요')
    }
    await expectReadOnly(s.page, '거래가 완료된 채팅방이에요. 메시지를 보낼 수 없어요.')
    // …and marks the post sold: the headers follow live.
    for (const roomId of [room1, room2]) await patchRoom(roomId, { data: { ...post, status: '거래완료' } })
    for (const { page } of [b1, b2]) {
      await byTestId(page, 'post-status')
        .filter({ hasText: /^거래완료$/ })
        .waitFor()
      expect(await byTestId(page, 'post-status').getAttribute('data-state')).toBe('sold')
      expect(await text(page, 'post-price')).toBe('950,000원')
    }

    // A send tried anyway (the composer forced on) stores nothing; the server refuses it too.
    const before = await storedTexts(room1)
    expect(before).toEqual(['안녕하세요, 아직 판매 중이에요', '아직 판매 중인가요?', '거래가 완료되었어요'])
    await b1.page.evaluate(() => {
      const input = document.querySelector<HTMLInputElement>('#message')!
      input.disabled = false
      input.value = '혹시 취소되면 연락 주세요'
      document.querySelector<HTMLFormElement>('#composer')!.requestSubmit()
    })
    expect((await sendAs(room1, buyer1, '혹시 취소되면 연락 주세요')).status).toBe(409)
    await Bun.sleep(500)
    expect(await storedTexts(room1)).toEqual(before)
    expect(await b1.page.locator('#messages [data-testid=pending]').count()).toBe(0)
    // The page kept the words in the input: nothing went out.
    expect(await b1.page.inputValue('#message')).toBe('혹시 취소되면 연락 주세요')
    expect(await b1.page.locator('#messages li', { hasText: '혹시 취소되면' }).count()).toBe(0)
    // Still on the phone's screen, read-only.
    expect(await b1.page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width)
    await onScreen(b1.page, '[data-testid=room-header], #messages, [data-testid=composer-notice], #composer', PHONE)
    await b1.page.screenshot({ path: join(artifacts, 'marketplace-phone-sold.png') })

    // Buyer 2 hides the chat from the inbox: its entry goes at once, and the server agrees.
    await b2.page.click('[data-testid=inbox-open]')
    await byTestId(b2.page, 'inbox-state').filter({ hasText: '실시간' }).waitFor()
    const entry = b2.page.locator(`[data-testid=inbox] li[data-id="${room2}"]`)
    await entry.filter({ hasText: post.title }).waitFor()
    await entry.locator('[data-testid=inbox-menu]').click()
    expect(await entry.locator('[data-testid=inbox-leave]').textContent()).toBe('나가기')
    expect(await entry.locator('[data-testid=inbox-hide]').textContent()).toBe('숨기기')
    expect(await goneOnClick(b2.page, room2, 'inbox-hide')).toBe(true)
    const inboxOf = async (user: TestUser) => (await json<{ rooms: { id: number }[] }>(server.http('/chat/v1/inbox/', { headers: identityHeaders(user) }), 200)).rooms.map((r) => r.id)
    await until(async () => !(await inboxOf(buyer2)).includes(room2), { what: 'the room hidden on the server' })
    expect(await inboxOf(buyer1)).toContain(room1)
    await Bun.sleep(300)
    expect(await entry.count()).toBe(0)

    // Buyer 2 switches to English: the labels change in place, the backend's words stay as written.
    await b2.page.click('[data-testid=language-en]')
    await byTestId(b2.page, 'post-status')
      .filter({ hasText: /^Sold$/ })
      .waitFor()
    expect(await text(b2.page, 'post-price')).toBe('₩950,000')
    expect(await text(b2.page, 'composer-notice')).toBe('This deal is closed. Messages can no longer be sent in this chat.')
    expect(await b2.page.locator('#send').textContent()).toBe('Send')
    expect(await b2.page.locator('#message').getAttribute('placeholder')).toBe('Type a message')
    expect(await text(b2.page, 'state')).toBe('connected')
    expect(await text(b2.page, 'inbox-state')).toBe('live')
    expect(await b2.page.locator('[data-testid=inbox-open]').textContent()).toBe('Stop')
    expect(await b2.page.locator('h1').textContent()).toBe('Chat gateway test')
    expect(await b2.page.locator('html').getAttribute('lang')).toBe('en')
    expect(await b2.page.locator('[data-testid=language-en]').getAttribute('aria-pressed')).toBe('true')
    await expectSystemLine(b2.page, '거래가 완료되었어요')
    await b2.page.screenshot({ path: join(artifacts, 'marketplace-english.png') })
    // Remembered: after a reload the page is in English, though the browser is Korean; the other pages stay Korean.
    await b2.page.reload()
    await b2.page.locator('h2', { hasText: 'Who you are' }).waitFor()
    expect(await text(b2.page, 'state')).toBe('disconnected')
    expect(await b2.page.evaluate(() => navigator.language)).toBe('ko-KR')
    await connect(b2.page)
    await byTestId(b2.page, 'post-status')
      .filter({ hasText: /^Sold$/ })
      .waitFor()
    await expectReadOnly(b2.page, 'This deal is closed. Messages can no longer be sent in this chat.')
    expect(await b1.page.locator('#send').textContent()).toBe('전송')
    expect(await text(b1.page, 'post-status')).toBe('거래완료')

    expect(pages.flatMap((p) => [...p.dialogs, ...p.violations])).toEqual([])
    await Promise.all(pages.map((p) => p.context.close()))
  }, 90_000)

  it('should let a buyer leave a direct chat from the inbox once confirmed, and turn the seller read-only, saying why', async () => {
    const postId = 32
    // A post whose data has no deal state: an archived room says 거래완료 by itself.
    const post = { title: '접이식 자전거', price: 120000 }
    const roomId = await directRoom(buyer3, postId, post)
    await json(sendAs(roomId, seller, '자전거 보러 오세요'), 201)
    const s = await openChatPage(browser, server.base, seller, roomId, KOREAN)
    const b = await openChatPage(browser, server.base, buyer3, roomId, { ...KOREAN, viewport: PHONE })
    await connect(s.page)
    expect(await text(s.page, 'post-price')).toBe('120,000원')
    expect(await byTestId(s.page, 'post-status').count()).toBe(0)

    // The buyer opens the entry's menu on the phone and asks to leave: a question first; 취소 keeps the chat.
    await b.page.click('[data-testid=inbox-open]')
    const entry = b.page.locator(`[data-testid=inbox] li[data-id="${roomId}"]`)
    await entry.waitFor()
    await entry.locator('[data-testid=inbox-menu]').click()
    await entry.locator('[data-testid=inbox-leave]').click()
    const question = entry.locator('[data-testid=inbox-leave-question]')
    await question.filter({ hasText: '나갈까요?' }).waitFor()
    await onScreen(b.page, `[data-testid=inbox] li[data-id="${roomId}"] [data-testid=inbox-leave-confirm]`, PHONE)
    await entry.locator('[data-testid=inbox-leave-cancel]').click()
    await question.waitFor({ state: 'hidden' })
    expect(await entry.count()).toBe(1)
    await entry.locator('[data-testid=inbox-leave]').click()
    expect(await goneOnClick(b.page, roomId, 'inbox-leave-confirm')).toBe(true)

    // The seller's page: the system line, and a composer that says the other person left.
    await expectSystemLine(s.page, '구매자3님이 대화방을 나갔습니다.')
    await expectReadOnly(s.page, '상대방이 대화방을 나갔어요.')
    const refused = await sendAs(roomId, seller, '계세요?')
    expect(refused.status).toBe(409)
    expect(((await refused.json()) as { code: string }).code).toBe('peer_left')
    // Read from the room's messages after a reload too.
    await s.page.reload()
    await connect(s.page)
    await expectReadOnly(s.page, '상대방이 대화방을 나갔어요.')

    // The post is taken down: the room is archived, and its header says 거래완료 without a deal state in the data.
    await json(server.post(`/chat/v1/posts/${postId}/messages/`, { message: '게시글이 삭제되었어요', status: 'archived' }, service), 200)
    await byTestId(s.page, 'post-status')
      .filter({ hasText: /^거래완료$/ })
      .waitFor()
    await expectReadOnly(s.page, '거래가 완료된 채팅방이에요. 메시지를 보낼 수 없어요.')
    await expectSystemLine(s.page, '게시글이 삭제되었어요')
    expect(await storedTexts(roomId)).toEqual(['자전거 보러 오세요', '구매자3님이 대화방을 나갔습니다.', '게시글이 삭제되었어요'])
    await s.page.screenshot({ path: join(artifacts, 'marketplace-left-archived.png') })

    expect([...s.dialogs, ...b.dialogs, ...s.violations, ...b.violations]).toEqual([])
    await Promise.all([s.context.close(), b.context.close()])
  }, 60_000)
})
