import { afterEach, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDatabase } from './support/cluster.ts'
import { alice, bob, createRoom, handshake, startTestServer, type TestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// The storage epoch names the database message ids belong to. A client keeps it beside since=;
// when the database has been replaced, ids repeat, and the client hears so instead of a replay.

const cleanup: (() => Promise<void>)[] = []
afterEach(async () => {
  while (cleanup.length > 0) await cleanup.pop()!()
})

const backends = [
  { name: 'SQLite', env: async () => ({}) },
  {
    name: 'Postgres',
    env: async () => {
      const db = await createDatabase()
      cleanup.push(() => db.drop())
      return { DATABASE_URL: db.url }
    },
  },
]

const detail = async (server: TestServer, roomId: number) => (await (await server.http(`/chat/v1/room/${roomId}/`)).json()) as { epoch: string }

for (const backend of backends) {
  describe(`the storage epoch on ${backend.name}`, () => {
    it('should be the same in room detail and chat.recovered, and replay as usual when it matches', async () => {
      const server = await startTestServer(await backend.env())
      cleanup.push(() => server.destroy())
      const roomId = await createRoom(server, 'epoch')
      const { epoch } = await detail(server, roomId)
      expect(epoch).toMatch(/^[A-Za-z0-9-]{8,64}$/)
      const a = await TestSocket.connect(server, roomId, alice)
      for (let i = 0; i < 3; i++) a.sendMessage(`m${i}`)
      const sent = await a.collect('chat.message', 3)
      const back = await TestSocket.connect(server, roomId, bob, { since: String(sent[0]!.id), epoch })
      expect(await back.next('chat.recovered')).toEqual({ type: 'chat.recovered', count: 2, truncated: false, epoch })
      await Promise.all([a.close(), back.close()])
    })

    it('should refuse an epoch that is not one with 400', async () => {
      const server = await startTestServer(await backend.env())
      cleanup.push(() => server.destroy())
      const roomId = await createRoom(server, 'bad epoch')
      const res = await handshake(server, `/ws/chat/${roomId}/chat/?user_id=a&nickname=A&email=a@example.com&since=1&epoch=${encodeURIComponent('x y/z')}`)
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ code: 'invalid_epoch' })
    })

    it('should say reset, and replay nothing, when the database was replaced', async () => {
      const env = await backend.env()
      const first = await startTestServer(env)
      const roomId = await createRoom(first, 'before')
      const { epoch: old } = await detail(first, roomId)
      const a = await TestSocket.connect(first, roomId, alice)
      for (let i = 0; i < 5; i++) a.sendMessage(`old ${i}`)
      const seen = await a.collect('chat.message', 5)
      await a.close()
      await first.destroy()

      // A new, empty database behind the same server: room 1 and message ids start over.
      const second = await startTestServer(backend.name === 'SQLite' ? {} : await backend.env())
      cleanup.push(() => second.destroy())
      const again = await createRoom(second, 'after')
      const b = await TestSocket.connect(second, again, bob)
      for (let i = 0; i < 7; i++) b.sendMessage(`new ${i}`)
      await b.collect('chat.message', 7)
      const { epoch: current } = await detail(second, again)
      expect(current).not.toBe(old)

      const back = await TestSocket.connect(second, again, alice, { since: String(seen[1]!.id), epoch: old })
      expect(await back.next()).toEqual({ type: 'chat.recovered', count: 0, truncated: false, epoch: current, reset: true })
      b.sendMessage('live after the reset')
      expect(await back.next('chat.message')).toMatchObject({ message: 'live after the reset' })
      expect(back.all('chat.message')).toHaveLength(1)
      await Promise.all([b.close(), back.close()])
    })
  })
}

describe('chat-server renew-epoch', () => {
  it('should draw a new epoch for a database put back from a backup', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'chat-epoch-'))
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }))
    let server = await startTestServer({}, dir)
    const roomId = await createRoom(server, 'restored')
    const { epoch: before } = await detail(server, roomId)
    await server.stop()
    const run = Bun.spawnSync([process.execPath, join(import.meta.dir, '..', 'src', 'index.ts'), 'renew-epoch', '--database-path', join(dir, 'chat.db')], { stdout: 'pipe', stderr: 'pipe' })
    expect(run.exitCode).toBe(0)
    const logged = JSON.parse(run.stdout.toString().trim().split('\n').at(-1)!) as { msg: string; epoch: string }
    expect(logged.msg).toBe('storage epoch renewed')
    server = await startTestServer({}, dir)
    cleanup.push(() => server.destroy())
    const { epoch: after } = await detail(server, roomId)
    expect(after).toBe(logged.epoch)
    expect(after).not.toBe(before)
  })
})
