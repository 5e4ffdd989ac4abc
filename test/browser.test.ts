import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { artifacts, connectPage as connect, cspViolations, launchBrowser, messageTexts, openChatPage as openPage, sendFromPage as send, stateBadge as state } from './support/browser.ts'
import { alice, bob, carol, createRoom, handshake, identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'

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

/** A page at the test server, as `user`. */
const openChatPage = (user: TestUser, roomId?: number) => openPage(browser, server.base, user, roomId)

/** Opens (or finds) the page user's direct room with another user from the page's form; its id. */
async function openDirectRoom(page: Page, otherUserId: string, postId?: number): Promise<number> {
  await page.fill('[data-testid=direct-user-id]', otherUserId)
  if (postId !== undefined) await page.fill('[data-testid=direct-post-id]', String(postId))
  await page.click('[data-testid=direct-room-submit]')
  await page.waitForFunction(() => (document.getElementById('room_id') as HTMLInputElement).value !== '')
  return Number(await page.inputValue('#room_id'))
}

/** Records every state the page's connection shows from now on; the returned function reads them. */
async function recordStates(page: Page): Promise<() => Promise<string[]>> {
  await page.evaluate(() => {
    const badge = document.querySelector('[data-testid=state]')!
    const seen = [badge.textContent ?? '']
    ;(window as unknown as { seenStates: string[] }).seenStates = seen
    new MutationObserver(() => seen.push(badge.textContent ?? '')).observe(badge, { childList: true, characterData: true, subtree: true })
  })
  return () => page.evaluate(() => (window as unknown as { seenStates: string[] }).seenStates)
}

const memberRows = (page: Page) => page.locator('[data-testid=members] li')
/** The members panel as `user_id:role` pairs, in the order shown. */
const memberList = (page: Page) => memberRows(page).evaluateAll((rows) => rows.map((row) => `${(row as HTMLElement).dataset.userId}:${(row as HTMLElement).dataset.role}`))
const memberRow = (page: Page, user: TestUser) => page.locator(`[data-testid=members] li[data-user-id="${user.user_id}"]`)

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
    await state(b.page)
      .filter({ hasText: /^connected$/ })
      .waitFor()
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
    await state(a.page)
      .filter({ hasText: /^connected$/ })
      .waitFor()
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
    await state(a.page)
      .filter({ hasText: /^connected$/ })
      .waitFor()
    await send(a.page, 'before the restart')
    await a.page.locator('#messages li.message .text', { hasText: 'before the restart' }).waitFor()

    await server.stop()
    await state(a.page).filter({ hasText: 'reconnecting' }).waitFor()
    server = await server.restart()
    for (let i = 0; i < 3; i++) await server.post('/chat/v1/message/', { message: `while away ${i}`, room: roomId }, identityHeaders(bob))

    await a.page.locator('#messages li.message .text', { hasText: 'while away 2' }).waitFor({ timeout: 20_000 })
    await state(a.page)
      .filter({ hasText: /^connected$/ })
      .waitFor()
    await send(a.page, 'after the restart')
    await a.page.locator('#messages li.message .text', { hasText: 'after the restart' }).waitFor()
    expect(await messageTexts(a.page)).toEqual(['before the restart', 'while away 0', 'while away 1', 'while away 2', 'after the restart'])
    await a.context.close()
  }, 60_000)
})

describe('private and direct rooms on the test page', () => {
  it('should let two users open a direct room about a post and chat, listing both as members, and refuse a third user', async () => {
    const postId = 7001
    const a = await openChatPage(alice)
    const roomId = await openDirectRoom(a.page, bob.user_id, postId)
    expect(roomId).toBeGreaterThan(0)
    const b = await openChatPage(bob)
    // The same pair about the same post lands in the same room, whichever of the two asks.
    expect(await openDirectRoom(b.page, alice.user_id, postId)).toBe(roomId)
    for (const page of [a.page, b.page]) await page.locator(`#rooms li[data-id="${roomId}"]`, { hasText: 'direct · 2 members' }).waitFor()

    await connect(a.page)
    await connect(b.page)
    for (const page of [a.page, b.page]) {
      await memberRows(page).nth(1).waitFor()
      expect((await memberList(page)).sort()).toEqual([`${alice.user_id}:member`, `${bob.user_id}:member`])
    }
    // Alice has not taken part yet: Bob's page knows her id only (a direct room reveals no profile).
    expect(await memberRow(b.page, alice).locator('.who').textContent()).toBe(alice.user_id)
    // A direct room has no owner: nobody adds or removes; each may block the other.
    for (const page of [a.page, b.page]) {
      expect(await page.locator('#add-member').isHidden()).toBe(true)
      expect(await page.locator('[data-testid=remove-member]').count()).toBe(0)
      expect(await page.locator('[data-testid=block-toggle]').allTextContents()).toEqual(['Block'])
    }

    await send(a.page, 'is the bike still for sale?')
    await b.page.locator('#messages li.message .text', { hasText: 'is the bike still for sale?' }).waitFor()
    // Her message names her: so does Bob's members panel, at once (the server writes profiles a moment after it sees them).
    expect(await memberRow(b.page, alice).locator('.who').textContent()).toBe(alice.nickname)
    await send(b.page, '네, 아직 있어요')
    await a.page.locator('#messages li.message .text', { hasText: '네, 아직 있어요' }).waitFor()
    for (const page of [a.page, b.page]) expect(await messageTexts(page)).toEqual(['is the bike still for sale?', '네, 아직 있어요'])

    const c = await openChatPage(carol, roomId)
    const carolStates = await recordStates(c.page)
    await c.page.click('#connect')
    await c.page.locator('[data-testid=errors]', { hasText: 'not a member' }).waitFor()
    // Longer than the first reconnect delay: the page neither connects nor keeps trying.
    await Bun.sleep(1500)
    expect(await state(c.page).textContent()).toBe('disconnected')
    expect(await carolStates()).not.toContain('connected')
    expect((await carolStates()).filter((s) => s.startsWith('reconnecting'))).toEqual([])
    expect(await c.page.locator('#members-panel').isHidden()).toBe(true)
    expect(await messageTexts(c.page)).toEqual([])
    // At the protocol level too: carol's handshake is refused before the upgrade.
    const refused = await handshake(server, `/ws/chat/${roomId}/chat/?${new URLSearchParams({ user_id: carol.user_id, nickname: carol.nickname, email: carol.email })}`)
    expect(refused.status).toBe(403)
    expect(refused.headers.get('upgrade')).toBeNull()
    expect(await refused.json()).toMatchObject({ code: 'not_a_member' })

    await a.page.screenshot({ path: join(artifacts, 'direct-alice.png') })
    await c.page.screenshot({ path: join(artifacts, 'direct-carol-refused.png') })
    expect([...a.dialogs, ...b.dialogs, ...c.dialogs]).toEqual([])
    expect([...a.violations, ...b.violations, ...c.violations]).toEqual([])
    await Promise.all([a.context.close(), b.context.close(), c.context.close()])
  }, 60_000)

  it('should refuse sends in a direct room while one of the two has blocked the other from the members panel', async () => {
    // Users of their own: a block outlives this test's pages.
    const dan: TestUser = { user_id: 'u-dan', nickname: 'Dan', email: 'dan@example.com' }
    const erin: TestUser = { user_id: 'u-erin', nickname: '에린', email: 'erin@example.com' }
    const a = await openChatPage(dan)
    const roomId = await openDirectRoom(a.page, erin.user_id)
    const b = await openChatPage(erin, roomId)
    await connect(a.page)
    await connect(b.page)
    await send(b.page, 'before the block')
    await a.page.locator('#messages li.message .text', { hasText: 'before the block' }).waitFor()

    await memberRow(a.page, erin).locator('[data-testid=block-toggle]', { hasText: 'Block' }).click()
    await memberRow(a.page, erin).locator('[data-testid=block-toggle]', { hasText: 'Unblock' }).waitFor()
    await send(b.page, 'can you hear me?')
    await b.page.locator('[data-testid=errors]', { hasText: 'blocked' }).waitFor()
    // Both ways: the one who blocked cannot send either.
    await send(a.page, 'nor this')
    await a.page.locator('[data-testid=errors]', { hasText: 'blocked' }).waitFor()

    // The button's state comes from the server's list of blocks, so it survives a reload.
    await a.page.reload()
    await connect(a.page)
    await memberRow(a.page, erin).locator('[data-testid=block-toggle]', { hasText: 'Unblock' }).click()
    await memberRow(a.page, erin)
      .locator('[data-testid=block-toggle]', { hasText: /^Block$/ })
      .waitFor()
    await send(b.page, 'after the unblock')
    for (const page of [a.page, b.page]) await page.locator('#messages li.message .text', { hasText: 'after the unblock' }).waitFor()
    // What was refused was never stored, and is not left waiting as if it might be.
    for (const page of [a.page, b.page]) expect(await messageTexts(page)).toEqual(['before the block', 'after the unblock'])
    for (const page of [a.page, b.page]) expect(await page.locator('[data-testid=pending]').count()).toBe(0)
    expect((await (await server.http('/chat/v1/blocks/', { headers: identityHeaders(dan) })).json()) as unknown[]).toEqual([])

    expect([...a.dialogs, ...b.dialogs]).toEqual([])
    expect([...a.violations, ...b.violations]).toEqual([])
    await Promise.all([a.context.close(), b.context.close()])
  }, 60_000)

  it("should let a private room's owner add and remove members, and stop a removed member's page from reconnecting", async () => {
    const a = await openChatPage(alice)
    await a.page.fill('#room_name', 'team room')
    expect(await a.page.locator('[data-testid=room-members]').isHidden()).toBe(true)
    await a.page.selectOption('[data-testid=room-kind]', 'private')
    await a.page.fill('[data-testid=room-members]', ` ${bob.user_id} , `)
    await a.page.click('#create-room button[type=submit]')
    await a.page.waitForFunction(() => (document.getElementById('room_id') as HTMLInputElement).value !== '')
    const roomId = Number(await a.page.inputValue('#room_id'))
    await a.page.locator(`#rooms li[data-id="${roomId}"]`, { hasText: 'team room · private · 2 members' }).waitFor()

    await connect(a.page)
    await memberRows(a.page).nth(1).waitFor()
    expect(await memberList(a.page)).toEqual([`${alice.user_id}:owner`, `${bob.user_id}:member`])
    expect(await a.page.locator('#add-member').isVisible()).toBe(true)

    const b = await openChatPage(bob, roomId)
    await connect(b.page)
    await memberRows(b.page).nth(1).waitFor()
    // A member manages nobody but themself.
    expect(await b.page.locator('#add-member').isHidden()).toBe(true)
    expect(await b.page.locator('[data-testid=remove-member]').count()).toBe(0)
    expect(await memberRow(b.page, bob).locator('[data-testid=leave-room]').count()).toBe(1)

    await a.page.fill('[data-testid=add-member-user-id]', carol.user_id)
    await a.page.click('[data-testid=add-member-submit]')
    // Bob's page hears of it from the room (chat.member.added).
    for (const page of [a.page, b.page]) await memberRow(page, carol).waitFor()
    const c = await openChatPage(carol, roomId)
    await connect(c.page)

    const bobStates = await recordStates(b.page)
    await memberRow(a.page, bob).locator('[data-testid=remove-member]').click()
    await b.page.locator('#messages li.notice', { hasText: 'removed from this room' }).waitFor()
    for (const page of [a.page, c.page]) await memberRow(page, bob).waitFor({ state: 'detached' })
    await Bun.sleep(1500)
    expect(await state(b.page).textContent()).toBe('disconnected')
    expect([...new Set((await bobStates()).slice(1))]).toEqual(['disconnected'])
    expect(await b.page.locator('#members-panel').isHidden()).toBe(true)
    // Asking again gets the room's reason, not a socket that fails.
    await b.page.click('#connect')
    await b.page.locator('[data-testid=errors]', { hasText: 'not a member' }).waitFor()

    await memberRow(c.page, carol).locator('[data-testid=leave-room]').click()
    await c.page.locator('#messages li.notice', { hasText: 'You left this room.' }).waitFor()
    await memberRow(a.page, carol).waitFor({ state: 'detached' })
    expect(await memberList(a.page)).toEqual([`${alice.user_id}:owner`])
    expect(await state(c.page).textContent()).toBe('disconnected')

    await a.page.screenshot({ path: join(artifacts, 'private-owner.png') })
    expect([...a.dialogs, ...b.dialogs, ...c.dialogs]).toEqual([])
    expect([...a.violations, ...b.violations, ...c.violations]).toEqual([])
    await Promise.all([a.context.close(), b.context.close(), c.context.close()])
  }, 60_000)
})

describe('the inbox on the test page', () => {
  it('should show the inbox with live unread counts, clear them when the room is read, and show the 1 beside what the other has not read', async () => {
    const [dave, erin] = [
      { user_id: 'inbox-dave', nickname: '데이브', email: 'dave@example.com' },
      { user_id: 'inbox-erin', nickname: 'Erin', email: 'erin@example.com' },
    ]
    const d = await openChatPage(dave)
    const e = await openChatPage(erin)
    const roomId = await openDirectRoom(d.page, erin.user_id, 9001)
    // Erin follows her inbox: the room is there, nothing unread.
    await e.page.click('[data-testid=inbox-open]')
    await e.page.locator('[data-testid=inbox-state]', { hasText: 'live' }).waitFor()
    const erinsRoom = e.page.locator(`[data-testid=inbox] li[data-id="${roomId}"]`)
    await erinsRoom.waitFor()
    expect(await erinsRoom.locator('[data-testid=inbox-unread]').isHidden()).toBe(true)
    // Dave writes twice: Erin's badge counts up live, and Dave sees "1" (Erin has not read them).
    await connect(d.page)
    await send(d.page, '자전거 아직 있나요?')
    await send(d.page, 'still there?')
    await erinsRoom.locator('[data-testid=inbox-unread]', { hasText: /^2$/ }).waitFor()
    await e.page.locator('[data-testid=inbox-total]', { hasText: /^2$/ }).waitFor()
    await expect(erinsRoom.textContent()).resolves.toContain('still there?')
    await d.page.locator('#messages li.message').nth(1).waitFor()
    await d.page.waitForFunction(() => [...document.querySelectorAll('#messages li.message .unread-by')].map((s) => s.textContent).join(',') === '1,1')
    // Erin opens the room from her inbox: the page reads it, her badge clears, Dave's 1s go.
    await erinsRoom.click()
    await state(e.page)
      .filter({ hasText: /^connected$/ })
      .waitFor()
    await erinsRoom.locator('[data-testid=inbox-unread]').waitFor({ state: 'hidden' })
    expect(await e.page.locator('[data-testid=inbox-total]').isHidden()).toBe(true)
    await d.page.waitForFunction(() => [...document.querySelectorAll('#messages li.message .unread-by')].every((s) => s.textContent === ''))
    const unreadCount = async () => ((await (await server.http('/chat/v1/unread/', { headers: identityHeaders(erin) })).json()) as { total: number }).total
    expect(await unreadCount()).toBe(0)
    await e.page.screenshot({ path: join(artifacts, 'inbox-erin.png') })
    expect([...d.dialogs, ...e.dialogs]).toEqual([])
    expect([...d.violations, ...e.violations]).toEqual([])
    await Promise.all([d.context.close(), e.context.close()])
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
