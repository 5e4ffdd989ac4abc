import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'
import type { TestUser } from './server.ts'

/** Where tests save screenshots (ignored by git). */
export const artifacts = join(import.meta.dir, '..', 'artifacts')

/**
 * Debian's Chromium, headless, with no background traffic. Playwright gives every launch a
 * fresh temporary profile of its own.
 */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  mkdirSync(artifacts, { recursive: true })
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  })
}

/** Collects what the browser reports as blocked by the page's content security policy. */
export function cspViolations(page: Page): string[] {
  const violations: string[] = []
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) violations.push(message.text())
  })
  return violations
}

/** The chat test page in a browser context of its own, with what it reported. */
export interface ChatPage {
  page: Page
  context: BrowserContext
  dialogs: string[]
  violations: string[]
}

/** How a page's browser context is set up: the browser's language and the window's size. */
export interface PageOptions {
  /** `navigator.language`, which picks the page's labels (`ko…`: Korean); en-US by default. */
  locale?: string
  viewport?: { width: number; height: number }
}

/**
 * A blank page in its own browser context (its own localStorage), recording the dialogs it
 * opens and the policy violations it reports.
 */
export async function newChatPage(browser: Browser, { locale = 'en-US', viewport = { width: 1100, height: 760 } }: PageOptions = {}): Promise<ChatPage> {
  const context = await browser.newContext({ viewport, locale })
  const page = await context.newPage()
  const dialogs: string[] = []
  const violations = cspViolations(page)
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  return { page, context, dialogs, violations }
}

/**
 * Opens the chat test page served at `base` in its own browser context, as `user`, with the room
 * id filled in when given; dialogs and policy violations are recorded.
 */
export async function openChatPage(browser: Browser, base: string, user: TestUser, roomId?: number, options?: PageOptions): Promise<ChatPage> {
  const opened = await newChatPage(browser, options)
  const { page } = opened
  await page.goto(`${base}/`)
  await page.fill('#user_id', user.user_id)
  await page.fill('#nickname', user.nickname)
  await page.fill('#email', user.email)
  await page.fill('#profile_url', user.profile_url ?? '')
  if (roomId !== undefined) await page.fill('#room_id', String(roomId))
  return opened
}

/** The connection state badge. */
export const stateBadge = (page: Page) => page.locator('[data-testid=state]')

/** The stored messages the page shows, in order. */
export const messageTexts = (page: Page) => page.locator('#messages li.message .text').allTextContents()

/** Types a message and sends it. */
export async function sendFromPage(page: Page, text: string) {
  await page.fill('#message', text)
  await page.click('#send')
}

/** Connects to the room in the room id field and waits until the page shows it connected (in whichever language). */
export async function connectPage(page: Page) {
  await page.click('#connect')
  await page.locator('[data-testid=state][data-state=open]').waitFor()
}
