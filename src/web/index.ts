import { Elysia } from 'elysia'
// Bun bundles the page, its TypeScript and CSS (and carries them inside the binary).
import testPage from './chat_gateway_test.html'

/**
 * The seed's test page, done well. Bun serves it and its bundled assets natively (Elysia would
 * hand the bundle to its JSON serialiser): static files with no data in them, so they answer
 * without the gateway secret. Set TEST_PAGE=false to leave them out.
 */
export const testPageRoutes = { '/chat_gateway_test.html': testPage }

/** `/` points at the test page. */
export const webRoutes = () =>
  new Elysia({ name: 'web' }).get('/', ({ redirect }) => redirect('/chat_gateway_test.html', 302), { detail: { hide: true } })
