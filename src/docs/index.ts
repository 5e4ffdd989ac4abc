import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import { z } from 'zod'
import swaggerFavicon from 'swagger-ui-dist/favicon-32x32.png' with { type: 'file' }
import swaggerBundle from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' }
import swaggerCss from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' }
import { asyncApiDocument } from './asyncapi.ts'
import { toJsonSchema } from './json-schema.ts'

/** Swagger UI's files, served by the server itself (and carried inside the binary): no CDN. */
const assets: Record<string, { path: string; type: string }> = {
  'swagger-ui-bundle.js': { path: swaggerBundle, type: 'text/javascript; charset=utf-8' },
  'swagger-ui.css': { path: swaggerCss, type: 'text/css; charset=utf-8' },
  'favicon-32x32.png': { path: swaggerFavicon, type: 'image/png' },
}

/** `/docs` (Swagger UI), `/docs/json` (OpenAPI 3.1), `/docs/asyncapi.json` (the WebSocket protocol). */
export const docsRoutes = (version: string) => {
  const asyncapi = asyncApiDocument(version)
  return new Elysia({ name: 'docs' })
    .use(
      openapi({
        path: '/docs',
        specPath: '/docs/json',
        provider: 'swagger-ui',
        // Paths are relative to /docs, so the page also works when a gateway mounts the server under a prefix.
        swagger: { cdn: 'docs/assets/swagger-ui-bundle.js', theme: 'docs/assets/swagger-ui.css', autoDarkMode: false },
        mapJsonSchema: { zod: (schema: z.ZodType) => toJsonSchema(schema, 'input') },
        exclude: { paths: [/^\/docs/, '/', '/chat_gateway_test.html'] },
        documentation: {
          info: {
            title: 'Chat server API',
            version,
            description: [
              'REST for rooms and message history. The live chat runs over WebSocket at `/ws/chat/{room_id}/chat/`: its protocol (frames, handshake, refusals, close codes) is the [AsyncAPI document](docs/asyncapi.json).',
              '',
              'Identity comes from the API gateway in front of this server: `X-User-Id`, `X-Nickname`, `X-Email`, `X-Profile-Url` (non-ASCII percent-encoded as UTF-8). Errors are RFC 9457 `application/problem+json` with a stable `code`.',
            ].join('\n'),
          },
          tags: [
            { name: 'rooms', description: 'Chat rooms, at most one per post' },
            { name: 'messages', description: 'History and sending' },
            { name: 'operations', description: 'Health, readiness and metrics' },
          ],
        },
      }),
    )
    .get('/docs/assets/:file', ({ params }) => {
      const asset = assets[params.file]
      if (!asset) return new Response('not found', { status: 404 })
      return new Response(Bun.file(asset.path), { headers: { 'content-type': asset.type, 'cache-control': 'public, max-age=86400' } })
    }, { detail: { hide: true } })
    .get('/docs/asyncapi.json', () => asyncapi, { detail: { hide: true } })
}
