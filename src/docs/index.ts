import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import type { z } from 'zod'
import swaggerFavicon from 'swagger-ui-dist/favicon-32x32.png' with { type: 'file' }
import swaggerBundle from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' }
import swaggerCss from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' }
import { notFound } from '../errors.ts'
import { pageHeaders } from '../http.ts'
import { identityHeaders } from '../identity.ts'
import { asyncApiDocument } from './asyncapi.ts'
import { toJsonSchema } from '../openapi/json-schema.ts'
import { security, securitySchemes } from '../openapi/security.ts'

/**
 * Swagger UI's page. Its start-up script is a file of its own rather than inline, so the page runs
 * under a policy that allows scripts from this server only. Its files are named relative to the
 * page, so that it works behind a gateway that serves the API under a prefix: from `/docs` they are
 * `docs/assets/…`, from `/docs/` just `assets/…` (`base` is the one or the other).
 */
const page = (base: string) => `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8" />
  <meta name="viewport" content="width=device-width, initial-scale=1" />
  <title>Chat server API</title>
  <link rel="icon" href="${base}assets/favicon-32x32.png" />
  <link rel="stylesheet" href="${base}assets/swagger-ui.css" />
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="${base}assets/swagger-ui-bundle.js"></script>
  <script src="${base}assets/init.js"></script>
</body>
</html>
`
const PAGE = page('docs/')
const PAGE_IN_FOLDER = page('')
/**
 * Swagger UI's start-up. The document is found beside this script's folder, whichever way the page
 * was reached. Browsers refuse header values outside Latin-1 (a Korean nickname), and the server
 * reads identity headers percent-encoded: the interceptor encodes any identity value that is not
 * printable ASCII before "Try it out" sends it, as a gateway would.
 */
const INIT = `const identityHeaderNames = new Set(${JSON.stringify(Object.values(identityHeaders))})
window.ui = SwaggerUIBundle({
  url: new URL('../json', document.currentScript.src).href,
  dom_id: '#swagger-ui',
  deepLinking: true,
  requestInterceptor: (request) => {
    for (const [name, value] of Object.entries(request.headers ?? {})) {
      if (identityHeaderNames.has(name.toLowerCase()) && typeof value === 'string' && /[^\\x20-\\x7e]/.test(value)) request.headers[name] = encodeURIComponent(value)
    }
    return request
  },
})
`

/** Scripts, styles and images from this server only (a browser test holds the page to it). */
const headers = pageHeaders("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'")

/** Swagger UI's files, served by the server itself (and carried inside the binary): no CDN. Looked up by own key only. */
const assets = new Map<string, { body: () => Blob; type: string }>([
  ['swagger-ui-bundle.js', { body: () => Bun.file(swaggerBundle), type: 'text/javascript; charset=utf-8' }],
  ['swagger-ui.css', { body: () => Bun.file(swaggerCss), type: 'text/css; charset=utf-8' }],
  ['favicon-32x32.png', { body: () => Bun.file(swaggerFavicon), type: 'image/png' }],
  ['init.js', { body: () => new Blob([INIT]), type: 'text/javascript; charset=utf-8' }],
])

/** `/docs` (Swagger UI), `/docs/json` (OpenAPI 3.1), `/docs/asyncapi.json` (the WebSocket protocol). */
export const docsRoutes = (version: string) => {
  const asyncapi = asyncApiDocument(version)
  return (
    new Elysia({ name: 'docs' })
      .use(
        openapi({
          path: '/docs',
          specPath: '/docs/json',
          // The page is served below, under a strict content security policy.
          provider: null,
          mapJsonSchema: { zod: (schema: z.ZodType) => toJsonSchema(schema, 'input') },
          exclude: { paths: [/^\/docs/, '/', '/chat_gateway_test.html'] },
          documentation: {
            info: {
              title: 'Chat server API',
              version,
              description: [
                'REST for rooms and message history. The live chat runs over WebSocket at `/ws/chat/{room_id}/chat/`: its protocol (frames, handshake, refusals, close codes) is the [AsyncAPI document](docs/asyncapi.json).',
                '',
                'Identity comes from the API gateway in front of this server: `X-User-Id`, `X-Nickname`, `X-Email`, `X-Profile-Url` (non-ASCII percent-encoded as UTF-8), documented as security schemes: enter them once under **Authorize** to try the operations here. Errors are RFC 9457 `application/problem+json` with a stable `code`.',
                '',
                "Rooms are `open` (anyone), `private` (an owner and members) or `direct` (two members, one room per pair and post). Private and direct rooms answer only their members (403 `not_a_member`) and service calls: requests from the app's own backend carrying `X-Service-Secret` (SERVICE_SECRET), which may create rooms for anyone, manage members and read any room.",
              ].join('\n'),
            },
            tags: [
              { name: 'rooms', description: 'Chat rooms: open (at most one per post), private and direct' },
              { name: 'members', description: 'Who belongs to a private room' },
              { name: 'read state', description: 'Read markers and the unread badge' },
              { name: 'blocks', description: "A user's blocks: no direct room, no sends in the pair's direct rooms" },
              { name: 'messages', description: 'History and sending' },
              { name: 'reports', description: 'Reports for moderation, and the service calls that list reports and dead webhook events' },
              { name: 'identity', description: 'Who the gateway says the caller is' },
              { name: 'operations', description: 'Health, readiness and metrics' },
            ],
            components: { securitySchemes },
            // Operations that name no callers of their own (health, readiness, metrics).
            security: security.open,
          },
        }),
      )
      // `/docs` and `/docs/` (one route to the router), each with file names relative to itself.
      .get('/docs', ({ path }) => new Response(path.endsWith('/') ? PAGE_IN_FOLDER : PAGE, { headers: { 'content-type': 'text/html; charset=utf-8', ...headers } }), { detail: { hide: true } })
      .get(
        '/docs/assets/:file',
        ({ params }) => {
          const asset = assets.get(params.file)
          if (!asset) throw notFound('not_found', 'No such file.')
          return new Response(asset.body(), { headers: { 'content-type': asset.type, 'cache-control': 'public, max-age=86400', ...headers } })
        },
        { detail: { hide: true } },
      )
      .get('/docs/asyncapi.json', () => asyncapi, { detail: { hide: true } })
  )
}
