import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { startPostgres, type TestPostgres } from './support/cluster.ts'
import { alice, bob, createRoom, identityHeaders, startTestServer, type TestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// A Postgres server of this test's own, stopped and started again while the chat server runs.
let pg: TestPostgres
let server: TestServer
beforeAll(async () => {
  pg = await startPostgres()
  server = await startTestServer({ DATABASE_URL: pg.url })
}, 60_000)
afterAll(async () => {
  await server?.destroy()
  await pg?.destroy()
})

describe('when Postgres goes away', () => {
  it('should say so, refuse sends with a clear error, reconnect by itself, and lose nothing stored', async () => {
    const roomId = await createRoom(server, 'outage')
    const a = await TestSocket.connect(server, roomId, alice)
    const b = await TestSocket.connect(server, roomId, bob)
    for (let i = 0; i < 5; i++) a.sendMessage(`before ${i}`)
    await b.collect('chat.message', 5)
    const lastSeen = b.all('chat.message').at(-1)!.id as number

    await pg.stop()
    const ready = await server.http('/readyz')
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as { code: string }).code).toBe('not_ready')
    a.sendMessage('while the database is down')
    expect(await a.next('chat.error')).toMatchObject({ code: 'store_failed' })
    const rest = await server.post('/chat/v1/message/', { message: 'rest while down', room: roomId }, identityHeaders(alice))
    expect(rest.status).toBe(503)
    expect(((await rest.json()) as { code: string }).code).toBe('storage_unavailable')
    await b.close()

    await pg.start()
    let status = 0
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await server.http('/readyz')).status
      if (status !== 200) await Bun.sleep(100)
    }
    expect(status).toBe(200)
    // The pool may still hold a connection from before; a send on it fails clearly and the next succeeds.
    let stored = false
    for (let i = 0; i < 15 && !stored; i++) {
      a.sendMessage(`after ${i}`)
      const answer = await a.next((f) => f.type === 'chat.message' || (f.type === 'chat.error' && f.code === 'store_failed'))
      stored = answer.type === 'chat.message'
    }
    expect(stored).toBe(true)

    const back = await TestSocket.connect(server, roomId, bob, { since: String(lastSeen) })
    await back.next('chat.recovered')
    const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/?after=0`)).json()) as { id: number; message: string }[]
    expect(history.slice(0, 5).map((m) => m.message)).toEqual(Array.from({ length: 5 }, (_, i) => `before ${i}`))
    expect(history.some((m) => m.message.includes('down'))).toBe(false)
    expect(back.all('chat.message').map((f) => f.id)).toEqual(history.map((m) => m.id).filter((id) => id > lastSeen))
    await Promise.all([a.close(), back.close()])
  }, 60_000)
})

describe('reads while Postgres is down', () => {
  it('should answer 503 storage_unavailable, not 500, and answer again once it is back', async () => {
    const roomId = await createRoom(server, 'reads')
    await server.post('/chat/v1/message/', { message: 'kept', room: roomId }, identityHeaders(alice))
    const reads = [`/chat/v1/room/${roomId}/`, `/chat/v1/room/${roomId}/messages/`, '/chat/v1/rooms/']
    for (const path of reads) expect((await server.http(path)).status).toBe(200)

    await pg.stop()
    for (const path of reads) {
      const res = await server.http(path)
      expect({ path, status: res.status }).toEqual({ path, status: 503 })
      expect(((await res.json()) as { code: string }).code).toBe('storage_unavailable')
    }

    await pg.start()
    for (const path of reads) {
      let status = 0
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await server.http(path)).status
        if (status !== 200) await Bun.sleep(100)
      }
      expect({ path, status }).toEqual({ path, status: 200 })
    }
    const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/`)).json()) as { message: string }[]
    expect(history.map((m) => m.message)).toEqual(['kept'])
  }, 60_000)
})
