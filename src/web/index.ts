import { basename } from 'node:path'
import { Elysia } from 'elysia'
import { notFound } from '../errors.ts'
import { pageHeaders } from '../http.ts'
// Bun bundles the page with its TypeScript and CSS (and carries the bundle inside the binary).
import testPage from './chat_gateway_test.html'

/** The page's own path; its script and style sit beside it. */
const TEST_PAGE_PATH = '/chat_gateway_test.html'

const headers = pageHeaders("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data: https: http:")

/** One file of the bundled page, by the path it is served at. */
interface PageFile {
  body: Blob
  type: string
}

/**
 * The page and its assets, by URL path. The binary carries them prebuilt (`files`); from source
 * they are bundled here once, at start-up, in a few milliseconds.
 */
async function bundle(): Promise<Map<string, PageFile>> {
  const files = new Map<string, PageFile>()
  const add = (path: string, body: Blob, type: string, isPage: boolean) => files.set(isPage ? TEST_PAGE_PATH : `/${basename(path)}`, { body, type })
  if (testPage.files) {
    for (const file of testPage.files) add(file.path, Bun.file(file.path), file.headers['content-type'], file.loader === 'html')
    return files
  }
  const built = await Bun.build({ entrypoints: [testPage.index], target: 'browser', minify: true })
  if (!built.success) throw new AggregateError(built.logs, 'the test page did not bundle')
  for (const output of built.outputs) add(output.path, output, output.type, output.path.endsWith('.html'))
  return files
}

/** The page's routes over its bundled files. */
function testPageRoutes(files: ReadonlyMap<string, PageFile>) {
  const answer = (path: string) => {
    const file = files.get(path)
    if (!file) throw notFound('not_found', 'No such route.')
    return new Response(file.body, { headers: { 'content-type': file.type, 'cache-control': path === TEST_PAGE_PATH ? 'no-cache' : 'public, max-age=86400', ...headers } })
  }
  return (
    new Elysia({ name: 'test-page' })
      .get('/', ({ redirect }) => redirect(TEST_PAGE_PATH, 302), { detail: { hide: true } })
      .get(TEST_PAGE_PATH, () => answer(TEST_PAGE_PATH), { detail: { hide: true } })
      // Its assets are named by content hash (`chunk-1a2b3c.js`); the lookup is by the map's own keys.
      .get('/:asset', ({ params }) => answer(`/${params.asset}`), { detail: { hide: true } })
  )
}

/** The test page, ready to serve: its routes, and which paths it answers (for TEST_PAGE=public). */
export interface TestPage {
  routes: ReturnType<typeof testPageRoutes>
  serves(method: string, path: string): boolean
}

/**
 * The seed's test page, done well: `/chat_gateway_test.html` with its bundled script and style
 * beside it, and `/` pointing at it. Served through the app like every other route, so the gate
 * judges it (TEST_PAGE=public opens exactly these paths).
 */
export async function loadTestPage(): Promise<TestPage> {
  const files = await bundle()
  return { routes: testPageRoutes(files), serves: (method, path) => (method === 'GET' || method === 'HEAD') && (path === '/' || files.has(path)) }
}
