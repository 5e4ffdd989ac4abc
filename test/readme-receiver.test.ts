import { afterAll, expect, it } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { signatureHeader } from '../src/webhooks/signing.ts'
import { freePort } from './support/nginx.ts'
import { identityHeaders, startTestServer, type TestServer } from './support/server.ts'
import { eventually } from './support/webhooks.ts'

// The README's webhook receiver, run as written, against the real server.

const SECRET = 'readme-receiver-secret-0123'
const dir = mkdtempSync(join(tmpdir(), 'chat-readme-'))
let receiver: ReturnType<typeof Bun.spawn> | undefined
let server: TestServer | undefined
afterAll(async () => {
  receiver?.kill('SIGKILL')
  await server?.destroy()
  rmSync(dir, { recursive: true, force: true })
})

it("should accept the server's webhooks and refuse a forged one, as the README's receiver is written", async () => {
  const readme = readFileSync(join(import.meta.dir, '..', 'README.md'), 'utf8')
  const code = /A receiver in TypeScript[^\n]*\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1]
  expect(code).toBeDefined()
  const port = freePort()
  writeFileSync(join(dir, 'receiver.ts'), code!.replace('port: 3000', `port: ${port}`))
  receiver = Bun.spawn([process.execPath, join(dir, 'receiver.ts')], { env: { ...process.env, WEBHOOK_SECRET: SECRET }, stdout: 'ignore', stderr: 'inherit' })
  const url = `http://127.0.0.1:${port}/`
  await eventually(async () => expect((await fetch(url, { method: 'POST', body: '{}' })).status).toBe(401))
  server = await startTestServer({ WEBHOOK_URL: url, WEBHOOK_SECRET: SECRET })
  const room = ((await (await server.post('/chat/v1/create-room/', { name: 'readme' })).json()) as { id: number }).id
  await server.post('/chat/v1/message/', { room, message: 'hello receiver' }, identityHeaders({ user_id: 'r1', nickname: 'R', email: 'r@example.com' }))
  await eventually(async () => expect(await (await server!.http('/metrics')).text()).toMatch(/chat_webhook_deliveries_total\{outcome="delivered"\} 2/))
  expect(await (await server.http('/metrics')).text()).not.toMatch(/outcome="(dead|retry)"/)
  // Signed with another secret, or a body changed after signing: refused.
  const body = JSON.stringify({ id: 'x', type: 'message.created', created_at: new Date().toISOString(), data: {} })
  const t = Math.floor(Date.now() / 1000)
  expect((await fetch(url, { method: 'POST', body, headers: { 'x-chat-signature': signatureHeader('another-secret-entirely', body, t) } })).status).toBe(401)
  expect((await fetch(url, { method: 'POST', body: `${body} `, headers: { 'x-chat-signature': signatureHeader(SECRET, body, t) } })).status).toBe(401)
  expect((await fetch(url, { method: 'POST', body, headers: { 'x-chat-signature': signatureHeader(SECRET, body, t) } })).status).toBe(204)
}, 30_000)
