import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { Database } from 'bun:sqlite'
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pkg from '../package.json' with { type: 'json' }
import { configSchema } from '../src/config.ts'
import { sqliteJournal } from '../src/db/migrations.ts'
import { spawnServer } from './support/process.ts'
import type { AttachmentDto } from '../src/realtime/codec.ts'
import { png } from '../src/uploads/image-fixtures.ts'
import { alice, bob, identityHeaders, storedIds, UNLIMITED } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// The binary is built once into a folder of its own and run from empty folders with no source tree.
let buildDir: string
let binary: string
beforeAll(async () => {
  buildDir = mkdtempSync(join(tmpdir(), 'chat-bin-'))
  binary = join(buildDir, 'chat-server')
  const build = Bun.spawnSync([process.execPath, 'build.ts', '--outfile', binary], { cwd: join(import.meta.dir, '..') })
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`)
  // One file: the thumbnail worker and its WebAssembly codecs are inside it, nothing beside it.
  const built = readdirSync(buildDir)
  if (built.join() !== 'chat-server') throw new Error(`the build left ${built.join(', ')}, not the one executable`)
}, 120_000)
afterAll(() => rmSync(buildDir, { recursive: true, force: true }))

const emptyDir = () => mkdtempSync(join(tmpdir(), 'chat-run-'))
const run = (args: string[], env: Record<string, string> = {}, cwd = emptyDir()) => {
  const result = Bun.spawnSync([binary, ...args], { cwd, env: { PATH: process.env.PATH ?? '', ...env } })
  return { code: result.exitCode, stdout: result.stdout.toString(), stderr: result.stderr.toString() }
}

describe('the command line', () => {
  it('should print its version', () => {
    const { code, stdout } = run(['--version'])
    expect(code).toBe(0)
    expect(stdout).toContain(pkg.version)
  })

  it('should list every setting in --help with its flag, env name and default', () => {
    const { code, stdout } = run(['--help'])
    expect(code).toBe(0)
    for (const key of Object.keys(configSchema.shape)) {
      expect(stdout).toMatch(new RegExp(`env ${key}, (default|unset by default)`))
      expect(stdout).toContain(`--${key.toLowerCase().replaceAll('_', '-')} <value>`)
    }
    expect(stdout).toContain('migrate')
  })

  it('should exit 2 naming a bad setting, from a flag or the environment', () => {
    const flag = run(['--port', 'eighty'])
    expect(flag.code).toBe(2)
    expect(flag.stderr).toContain('PORT (--port)')
    const env = run([], { MAX_MESSAGE_LENGTH: '0' })
    expect(env.code).toBe(2)
    expect(env.stderr).toContain('MAX_MESSAGE_LENGTH')
    const unknown = run(['--colour', 'red'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('--colour')
  })

  it('should let flags win over the environment', async () => {
    const dir = emptyDir()
    const server = await spawnServer([binary, '--port', '0', '--log-level=info'], { cwd: dir, env: { PORT: '1', LOG_LEVEL: 'silent' } })
    expect(server.port).toBeGreaterThan(1)
    server.proc.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  })

  it('should apply migrations with `migrate` and exit', () => {
    const dir = emptyDir()
    const { code, stdout } = run(['migrate', '--database-path', 'db/chat.db'], {}, dir)
    expect(code).toBe(0)
    expect(JSON.parse(stdout.trim().split('\n').at(-1)!)).toMatchObject({ level: 'info', msg: 'migrations applied' })
    const db = new Database(join(dir, 'db/chat.db'), { readonly: true })
    expect(db.query('SELECT count(*) AS n FROM __drizzle_migrations').get()).toEqual({ n: sqliteJournal.entries.length })
    expect(db.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('rooms', 'messages') ORDER BY name").all()).toEqual([{ name: 'messages' }, { name: 'rooms' }])
    db.close()
    expect(run(['migrate', '--database-path', 'db/chat.db'], {}, dir).code).toBe(0)
  })
})

describe('the binary in production', () => {
  it('should serve from an empty folder, ignore a stray .env, and stop gracefully on SIGTERM losing nothing acknowledged', async () => {
    const dir = emptyDir()
    writeFileSync(join(dir, '.env'), 'PORT=1\nDATABASE_PATH=/nonexistent/elsewhere.db\n')
    const env = { PORT: '0', HOST: '127.0.0.1', ...UNLIMITED }
    let server = await spawnServer([binary], { cwd: dir, env })
    expect(existsSync(join(dir, 'data', 'chat.db'))).toBe(true)

    // Every log line is one JSON object with level, time and msg.
    for (const line of server.lines) expect(JSON.parse(line)).toMatchObject({ level: expect.any(String), time: expect.any(String), msg: expect.any(String) })
    expect((await fetch(`${server.base}/healthz`)).status).toBe(200)

    // The page, its bundled script and style, and Swagger UI all come out of the binary.
    const page = await (await fetch(`${server.base}/chat_gateway_test.html`)).text()
    const assets = [...page.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets.length).toBeGreaterThanOrEqual(2)
    for (const path of [...assets, '/docs', '/docs/json', '/docs/asyncapi.json', '/docs/assets/swagger-ui-bundle.js', '/docs/assets/swagger-ui.css']) {
      expect({ path, status: (await fetch(server.base + path)).status }).toEqual({ path, status: 200 })
    }

    // A photo gets its thumbnail from the worker and WebAssembly codecs inside the binary.
    const photo = await fetch(`${server.base}/chat/v1/uploads/?name=${encodeURIComponent('사진.png')}`, {
      method: 'POST',
      headers: { ...identityHeaders(alice), 'content-type': 'image/png' },
      body: (await png(800, 600)) as Uint8Array<ArrayBuffer>,
    })
    expect(photo.status).toBe(201)
    const uploaded = (await photo.json()) as AttachmentDto
    expect(uploaded).toMatchObject({ kind: 'image', width: 800, height: 600 })
    const thumbnail = await fetch(server.base + uploaded.thumbnail_url)
    expect(thumbnail.status).toBe(200)
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg')
    expect(existsSync(join(dir, 'data', 'uploads', 't', uploaded.id.slice(0, 2), `${uploaded.id}.bin`))).toBe(true)

    const created = await fetch(`${server.base}/chat/v1/create-room/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"binary","post_id":1}' })
    expect(created.status).toBe(201)
    const roomId = ((await created.json()) as { id: number }).id

    const listener = await TestSocket.connect(server, roomId, bob)
    const sender = await TestSocket.connect(server, roomId, alice)
    sender.sendMessage('secret text that must not be logged')
    await listener.next('chat.message')

    // Keep sending while SIGTERM arrives.
    let sending = true
    let sent = 0
    const pump = (async () => {
      while (sending && sender.ws.readyState === WebSocket.OPEN) {
        sender.sendMessage(`burst ${sent++}`)
        await Bun.sleep(1)
      }
    })()
    await sender.collect('chat.message', 50)
    server.proc.kill('SIGTERM')
    const [senderClose, listenerClose] = await Promise.all([sender.closed, listener.closed])
    sending = false
    await pump
    expect(senderClose.code).toBe(1001)
    expect(listenerClose.code).toBe(1001)
    expect(await server.exited).toBe(0)
    const acknowledged = sender.all('chat.message').map((f) => f.id as number)
    expect(acknowledged.length).toBeGreaterThanOrEqual(50)
    const logs = server.lines.join('\n')
    expect(logs).not.toContain('secret text')
    expect(logs).toContain('"msg":"stopped"')
    // The SQLite checkpointer's thread, started by the first message, is inside the binary too.
    expect(logs).not.toContain('checkpointer thread failed')

    server = await spawnServer([binary], { cwd: dir, env })
    const stored = await storedIds(server, roomId)
    for (const id of acknowledged) expect(stored).toContain(id)
    server.proc.kill('SIGTERM')
    expect(await server.exited).toBe(0)
  }, 60_000)
})
