import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startInstance } from './support/cluster.ts'
import { alice, bob, createRoom, endpoint, startTestServer, UNLIMITED, type TestServer } from './support/server.ts'
import { CLOSE_GRACE_MS } from '../src/realtime/closing.ts'
import { RawWebSocket } from './support/raw-socket.ts'
import { TestSocket } from './support/socket.ts'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer({ SLOW_CONSUMER_BYTES: String(256 * 1024), WS_IDLE_TIMEOUT: '4' })
})
afterAll(() => server.destroy())

const port = () => Number(new URL(server.base).port)

describe('a client that stops reading', () => {
  it('should be cut loose while the others get every message, its queue released and memory bounded', async () => {
    // Its own process, so the server's memory is measured apart from the test's clients.
    const dir = mkdtempSync(join(tmpdir(), 'chat-slow-'))
    const instance = await startInstance({ DATABASE_PATH: join(dir, 'chat.db'), SLOW_CONSUMER_BYTES: String(256 * 1024), ...UNLIMITED })
    const target = endpoint(instance.base)
    const rss = async () => Number((await (await fetch(`${instance.base}/metrics`)).text()).match(/chat_process_memory_bytes\{kind="rss"\} (\d+)/)![1])
    const roomId = await createRoom(target, 'slow consumer')
    const stuck = await RawWebSocket.open(instance.port, `/ws/chat/${roomId}/chat/?user_id=stuck&nickname=Stuck&email=stuck@example.com`)
    stuck.pause()
    const senders = [await TestSocket.connect(target, roomId, alice), await TestSocket.connect(target, roomId, bob)]
    const rssBefore = await rss()
    await senders[0]!.next('chat.user.join')

    // Two fast clients chat at full speed: 2 x 2,500 messages of 2,000 characters (about 11 MB to
    // each reader), 100 at a time, as fast as this one test process can send and read them.
    const text = (i: number) => `${i}:`.padEnd(2000, 'x')
    for (let i = 0; i < 2500; i++) {
      for (const s of senders) s.sendMessage(text(i))
      if (i % 50 === 49) await Bun.sleep(5)
    }
    const received = await Promise.all(senders.map((s) => s.collect('chat.message', 5000, 60_000)))
    for (const frames of received) expect(new Set(frames.map((f) => f.id)).size).toBe(5000)
    expect(await senders[0]!.next((f) => f.type === 'chat.user.leave' && f.user_id === 'stuck', 10_000)).toMatchObject({ username: 'Stuck' })
    const metrics = await (await fetch(`${instance.base}/metrics`)).text()
    expect(metrics).toContain('chat_sockets_closed_by_server_total{reason="slow_consumer"} 1')

    // Its close frame would wait behind megabytes it never reads: the server cuts the connection
    // within the grace (seen from the server's side: a paused client notices nothing until it reads).
    const established = () =>
      Bun.spawnSync(['ss', '-tnH', 'state', 'established', `( sport = :${instance.port} and dport = :${stuck.socket.localPort} )`])
        .stdout.toString()
        .trim()
    for (let i = 0; i < (CLOSE_GRACE_MS + 5000) / 100 && established() !== ''; i++) await Bun.sleep(100)
    expect(established()).toBe('')
    // Its queue was cut near the limit (at most 8 times it, plus what one group-commit batch delivers
    // between two checks: on a busy machine a few hundred of these 2 KB messages, up to about 2 MB),
    // not left to grow with the ~11 MB sent.
    const closing = instance.lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'closing a socket that cannot keep up')
    expect(closing.map((l) => l.user)).toEqual(['stuck'])
    expect(closing[0].queued).toBeGreaterThan(256 * 1024)
    expect(closing[0].queued).toBeLessThan(8 * 256 * 1024 + 2 * 1024 * 1024)
    const after = await (await fetch(`${instance.base}/metrics`)).text()
    expect(after).toContain('chat_sockets_terminated_total 1')
    expect(Number(/chat_terminated_queued_bytes_total (\d+)/.exec(after)?.[1])).toBeGreaterThan(0)
    expect((await rss()) - rssBefore).toBeLessThan(64 * 1024 * 1024)
    await Promise.all(senders.map((s) => s.close()))
    instance.proc.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }, 90_000)
})

describe('a slow reader that catches up within the grace', () => {
  it('should read what was queued, then the close frame: 1013, reconnect with since=', async () => {
    const roomId = await createRoom(server, 'slow but alive')
    const slow = await RawWebSocket.open(port(), `/ws/chat/${roomId}/chat/?user_id=slow&nickname=Slow&email=slow@example.com`)
    slow.pause()
    const sender = await TestSocket.connect(server, roomId, alice)
    const text = (i: number) => `${i}:`.padEnd(2000, 'x')
    for (let i = 0; i < 3000; i++) {
      sender.sendMessage(text(i))
      if (i % 50 === 49) await Bun.sleep(5)
    }
    // Once the server has decided to close it, the reader wakes up and reads.
    for (let i = 0; i < 100 && !(await (await server.http('/metrics')).text()).includes('reason="slow_consumer"'); i++) await Bun.sleep(50)
    slow.resume()
    await slow.ended
    expect(slow.closeCode()).toBe(1013)
    await sender.close()
  }, 30_000)
})

describe('dead and half-open peers', () => {
  it('should close a socket that answers no pings after the idle timeout, and end its presence', async () => {
    const roomId = await createRoom(server, 'half open')
    const watcher = await TestSocket.connect(server, roomId, alice)
    // A raw client that completes the handshake, then never answers a ping nor sends anything.
    const silent = await RawWebSocket.open(port(), `/ws/chat/${roomId}/chat/?user_id=ghost&nickname=Ghost&email=ghost@example.com`)
    await watcher.next((f) => f.type === 'chat.user.join' && f.user_id === 'ghost')
    const leave = await watcher.next((f) => f.type === 'chat.user.leave' && f.user_id === 'ghost', 15_000)
    expect(leave).toMatchObject({ username: 'Ghost' })
    // The well-behaved client answered the pings and is still connected.
    expect(watcher.ws.readyState).toBe(WebSocket.OPEN)
    silent.destroy()
    await watcher.close()
  }, 30_000)
})

describe('frames a WebSocket client should never send', () => {
  it('should close a text frame with invalid UTF-8 as a protocol error, and keep serving', async () => {
    const roomId = await createRoom(server, 'bad utf-8')
    const raw = await RawWebSocket.open(port(), `/ws/chat/${roomId}/chat/?user_id=bytes&nickname=B&email=b@example.com`)
    raw.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]))
    await raw.ended
    expect([1007, 1002]).toContain(raw.closeCode()!)
    expect((await server.http('/healthz')).status).toBe(200)
    expect((await (await server.http(`/chat/v1/room/${roomId}/messages/`)).json()) as unknown[]).toHaveLength(0)
  })
})
