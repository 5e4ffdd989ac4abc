import { describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startInstance } from './support/cluster.ts'
import { alice, bob, carol, createRoom, endpoint, storedIds, UNLIMITED } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

describe('a crash', () => {
  it('should lose no message any client received when the server is killed -9 mid-burst', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-crash-'))
    const env = { DATABASE_PATH: join(dir, 'chat.db'), ...UNLIMITED }
    try {
      let instance = await startInstance(env)
      const roomId = await createRoom(endpoint(instance.base), 'crash')
      const clients = await Promise.all([alice, bob, carol].map((u) => TestSocket.connect(endpoint(instance.base), roomId, u)))
      let sending = true
      const pumps = clients.map(async (c, n) => {
        for (let i = 0; sending && c.ws.readyState === WebSocket.OPEN; i++) {
          c.sendMessage(`${n}:${i}`)
          if (i % 20 === 19) await Bun.sleep(1)
        }
      })
      await clients[0]!.collect('chat.message', 2000, 20_000)
      instance.proc.kill('SIGKILL')
      await instance.exited
      sending = false
      await Promise.all(pumps)
      await Promise.all(clients.map((c) => c.closed))

      // Every message any client saw was committed before it was sent, so it is on disk.
      const received = new Set(clients.flatMap((c) => c.all('chat.message').map((f) => f.id as number)))
      expect(received.size).toBeGreaterThanOrEqual(2000)
      instance = await startInstance(env)
      const stored = new Set(await storedIds(instance, roomId))
      const missing = [...received].filter((id) => !stored.has(id))
      expect(missing).toEqual([])
      instance.proc.kill('SIGKILL')
      await instance.exited
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
