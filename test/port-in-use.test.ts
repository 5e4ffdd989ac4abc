import { describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startInstance } from './support/cluster.ts'
import { attemptStart } from './support/process.ts'
import { rawRequest, requestText } from './support/raw-http.ts'
import { createRoom, endpoint } from './support/server.ts'

describe('a port already in use', () => {
  it('should stop a second server on the same port with status 2 and a log line naming the address, while the first serves every request', async () => {
    const dirs = [mkdtempSync(join(tmpdir(), 'chat-port-a-')), mkdtempSync(join(tmpdir(), 'chat-port-b-'))]
    const first = await startInstance({ DATABASE_PATH: join(dirs[0]!, 'chat.db') })
    try {
      const roomId = await createRoom(endpoint(first.base), 'first-only')
      const second = await attemptStart({ PORT: String(first.port), DATABASE_PATH: join(dirs[1]!, 'chat.db') })
      try {
        // Each request on a fresh connection, while the second process (if it listened) is alive:
        // any connection the kernel gave to it would miss the room, which only the first stores.
        const answers = []
        for (let i = 0; i < 50; i++) {
          answers.push(await rawRequest(first.port, requestText('GET', `/chat/v1/room/${roomId}/`, { Host: `127.0.0.1:${first.port}` })))
        }
        expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200))
        expect(answers.filter((a) => JSON.parse(a.body.slice(a.body.indexOf('{'))).name === 'first-only')).toHaveLength(50)
      } finally {
        await second.stop()
      }
      expect(second.status).toBe(2)
      const errors = second.output
        .trim()
        .split('\n')
        .filter((line) => !line.includes('"level":"warn"'))
      expect(errors).toHaveLength(1)
      expect(JSON.parse(errors[0]!)).toEqual({
        level: 'error',
        time: expect.any(String),
        msg: expect.stringContaining(`127.0.0.1:${first.port}: the port is already in use`),
        address: `127.0.0.1:${first.port}`,
      })
      const health = await fetch(`${first.base}/healthz`)
      expect(health.status).toBe(200)
    } finally {
      first.proc.kill('SIGKILL')
      await first.exited
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})

describe('REUSE_PORT', () => {
  it('should refuse to start with status 2, naming the setting, without REDIS_URL and DATABASE_URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-port-'))
    try {
      const attempt = await attemptStart({ PORT: '0', REUSE_PORT: 'true', DATABASE_PATH: join(dir, 'chat.db') })
      await attempt.stop()
      expect(attempt.status).toBe(2)
      expect(attempt.output).toContain('REUSE_PORT needs REDIS_URL and DATABASE_URL')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
