import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { artifacts, connectPage as connect, launchBrowser, openChatPage } from './support/browser.ts'
import { createRoom, startTestServer, type TestServer, type TestUser } from './support/server.ts'

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

const seller: TestUser = { user_id: 'up-seller', nickname: '판매자', email: 'seller@example.com' }
const buyer: TestUser = { user_id: 'up-buyer', nickname: '구매자', email: 'buyer@example.com' }

const PDF = '%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n'

/** Draws an 800×600 photo on a canvas in the page and pastes it into the message input, as Ctrl+V of a screenshot does. */
async function pastePhoto(page: Page) {
  await page.evaluate(async () => {
    const canvas = document.createElement('canvas')
    canvas.width = 800
    canvas.height = 600
    const ctx = canvas.getContext('2d')!
    const sky = ctx.createLinearGradient(0, 0, 0, 600)
    sky.addColorStop(0, '#7fb3ff')
    sky.addColorStop(1, '#f6d7a7')
    ctx.fillStyle = sky
    ctx.fillRect(0, 0, 800, 600)
    ctx.fillStyle = '#2d6a4f'
    ctx.fillRect(0, 420, 800, 180)
    ctx.fillStyle = '#e63946'
    ctx.beginPath()
    ctx.arc(400, 380, 90, 0, Math.PI * 2)
    ctx.fill()
    const blob = await new Promise<Blob>((resolve) => canvas.toBlob((b) => resolve(b!), 'image/png'))
    const clipboard = new DataTransfer()
    clipboard.items.add(new File([blob], 'image.png', { type: 'image/png' }))
    document.getElementById('message')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: clipboard, bubbles: true, cancelable: true }))
  })
}

/** Records every text the composer's upload chips show, from now on. */
async function recordChipStatuses(page: Page) {
  await page.evaluate(() => {
    const seen: string[] = []
    ;(window as unknown as { chipStatuses: string[] }).chipStatuses = seen
    new MutationObserver(() => {
      for (const status of document.querySelectorAll('[data-testid=upload-status]')) if (status.textContent && seen.at(-1) !== status.textContent) seen.push(status.textContent)
    }).observe(document.getElementById('upload-tray')!, { subtree: true, childList: true, characterData: true })
  })
}

/** The page fits its viewport's width: nothing scrolls sideways. */
const overflow = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)

/** Every element matched lies within the viewport's width. */
async function withinWidth(page: Page, selector: string, width: number) {
  for (const box of await page.locator(selector).evaluateAll((els) => els.map((el) => el.getBoundingClientRect().toJSON() as DOMRect))) {
    expect(box.left).toBeGreaterThanOrEqual(0)
    expect(box.right).toBeLessThanOrEqual(width)
  }
}

describe('photos and files on the test page', () => {
  it('should show a pasted photo as a thumbnail on the other page, full size on a tap, and files as chips that download', async () => {
    const roomId = await createRoom(server, '사진 거래')
    // Both browsers are Korean: the page's labels (업로드 중…, 전송 실패) are its Korean ones.
    const s = await openChatPage(browser, server.base, seller, roomId, { locale: 'ko-KR' })
    const b = await openChatPage(browser, server.base, buyer, roomId, { locale: 'ko-KR' })
    // The buyer is on a phone.
    await b.page.setViewportSize({ width: 375, height: 667 })
    await connect(s.page)
    await connect(b.page)

    // Pasted: a chip in the composer until sent, with its upload's progress, then gone.
    await pastePhoto(s.page)
    const chip = s.page.locator('[data-testid=upload-chip]')
    await chip.waitFor()
    expect(await chip.getAttribute('data-state')).toBe('draft')
    await s.page.locator('[data-testid=upload-chip] .chip-preview img').waitFor()
    await recordChipStatuses(s.page)
    await s.page.fill('#message', '자전거 사진이에요')
    await s.page.click('#send')
    await chip.waitFor({ state: 'detached', timeout: 15_000 })
    const statuses = await s.page.evaluate(() => (window as unknown as { chipStatuses: string[] }).chipStatuses)
    expect(statuses.some((text) => /^업로드 중… \d+%$/.test(text))).toBe(true)
    expect(statuses).toContain('전송 중…')

    // The buyer sees the thumbnail, its space kept from the photo's shape (4:3 within 240 px).
    const thumb = b.page.locator('#messages li.message [data-testid=thumbnail] img')
    await thumb.waitFor({ timeout: 15_000 })
    expect([await thumb.getAttribute('width'), await thumb.getAttribute('height')]).toEqual(['240', '180'])
    await b.page.waitForFunction(() => ((document.querySelector('#messages [data-testid=thumbnail] img') as HTMLImageElement | null)?.naturalWidth ?? 0) > 0)
    expect(await b.page.locator('#messages li.message .text').last().textContent()).toBe('자전거 사진이에요')

    // A tap opens it full size; Esc closes it, and so does a tap on it.
    const lightbox = b.page.locator('[data-testid=lightbox]')
    await b.page.locator('[data-testid=thumbnail]').click()
    await lightbox.waitFor()
    await b.page.waitForFunction(() => (document.querySelector('[data-testid=lightbox-image]') as HTMLImageElement).naturalWidth === 800)
    expect(await overflow(b.page)).toBeLessThanOrEqual(0)
    await withinWidth(b.page, '[data-testid=lightbox-image], [data-testid=lightbox-close]', 375)
    await b.page.screenshot({ path: join(artifacts, 'uploads-lightbox-375.png') })
    await b.page.keyboard.press('Escape')
    await lightbox.waitFor({ state: 'hidden' })
    await b.page.locator('[data-testid=thumbnail]').click()
    await lightbox.waitFor()
    await lightbox.click()
    await lightbox.waitFor({ state: 'hidden' })

    // A file picked with the paperclip (no text): a chip with its name and size that downloads.
    const chooser = s.page.waitForEvent('filechooser')
    await s.page.click('[data-testid=attach]')
    await (await chooser).setFiles({ name: '견적서.pdf', mimeType: 'application/pdf', buffer: Buffer.from(PDF) })
    await chip.waitFor()
    await s.page.click('#send')
    const fileChip = b.page.locator('#messages [data-testid=file-chip]')
    await fileChip.waitFor({ timeout: 15_000 })
    expect(await fileChip.locator('.file-name').textContent()).toBe('견적서.pdf')
    expect(await fileChip.locator('.file-size').textContent()).toBe(`${PDF.length} B`)
    expect(await fileChip.getAttribute('download')).toBe('견적서.pdf')
    const href = (await fileChip.getAttribute('href'))!
    expect(await b.page.evaluate(async (url) => (await fetch(url)).text(), href)).toBe(PDF)

    // Dropped on the chat: the same chip; a file the server will not take says so, and can be dismissed.
    await s.page.evaluate(() => {
      const dropped = new DataTransfer()
      dropped.items.add(new File(['그냥 메모'], 'memo.txt', { type: 'text/plain' }))
      const chat = document.getElementById('chat')!
      chat.dispatchEvent(new DragEvent('dragenter', { dataTransfer: dropped, bubbles: true, cancelable: true }))
      chat.dispatchEvent(new DragEvent('drop', { dataTransfer: dropped, bubbles: true, cancelable: true }))
    })
    await chip.waitFor()
    await s.page.click('#send')
    await s.page.locator('[data-testid=upload-chip][data-state=failed]').waitFor({ timeout: 15_000 })
    expect(await s.page.locator('[data-testid=upload-status]').textContent()).toStartWith('전송 실패')
    await s.page.screenshot({ path: join(artifacts, 'uploads-desktop.png') })
    await s.page.click('[data-testid=upload-dismiss]')
    await s.page.locator('[data-testid=upload-tray]').waitFor({ state: 'hidden' })

    // The phone: the page fits its width, the composer and a message's menu are on the screen.
    await pastePhoto(b.page)
    await b.page.locator('[data-testid=upload-chip]').waitFor()
    expect(await overflow(b.page)).toBeLessThanOrEqual(0)
    await withinWidth(b.page, '#attach, #message, #send, [data-testid=upload-chip], #messages [data-testid=thumbnail], #messages [data-testid=file-chip]', 375)
    await b.page.locator('#messages li.message [data-testid=message-menu]').first().click()
    await withinWidth(b.page, '#messages [data-testid=menu]:not([hidden]) button', 375)
    expect(await overflow(b.page)).toBeLessThanOrEqual(0)
    await b.page.screenshot({ path: join(artifacts, 'uploads-375.png') })
    expect(s.violations).toEqual([])
    expect(b.violations).toEqual([])
    await s.context.close()
    await b.context.close()
  })
})
