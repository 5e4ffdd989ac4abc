import { afterEach, beforeEach, describe, expect, it } from 'bun:test'
import { rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { alice, bob, createRoom, handshake, identityHeaders, startTestServer, type TestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

let server: TestServer
beforeEach(async () => {
  server = await startTestServer()
})
afterEach(() => server.destroy())

/** Reads one sample from the Prometheus text, 0 when absent. */
async function sample(name: string): Promise<number> {
  const text = await (await server.http('/metrics')).text()
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line ? Number(line.slice(name.length + 1)) : 0
}

describe('/healthz and /readyz', () => {
  it('should say alive and ready', async () => {
    const health = await server.http('/healthz')
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok' })
    const ready = await server.http('/readyz')
    expect(ready.status).toBe(200)
    expect(await ready.json()).toEqual({ status: 'ready' })
  })

  it('should answer 503 when the database file is damaged', async () => {
    writeFileSync(join(server.dir, 'chat.db'), Buffer.alloc(4096, 0x41))
    const res = await server.http('/readyz')
    expect(res.status).toBe(503)
    const problem = (await res.json()) as { code: string; detail: string }
    expect(problem.code).toBe('not_ready')
    expect((await server.http('/healthz')).status).toBe(200)
  })

  it('should answer 503 when the database file is gone', async () => {
    rmSync(join(server.dir, 'chat.db'))
    expect((await server.http('/readyz')).status).toBe(503)
  })
})

describe('/metrics', () => {
  it('should be Prometheus text', async () => {
    const res = await server.http('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/plain')
    const text = await res.text()
    for (const name of ['chat_open_sockets', 'chat_active_rooms', 'chat_messages_stored_total', 'chat_store_commit_seconds', 'chat_process_memory_bytes']) {
      expect(text).toContain(`# TYPE ${name}`)
    }
    expect(await sample('chat_process_memory_bytes{kind="rss"}')).toBeGreaterThan(1_000_000)
  })

  it('should move its counters with traffic', async () => {
    const roomId = await createRoom(server)
    const a = await TestSocket.connect(server, roomId, alice)
    const b = await TestSocket.connect(server, roomId, bob)
    expect(await sample('chat_open_sockets')).toBe(2)
    expect(await sample('chat_active_rooms')).toBe(1)

    for (let i = 0; i < 5; i++) a.sendMessage(`m${i}`)
    await b.collect('chat.message', 5)
    await server.post('/chat/v1/message/', { message: 'rest', room: roomId }, identityHeaders(bob))
    a.send('not json')
    a.send({ type: 'nope' })
    await a.next('chat.error')
    await handshake(server, `/ws/chat/${roomId}/chat/`)
    await handshake(server, `/ws/chat/99999/chat/?user_id=a&nickname=b&email=a@b.co`)

    expect(await sample('chat_messages_received_total{source="ws"}')).toBe(5)
    expect(await sample('chat_messages_received_total{source="rest"}')).toBe(1)
    expect(await sample('chat_messages_stored_total')).toBe(6)
    expect(await sample('chat_messages_delivered_total')).toBe(12)
    expect(await sample('chat_errors_total{code="invalid_json"}')).toBe(1)
    expect(await sample('chat_handshakes_refused_total{reason="invalid_identity"}')).toBe(1)
    expect(await sample('chat_handshakes_refused_total{reason="room_not_found"}')).toBe(1)
    expect(await sample('chat_store_batch_size_count')).toBeGreaterThanOrEqual(1)
    expect(await sample('chat_store_batch_size_sum')).toBe(6)

    await Promise.all([a.close(), b.close()])
    expect(await sample('chat_open_sockets')).toBe(0)
    expect(await sample('chat_active_rooms')).toBe(0)
  })
})

describe('graceful stop', () => {
  it('should close sockets with 1001', async () => {
    const roomId = await createRoom(server)
    const a = await TestSocket.connect(server, roomId, alice)
    await server.stop()
    expect((await a.closed).code).toBe(1001)
  })

  it('should let a request in flight finish and store its message before closing storage', async () => {
    const roomId = await createRoom(server)
    const body = JSON.stringify({ message: 'sent as the server stops', room: roomId })
    const headers = Object.entries({ ...identityHeaders(alice), 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) })
    // The request's head arrives, then the server is told to stop, then the body arrives.
    const socket = connect(Number(new URL(server.base).port), '127.0.0.1')
    let answer = ''
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString()))
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.write(`POST /chat/v1/message/ HTTP/1.1\r\nHost: h\r\n${headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`)
    await Bun.sleep(100)
    const stopped = server.stop()
    await Bun.sleep(100)
    socket.write(body)
    await stopped
    expect(answer.split('\r\n')[0]).toBe('HTTP/1.1 201 Created')
    socket.destroy()
    const reopened = await server.restart()
    expect((await (await reopened.http(`/chat/v1/room/${roomId}/messages/`)).json()) as unknown[]).toEqual([expect.objectContaining({ message: 'sent as the server stops' })])
    server = reopened
  })
})
