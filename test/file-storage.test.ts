import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contentDisposition } from '../src/uploads/content-disposition.ts'
import { LOCAL_FILES_PATH, LocalFileStorage } from '../src/uploads/local-storage.ts'
import { openFileStorage } from '../src/uploads/open-storage.ts'
import type { FileStorage } from '../src/uploads/storage.ts'
import { startS3Server } from './support/s3-server.ts'

/** A storage under test, with what it takes to fetch its URLs and to look behind it. */
interface Harness {
  storage: FileStorage
  /** The absolute URL a signed URL names. */
  absolute(url: string): string
  /** The signature's query parameter. */
  signatureParam: string
  /** A URL for key that worked once and has expired since, the store's own way. */
  expiredUrl(key: string): Promise<string>
  /** Whether the object is still kept, looked up behind the storage's back. */
  holds(key: string): Promise<boolean>
  stop(): Promise<void>
}

const now = () => Date.now() / 1000

/** Local storage in a fresh folder, served as the file route serves it: verify, then read. */
async function localHarness(): Promise<Harness> {
  const folder = mkdtempSync(join(tmpdir(), 'chat-files-'))
  const storage = new LocalFileStorage({ folder })
  const server = Bun.serve({
    port: 0,
    async fetch(request) {
      const url = new URL(request.url)
      if (!url.pathname.startsWith(LOCAL_FILES_PATH)) return new Response('not found', { status: 404 })
      const key = url.pathname.slice(LOCAL_FILES_PATH.length)
      const at = now()
      const check = storage.verify(key, url.searchParams, at)
      if (check !== 'ok') return new Response(check, { status: 403 })
      const file = await storage.read(key)
      if (!file) return new Response('not found', { status: 404 })
      return new Response(file, { headers: storage.responseHeaders(url.searchParams, at) })
    },
  })
  return {
    storage,
    absolute: (url) => new URL(url, server.url).href,
    signatureParam: 'signature',
    async expiredUrl(key) {
      const url = new URL(storage.signedUrl(key, { expiresAt: Math.floor(now()) - 1, contentType: 'image/png', name: 'a.png', disposition: 'inline' }), server.url).href
      // Refused for its age, not for its signature.
      expect(await (await fetch(url)).text()).toBe('expired')
      return url
    },
    holds: async (key) => (await storage.read(key)) !== null,
    async stop() {
      await server.stop(true)
      rmSync(folder, { recursive: true, force: true })
    },
  }
}

/** S3 storage on a real S3 server (s3rver) that checks presigned URLs' signatures and expiry. */
async function s3Harness(): Promise<Harness> {
  const s3 = await startS3Server()
  const storage = openFileStorage({ kind: 's3', ...s3 })
  return {
    storage,
    absolute: (url) => url,
    signatureParam: 'X-Amz-Signature',
    async expiredUrl(key) {
      // A presigned URL lives at least a second, counted from its signing (to the second).
      const url = storage.signedUrl(key, { expiresAt: now() + 1, contentType: 'image/png', name: 'a.png', disposition: 'inline' })
      await Bun.sleep(2100)
      // Refused for its age, not for its signature.
      expect(await (await fetch(url)).text()).toContain('<Message>Request has expired</Message>')
      return url
    },
    holds: async (key) => (await s3.objectKeys()).includes(key),
    stop: () => s3.stop(),
  }
}

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3])
const PDF = new TextEncoder().encode('%PDF-1.7 not really\n')

/** `url` with one query parameter changed. */
function withParam(url: string, name: string, change: (value: string) => string): string {
  const parsed = new URL(url, 'http://x')
  parsed.searchParams.set(name, change(parsed.searchParams.get(name) ?? ''))
  return url.startsWith('/') ? `${parsed.pathname}${parsed.search}` : parsed.href
}

/** The last character of a signature, changed. */
const flipLast = (value: string) => value.slice(0, -1) + (value.endsWith('A') ? 'B' : 'A')

describe.each([
  ['local', localHarness],
  ['s3', s3Harness],
] as const)('%s file storage', (_kind, start) => {
  let h: Harness
  beforeAll(async () => {
    h = await start()
  })
  afterAll(async () => {
    await h.stop()
  })

  const inOneHour = () => Math.floor(now()) + 3600

  it('should serve put bytes through a signed URL with their type, inline for an image', async () => {
    const key = `ab/cd/${crypto.randomUUID()}`
    await h.storage.put(key, PNG, 'image/png')
    const response = await fetch(h.absolute(h.storage.signedUrl(key, { expiresAt: inOneHour(), contentType: 'image/png', name: 'cat.png', disposition: 'inline' })))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('image/png')
    expect(response.headers.get('content-disposition')).toBe(`inline; filename="cat.png"; filename*=UTF-8''cat.png`)
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(PNG)
  })

  it('should serve a file as an attachment under its Korean name (RFC 5987)', async () => {
    const key = `${crypto.randomUUID()}/original`
    const name = '보고서 (최종)*.pdf'
    await h.storage.put(key, PDF, 'application/pdf')
    const response = await fetch(h.absolute(h.storage.signedUrl(key, { expiresAt: inOneHour(), contentType: 'application/pdf', name, disposition: 'attachment' })))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/pdf')
    const disposition = response.headers.get('content-disposition') ?? ''
    expect(disposition).toStartWith('attachment; filename="')
    expect(decodeURIComponent(disposition.split("filename*=UTF-8''")[1] ?? '')).toBe(name)
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(PDF)
  })

  it('should keep a file and its thumbnail under <uuid> and <uuid>/thumb apart', async () => {
    const id = crypto.randomUUID()
    await h.storage.put(id, PNG, 'image/png')
    await h.storage.put(`${id}/thumb`, PDF, 'image/png')
    const body = async (key: string) => new Uint8Array(await (await fetch(h.absolute(h.storage.signedUrl(key, { expiresAt: inOneHour(), contentType: 'image/png', name: 'a.png', disposition: 'inline' })))).arrayBuffer())
    expect(await body(id)).toEqual(PNG)
    expect(await body(`${id}/thumb`)).toEqual(PDF)
  })

  it('should refuse a URL whose signature or signed headers were altered (403)', async () => {
    const key = `ab/cd/${crypto.randomUUID()}`
    await h.storage.put(key, PDF, 'application/pdf')
    const url = h.storage.signedUrl(key, { expiresAt: inOneHour(), contentType: 'application/pdf', name: 'a.pdf', disposition: 'attachment' })
    expect((await fetch(h.absolute(withParam(url, h.signatureParam, flipLast)))).status).toBe(403)
    expect((await fetch(h.absolute(withParam(url, 'response-content-disposition', (d) => d.replace('attachment', 'inline'))))).status).toBe(403)
    expect((await fetch(h.absolute(withParam(url, 'response-content-type', () => 'text/html')))).status).toBe(403)
    expect((await fetch(h.absolute(url))).status).toBe(200)
  })

  it('should refuse a URL once it has expired (403)', async () => {
    const key = `ab/cd/${crypto.randomUUID()}`
    await h.storage.put(key, PNG, 'image/png')
    expect((await fetch(await h.expiredUrl(key))).status).toBe(403)
  })

  it('should remove a file on delete, and delete it again without complaint', async () => {
    const key = `ab/cd/${crypto.randomUUID()}`
    await h.storage.put(key, PNG, 'image/png')
    expect(await h.holds(key)).toBe(true)
    const url = h.absolute(h.storage.signedUrl(key, { expiresAt: inOneHour(), contentType: 'image/png', name: 'a.png', disposition: 'inline' }))
    await h.storage.delete(key)
    expect(await h.holds(key)).toBe(false)
    // S3 answers 403 for a missing key to whoever may not list the bucket, 404 otherwise.
    expect([403, 404]).toContain((await fetch(url)).status)
    await h.storage.delete(key)
    await h.storage.delete(`ab/cd/${crypto.randomUUID()}`)
  })

  it('should refuse keys that are not storage keys', async () => {
    for (const key of ['../escape', '/etc/passwd', 'ab/../../x', 'a/./b', '.url-secret', 'a//b', 'a/', '', 'a\\b', 'name.png', '보고서']) {
      await expect(h.storage.put(key, PNG, 'image/png')).rejects.toThrow(RangeError)
      await expect(h.storage.delete(key)).rejects.toThrow(RangeError)
      expect(() => h.storage.signedUrl(key, { expiresAt: inOneHour(), contentType: 'image/png', name: 'a.png', disposition: 'inline' })).toThrow(RangeError)
    }
  })
})

describe('local file storage', () => {
  let folder: string
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'chat-files-'))
  })
  afterAll(() => {
    rmSync(folder, { recursive: true, force: true })
  })

  it('should tell an expired URL from a bad signature, by the clock it is given', async () => {
    const storage = new LocalFileStorage({ folder })
    const url = new URL(storage.signedUrl('ab/cd/x', { expiresAt: 1000, contentType: 'image/png', name: 'a.png', disposition: 'inline' }), 'http://x')
    expect(storage.verify('ab/cd/x', url.searchParams, 999)).toBe('ok')
    expect(storage.verify('ab/cd/x', url.searchParams, 1000)).toBe('ok')
    expect(storage.verify('ab/cd/x', url.searchParams, 1001)).toBe('expired')
    expect(storage.verify('ab/cd/y', url.searchParams, 999)).toBe('bad_signature')
    expect(storage.verify('../ab/cd/x', url.searchParams, 999)).toBe('bad_signature')
    const later = new URLSearchParams(url.searchParams)
    later.set('expires', '2000')
    expect(storage.verify('ab/cd/x', later, 1500)).toBe('bad_signature')
    expect(storage.verify('ab/cd/x', Object.fromEntries(url.searchParams), 999)).toBe('ok')
    expect(storage.verify('ab/cd/x', {}, 999)).toBe('bad_signature')
  })

  it('should keep its URL secret in the folder (0600), so URLs outlive a restart', async () => {
    const first = new LocalFileStorage({ folder })
    const url = new URL(first.signedUrl('ab/cd/x', { expiresAt: 1000, contentType: 'image/png', name: 'a.png', disposition: 'inline' }), 'http://x')
    expect(statSync(join(folder, '.url-secret')).mode & 0o777).toBe(0o600)
    expect(new LocalFileStorage({ folder }).verify('ab/cd/x', url.searchParams, 999)).toBe('ok')
    const elsewhere = new LocalFileStorage({ folder: mkdtempSync(join(tmpdir(), 'chat-files-')) })
    expect(elsewhere.verify('ab/cd/x', url.searchParams, 999)).toBe('bad_signature')
    rmSync(elsewhere.folder, { recursive: true })
  })

  it('should accept the URLs of another instance sharing FILE_URL_SECRET', async () => {
    const secret = 'a shared secret of enough length to sign with'
    const one = new LocalFileStorage({ folder: join(folder, 'one'), secret })
    const two = new LocalFileStorage({ folder: join(folder, 'two'), secret })
    const url = new URL(one.signedUrl('ab/cd/x', { expiresAt: 1000, contentType: 'image/png', name: 'a.png', disposition: 'inline' }), 'http://x')
    expect(two.verify('ab/cd/x', url.searchParams, 999)).toBe('ok')
    expect(existsSync(join(folder, 'one', '.url-secret'))).toBe(false)
  })

  it('should write files whole and leave no temporary file behind', async () => {
    const storage = new LocalFileStorage({ folder })
    const big = new Uint8Array(4 << 20).fill(7)
    await Promise.all([storage.put('w/x', big, 'image/png'), storage.put('w/x', PNG, 'image/png')])
    const stored = new Uint8Array(await (await storage.read('w/x'))!.arrayBuffer())
    expect([big.length, PNG.length]).toContain(stored.length)
    expect(readdirSync(join(folder, 'w'))).toEqual(['x.bin'])
    expect(await storage.read('w/missing')).toBeNull()
    expect(await storage.read('../w/x')).toBeNull()
  })
})

describe('content disposition', () => {
  it('should carry the name as ASCII and as RFC 5987 UTF-8', () => {
    expect(contentDisposition('attachment', '보고서.pdf')).toBe(`attachment; filename="___.pdf"; filename*=UTF-8''%EB%B3%B4%EA%B3%A0%EC%84%9C.pdf`)
    expect(contentDisposition('attachment', `a "b"\\c/d\r\n'e'.txt`)).toBe(`attachment; filename="a _b__c_d__'e'.txt"; filename*=UTF-8''a%20%22b%22_c_d__%27e%27.txt`)
    expect(contentDisposition('inline', '  ')).toBe(`inline; filename="file"; filename*=UTF-8''file`)
  })
})
