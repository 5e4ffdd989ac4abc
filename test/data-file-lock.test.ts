import { describe, expect, it } from 'bun:test'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startInstance } from './support/cluster.ts'
import { attemptStart } from './support/process.ts'
import { createRoom, endpoint } from './support/server.ts'

// One SQLite file serves one process: a second server on the same file (any port) would split
// live delivery and presence between two processes without a word, so it refuses to start.

describe('a SQLite file already served', () => {
  it('should stop a second server on the same file with status 2, naming the file and the process, and take over from one that died', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-lock-'))
    const path = join(dir, 'chat.db')
    const first = await startInstance({ DATABASE_PATH: path })
    try {
      const roomId = await createRoom(endpoint(first.base), '하나의 파일')
      const second = await attemptStart({ PORT: '0', DATABASE_PATH: path })
      await second.stop()
      expect(second.status).toBe(2)
      const lines = second.output
        .trim()
        .split('\n')
        .filter((l) => l.includes('"level":"error"'))
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain(path)
      expect(lines[0]).toContain(`pid ${first.proc.pid}`)
      expect(lines[0]).not.toContain('    at ')
      // The first goes on as before.
      expect((await fetch(`${first.base}/chat/v1/room/${roomId}/`)).status).toBe(200)
      // Killed, it leaves its lock behind; the next server takes it over.
      first.proc.kill('SIGKILL')
      await first.exited
      expect(existsSync(`${path}.lock`)).toBe(true)
      const next = await startInstance({ DATABASE_PATH: path })
      try {
        expect((await fetch(`${next.base}/chat/v1/room/${roomId}/`)).status).toBe(200)
      } finally {
        next.proc.kill('SIGTERM')
        await next.exited
      }
      // A graceful stop lets go of the file.
      expect(existsSync(`${path}.lock`)).toBe(false)
    } finally {
      first.proc.kill('SIGKILL')
      await first.exited
      rmSync(dir, { recursive: true, force: true })
    }
  }, 30_000)
})
