import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { join } from 'node:path'
import { devToken as signDevToken } from '../scripts/dev-token.ts'
import { startGateway, type Gateway } from './support/nginx.ts'
import { startTestServer, type TestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// scripts/dev-token.ts, run as a user runs it, against real nginx with the reference gateway in
// front of a real chat server: the tokens it prints are the ones jwt.js accepts.

const JWT_SECRET = 'dev-token-secret-for-tests-only'
const GATEWAY_SECRET = 'gateway-shared-secret-0123456789'
const root = join(import.meta.dir, '..')

let chat: TestServer
let gateway: Gateway
beforeAll(async () => {
  chat = await startTestServer({ GATEWAY_SECRET, IDENTITY_SOURCES: 'headers' })
  gateway = await startGateway({ chatPort: Number(new URL(chat.base).port), jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET })
}, 30_000)
afterAll(async () => {
  await gateway?.stop()
  await chat?.destroy()
})

interface Run {
  status: number
  stdout: string
  stderr: string
}

/** Runs `command` in the repository with `env` added to a bare environment (no JWT_SECRET unless given). */
async function run(command: string[], env: Record<string, string> = {}): Promise<Run> {
  const proc = Bun.spawn(command, { cwd: root, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, status] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  return { status, stdout, stderr }
}

/** The script itself, with this test's Bun. */
const devToken = (args: string[], env: Record<string, string> = {}) => run([process.execPath, 'scripts/dev-token.ts', ...args], env)

/** The one line a successful run prints: the token. */
async function tokenFrom(result: Promise<Run>): Promise<string> {
  const { status, stdout, stderr } = await result
  expect({ status, stderr }).toEqual({ status: 0, stderr: '' })
  expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/)
  return stdout.trim()
}

const me = (token: string, via = gateway) => fetch(`${via.base}/chat/v1/me/`, { headers: { authorization: `Bearer ${token}` } })

describe('the claims it signs', () => {
  it('should name the user as jwt.js reads a token: HS256, sub, nickname, email, picture, iat and exp', () => {
    const token = signDevToken({ user: '7', nickname: '홍길동', email: 'hong@example.com', picture: '/media/p.jpg', ttl: 3600, secret: JWT_SECRET }, 1_800_000_000)
    const [header, claims] = token
      .split('.')
      .slice(0, 2)
      .map((part) => JSON.parse(Buffer.from(part, 'base64url').toString()))
    expect(header).toEqual({ alg: 'HS256', typ: 'JWT' })
    expect(claims).toEqual({ sub: '7', nickname: '홍길동', email: 'hong@example.com', picture: '/media/p.jpg', iat: 1_800_000_000, exp: 1_800_003_600 })
  })
})

describe('npm run dev-token', () => {
  it('should print a token the gateway accepts, for the user the chat server then sees', async () => {
    // As the README says to run it: npm's -s keeps its banner off stdout.
    const token = await tokenFrom(run(['npm', 'run', '-s', 'dev-token', '--', '--user', '7', '--nickname', '홍길동', '--email', 'hong@example.com', '--picture', '/media/p.jpg'], { JWT_SECRET }))
    const res = await me(token)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ user_id: '7', nickname: '홍길동', email: 'hong@example.com', profile_picture_url: '/media/p.jpg' })

    // The same token opens a socket, as a browser offers it.
    const created = await fetch(`${gateway.base}/chat/v1/create-room/`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"name":"dev token"}' })
    expect(created.status).toBe(201)
    const roomId = ((await created.json()) as { id: number }).id
    const ws = await TestSocket.open(`${gateway.wsBase}/ws/chat/${roomId}/chat/`, { protocols: ['chat', `bearer.${token}`] })
    ws.sendMessage('안녕하세요')
    expect(await ws.next('chat.message')).toMatchObject({ message: '안녕하세요', user_id: '7', nickname: '홍길동', sender: 'hong@example.com', profile_picture_url: '/media/p.jpg' })
    await ws.close()
  })

  it('should take the secret from --secret, and say <user>@localhost without --email', async () => {
    const token = await tokenFrom(devToken(['--user', '7', '--nickname', '홍길동', '--secret', JWT_SECRET]))
    const res = await me(token)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ user_id: '7', nickname: '홍길동', email: '7@localhost', profile_picture_url: null })
  })

  it('should print an expired token with a negative --ttl, which the gateway refuses', async () => {
    const token = await tokenFrom(devToken(['--user', '7', '--nickname', '홍길동', '--ttl=-60'], { JWT_SECRET }))
    const res = await me(token)
    expect(res.status).toBe(401)
    expect(await res.json()).toMatchObject({ code: 'invalid_token', detail: 'token expired' })
  })

  it('should expire after --ttl seconds', async () => {
    const strict = await startGateway({ chatPort: Number(new URL(chat.base).port), jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET, env: { JWT_LEEWAY_SECONDS: '0' } })
    try {
      const token = await tokenFrom(devToken(['--user', '7', '--nickname', '홍길동', '--ttl', '2'], { JWT_SECRET }))
      expect((await me(token, strict)).status).toBe(200)
      await Bun.sleep(2100)
      expect(await (await me(token, strict)).json()).toMatchObject({ status: 401, detail: 'token expired' })
    } finally {
      await strict.stop()
    }
  })

  it('should sign with the issuer and audience the gateway checks, from JWT_ISSUER and JWT_AUDIENCE', async () => {
    const env = { JWT_ISSUER: 'https://id.example.com', JWT_AUDIENCE: 'chat' }
    const strict = await startGateway({ chatPort: Number(new URL(chat.base).port), jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET, env })
    try {
      const args = ['--user', '7', '--nickname', '홍길동']
      expect((await me(await tokenFrom(devToken(args, { JWT_SECRET, ...env })), strict)).status).toBe(200)
      expect((await me(await tokenFrom(devToken([...args, '--issuer', env.JWT_ISSUER, '--audience', 'chat'], { JWT_SECRET })), strict)).status).toBe(200)
      expect(await (await me(await tokenFrom(devToken(args, { JWT_SECRET })), strict)).json()).toMatchObject({ status: 401, detail: 'token from another issuer' })
    } finally {
      await strict.stop()
    }
  })

  it('should be refused by a gateway with another secret', async () => {
    const token = await tokenFrom(devToken(['--user', '7'], { JWT_SECRET: 'not-the-gateway-secret' }))
    expect(await (await me(token)).json()).toMatchObject({ status: 401, detail: 'bad token signature' })
  })

  it('should print no token, and exit 2 saying why, without a secret, a user or a whole --ttl', async () => {
    const cases: [string[], Record<string, string>, string][] = [
      [['--user', '7'], {}, 'no secret'],
      [['--nickname', '홍길동'], { JWT_SECRET }, '--user is required'],
      [['--user', ''], { JWT_SECRET }, '--user must be'],
      [['--user', 'a\tb', '--email', 'a@b.c'], { JWT_SECRET }, '--user must be'],
      [['--user', 'kim lee'], { JWT_SECRET }, '--email is required'],
      [['--user', '7', '--ttl', '1h'], { JWT_SECRET }, '--ttl must be'],
      [['--user', '7', '--ttl', '-60'], { JWT_SECRET }, "use '--ttl=-XYZ'"],
      [['--user', '7', '--nickname', ' '], { JWT_SECRET }, '--nickname must not be empty'],
      [['--user', '7', '--tll', '60'], { JWT_SECRET }, "Unknown option '--tll'"],
    ]
    for (const [args, env, says] of cases) {
      const { status, stdout, stderr } = await devToken(args, env)
      expect({ args, status, stdout }).toEqual({ args, status: 2, stdout: '' })
      expect(stderr).toContain(says)
      expect(stderr).toContain('usage: npm run -s dev-token')
    }
  })
})
