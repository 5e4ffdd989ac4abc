import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'

/** Where tests save screenshots (ignored by git). */
export const artifacts = join(import.meta.dir, '..', 'artifacts')

/**
 * Debian's Chromium, headless, with no background traffic. Playwright gives every launch a
 * fresh temporary profile of its own.
 */
export async function launchBrowser(): Promise<Browser> {
  mkdirSync(artifacts, { recursive: true })
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
}
