import { Elysia } from 'elysia'
// Bun bundles the page, its TypeScript and CSS (and carries them inside the binary).
import testPage from './chat_gateway_test.html'

/** `/chat_gateway_test.html`, the seed's test page done well, and `/` pointing at it. */
export const webRoutes = () =>
  new Elysia({ name: 'web' })
    .get('/chat_gateway_test.html', testPage, { detail: { hide: true } })
    .get('/', ({ redirect }) => redirect('/chat_gateway_test.html', 302), { detail: { hide: true } })
