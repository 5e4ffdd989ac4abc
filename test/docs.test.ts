import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { validate } from '@readme/openapi-parser'
import { createApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { createLogger } from '../src/logger.ts'
import { createMetrics } from '../src/metrics.ts'
import { inboxFrameSchemas } from '../src/modules/inbox/model.ts'
import { CloseCode, clientFrameSchema, serverFrameSchemas } from '../src/realtime/codec.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import { startTestServer, type TestServer } from './support/server.ts'

// biome-ignore lint/suspicious/noExplicitAny: the API documents are walked as untyped JSON; each expectation states the shape
type Json = Record<string, any>
let server: TestServer
let openapi: Json
let asyncapi: Json
beforeAll(async () => {
  server = await startTestServer()
  openapi = (await (await server.http('/docs/json')).json()) as Json
  asyncapi = (await (await server.http('/docs/asyncapi.json')).json()) as Json
})
afterAll(() => server.destroy())

/** Every route the app serves, as OpenAPI spells paths. */
function servedRoutes(): { method: string; path: string }[] {
  const config = loadConfig({ DATABASE_PATH: ':memory:', LOG_LEVEL: 'silent' })
  const store = SqliteStore.open(':memory:')
  const { app } = createApp({ config, store, logger: createLogger('silent'), metrics: createMetrics() })
  void store.close()
  return app.routes.map((r) => ({ method: r.method.toLowerCase(), path: r.path.replace(/:(\w+)/g, '{$1}') }))
}

/** Routes that are not REST API: the docs themselves, the test page, and the WebSocket (in AsyncAPI). */
// Besides the docs and the page: the files of local storage, which clients reach by the opaque signed URLs messages carry.
const notApi = (path: string) => path.startsWith('/docs') || path === '/' || path === '/chat_gateway_test.html' || path === '/chat/v1/files/*'

describe('GET /docs/json', () => {
  it('should be a valid OpenAPI 3.1 document', async () => {
    expect(openapi.openapi).toMatch(/^3\.1\./)
    const result = await validate(structuredClone(openapi) as Parameters<typeof validate>[0])
    expect('errors' in result ? result.errors : []).toEqual([])
    expect(result.valid).toBe(true)
  })

  it('should document every REST route the app serves', () => {
    const routes = servedRoutes()
    const rest = routes.filter((r) => r.method !== 'ws' && !notApi(r.path))
    expect(rest.length).toBeGreaterThanOrEqual(8)
    for (const { method, path } of rest) expect(openapi.paths[path]?.[method]).toBeDefined()
    const ws = routes.filter((r) => r.method === 'ws')
    expect(ws.map((r) => r.path).sort()).toEqual(
      Object.values(asyncapi.channels as Record<string, Json>)
        .map((c) => c.address)
        .sort(),
    )
  })

  it('should give every API operation a success response and its problem+json errors, with examples', () => {
    for (const [path, item] of Object.entries(openapi.paths as Json)) {
      if (path === '/healthz' || path === '/readyz' || path === '/metrics') continue
      for (const [method, op] of Object.entries(item as Json)) {
        const statuses = Object.keys(op.responses ?? {})
        expect(statuses.some((s) => s.startsWith('2'))).toBe(true)
        expect(statuses.some((s) => s.startsWith('4'))).toBe(true)
        for (const status of statuses) {
          const content = op.responses[status].content
          // 204 No Content carries no body to describe.
          if (status === '204') {
            expect({ at: `${method} ${path} 204`, content }).toEqual({ at: `${method} ${path} 204`, content: undefined })
            continue
          }
          const type = status.startsWith('2') ? 'application/json' : 'application/problem+json'
          expect({ at: `${method} ${path} ${status}`, has: Boolean(content?.[type]?.schema && content[type].example) }).toEqual({ at: `${method} ${path} ${status}`, has: true })
        }
      }
    }
  })

  it('should describe request bodies from the zod schemas and the identity headers', () => {
    const send = openapi.paths['/chat/v1/message/'].post
    const body = send.requestBody.content['application/json'].schema
    expect(body.required).toEqual(expect.arrayContaining(['message', 'room']))
    expect(body.properties.client_msg_id).toBeDefined()
    // The identity headers are security schemes (entered once under Authorize), not parameters of each operation.
    expect(send.parameters).toBeUndefined()
    expect(send.security).toContainEqual({ 'X-User-Id': [], 'X-Nickname': [], 'X-Email': [] })
    expect(openapi.paths['/chat/v1/create-room/'].post.requestBody.content['application/json'].schema.properties.name.maxLength).toBe(100)
    expect(openapi.info.description).toContain('asyncapi.json')
  })
})

describe('GET /docs', () => {
  it('should load Swagger UI from the server itself, never a CDN, at /docs and at /docs/', async () => {
    for (const path of ['/docs', '/docs/']) {
      const page = await server.http(path)
      expect({ path, status: page.status }).toEqual({ path, status: 200 })
      const urls = [...(await page.text()).matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!)
      expect(urls.length).toBeGreaterThanOrEqual(2)
      for (const url of urls) expect(url).not.toMatch(/^(https?:)?\/\//)
      // Each file as a browser resolves it against the page's own address.
      for (const url of urls) expect({ url, status: (await fetch(new URL(url, server.base + path))).status }).toEqual({ url, status: 200 })
    }
  })
})

describe('GET /docs/asyncapi.json', () => {
  const messages = () => Object.values(asyncapi.channels.room.messages as Record<string, Json>)

  it('should be an AsyncAPI 3 document for the room and user stream channels', () => {
    expect(asyncapi.asyncapi).toBe('3.0.0')
    expect(asyncapi.channels.room.address).toBe('/ws/chat/{room_id}/chat/')
    expect(asyncapi.channels.inbox.address).toBe('/ws/chat/inbox/')
    for (const op of Object.values(asyncapi.operations as Record<string, Json>)) {
      const channel = op.channel.$ref.split('/').at(-1)
      expect(['room', 'inbox']).toContain(channel)
      for (const ref of op.messages) {
        expect(ref.$ref.startsWith(`#/channels/${channel}/messages/`)).toBe(true)
        expect(asyncapi.channels[channel].messages[ref.$ref.split('/').at(-1)]).toBeDefined()
      }
    }
  })

  it('should list every user stream event, with examples the schemas accept, and say how to recover', () => {
    const inbox = Object.values(asyncapi.channels.inbox.messages as Record<string, Json>)
    for (const schema of Object.values(inboxFrameSchemas)) {
      const documented = inbox.find((m) => m.name === schema.shape.type.value)
      expect(documented).toBeDefined()
      expect(schema.safeParse(documented!.examples[0].payload).success).toBe(true)
    }
    expect(asyncapi.info.description).toContain('**Recovery**')
  })

  it('should list every client and server event, with examples the schemas accept', () => {
    const names = messages().map((m) => m.name)
    for (const option of clientFrameSchema.options) expect(names).toContain(option.shape.type.value)
    for (const schema of Object.values(serverFrameSchemas)) expect(names).toContain(schema.shape.type.value)
    const all = [...clientFrameSchema.options, ...Object.values(serverFrameSchemas)]
    for (const message of messages()) {
      for (const { payload } of message.examples) expect({ name: message.name, accepted: all.some((schema) => schema.safeParse(payload).success) }).toEqual({ name: message.name, accepted: true })
    }
  })

  it('should show photos and files: attachments sent and carried, the kind, and the refusals', () => {
    const room = asyncapi.channels.room.messages
    expect(room.sendMessage.payload.properties.attachments.items.pattern).toBe('^[0-9a-f]{32}$')
    expect(room.sendMessage.examples.some((e: Json) => e.payload.message === '' && e.payload.attachments?.length > 0)).toBe(true)
    const frame = room.chatMessage.payload.properties
    expect(frame.kind.enum).toEqual(['text', 'system', 'image', 'file'])
    expect(Object.keys(frame.attachments.items.properties)).toEqual(['id', 'kind', 'content_type', 'size', 'name', 'width', 'height', 'url', 'thumbnail_url'])
    const shown = room.chatMessage.examples.find((e: Json) => e.payload.attachments)?.payload
    expect(shown?.kind).toBe('file')
    expect(shown?.attachments.map((a: Json) => a.name)).toEqual(['중고자전거.jpg', '견적서.pdf'])
    const codes: string[] = room.error.payload.properties.code.enum
    for (const code of ['upload_not_found', 'upload_expired', 'upload_already_attached']) {
      expect(codes).toContain(code)
      expect(asyncapi.info.description).toContain(`\`${code}\``)
    }
  })

  it('should document the handshake, its refusals and the close codes', () => {
    const query = asyncapi.channels.room.bindings.ws.query
    expect(Object.keys(query.properties)).toEqual(['user_id', 'nickname', 'email', 'profile_url', 'since', 'since_version', 'epoch'])
    expect(query.required).toEqual(['user_id', 'nickname', 'email'])
    const description: string = asyncapi.info.description
    for (const status of ['400', '401', '403', '404']) expect(description).toContain(`**${status}**`)
    for (const code of Object.values(CloseCode)) expect(description).toContain(`**${code}**`)
  })
})
