import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ChatApi, Message } from '../client/src/index.ts'
import { startInstance } from './support/cluster.ts'
import { clientAs, countingWebSocket, MemoryStorage, QUICK_RECONNECT, RoomLog, track } from './support/client.ts'
import { until } from './support/wait.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import { freePort } from './support/nginx.ts'
import { alice, bob, carol, createRoom, endpoint, startTestServer, UNLIMITED, type TestServer } from './support/server.ts'

/** Every stored message of a room, oldest first, paged over REST. */
async function stored(api: ChatApi, roomId: number): Promise<Message[]> {
  const all: Message[] = []
  for (;;) {
    const page = await api.history(roomId, { after: all.at(-1)?.id ?? 0, limit: 200 })
    if (page.length === 0) return all
    all.push(...page)
  }
}

const range = (n: number) => [...Array(n).keys()]

describe('a room connection across a network cut and a server crash', () => {
  it('should deliver every message exactly once and in order to both clients, and complete every send', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'client-crash-'))
    const port = freePort()
    const env = { PORT: String(port), DATABASE_PATH: join(dir, 'chat.db'), ...UNLIMITED }
    let server = await startInstance(env)
    const proxy = await FaultProxy.start(port, 'chat')
    try {
      const direct = clientAs(server.base, alice).api
      const roomId = await createRoom(endpoint(server.base), 'crash')
      const via = `http://127.0.0.1:${proxy.port}`
      const logs = [alice, bob].map((user) => new RoomLog(clientAs(via, user).room(roomId, { since: 0 })))
      const [a, b] = logs as [RoomLog, RoomLog]
      await until(() => logs.every((l) => l.room.state === 'open'), { what: 'both clients open' })

      // Both send at once, and every send is acknowledged.
      await Promise.all(logs.flatMap((log, n) => range(10).map((i) => log.room.send(`${n}:before ${i}`))))

      // Acknowledgements are held back: each client's next message reaches the server and is
      // stored, its echo does not; the rest wait their turn.
      proxy.stall('down')
      const unacknowledged = logs.flatMap((log, n) => range(5).map((i) => track(log.room.send(`${n}:at the cut ${i}`))))
      await until(async () => (await direct.history(roomId, { limit: 200 })).length === 22, { what: 'the first of each stored' })

      // The network is cut and the server killed; the clients go on sending meanwhile.
      proxy.cut()
      server.proc.kill('SIGKILL')
      await server.exited
      await until(() => logs.every((l) => l.room.state === 'reconnecting'), { what: 'both clients reconnecting' })
      unacknowledged.push(...logs.flatMap((log, n) => range(3).map((i) => track(log.room.send(`${n}:while down ${i}`)))))
      expect(unacknowledged.filter((s) => s.settled())).toEqual([])
      expect(a.room.pending.length).toBe(8)

      proxy.heal()
      server = await startInstance(env)
      // What was unacknowledged goes out on its own once the clients are back...
      const resolved = await Promise.all(unacknowledged.map((s) => s.promise))
      // ...and new sends from both, at once, go with it.
      resolved.push(...(await Promise.all(logs.flatMap((log, n) => range(5).map((i) => log.room.send(`${n}:after ${i}`))))))
      const history = await stored(clientAs(server.base, alice).api, roomId)
      // Each send stored once, though the first at the cut reached the server twice.
      expect(history.map((m) => m.message).sort()).toEqual(
        logs.flatMap((_, n) => [...range(10).map((i) => `${n}:before ${i}`), ...range(5).map((i) => `${n}:at the cut ${i}`), ...range(3).map((i) => `${n}:while down ${i}`), ...range(5).map((i) => `${n}:after ${i}`)]).sort(),
      )
      // Each unacknowledged send resolved with its stored message.
      const byId = new Map(history.map((m) => [m.id, m]))
      for (const message of resolved) expect(byId.get(message.id)).toEqual(message)
      expect(new Set(resolved.map((m) => m.client_msg_id)).size).toBe(resolved.length)
      // Both clients saw the room's messages exactly once, in the room's order.
      await until(() => a.messages.length >= history.length && b.messages.length >= history.length, { what: 'every message on both clients' })
      await Bun.sleep(100)
      for (const log of logs) expect(log.messages.map((m) => m.id)).toEqual(history.map((m) => m.id))
      expect(a.room.pending).toEqual([])
      for (const log of logs) log.room.close()
    } finally {
      await proxy.close()
      server.proc.kill('SIGKILL')
      await server.exited
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})

describe('a reconnect that missed more than the server replays', () => {
  it('should complete a send the replay left out without showing it out of order, and say what was truncated', async () => {
    const server = await startTestServer({ RECOVERY_LIMIT: '2' })
    const proxy = await FaultProxy.start(Number(new URL(server.base).port), 'chat')
    try {
      const roomId = await createRoom(server)
      const log = new RoomLog(clientAs(`http://127.0.0.1:${proxy.port}`, alice).room(roomId, { since: 0 }))
      const seen = await log.room.send('seen')
      const recovered = new Promise<{ truncated: boolean; since: number | null }>((resolve) => log.room.on('recovered', resolve))
      // Alice's next message is stored but its echo held back; bob writes more than a replay holds.
      proxy.stall('down')
      const pending = log.room.send('stored, echo lost')
      const others = clientAs(server.base, bob).api
      await until(async () => (await others.history(roomId)).length === 2, { what: 'alice’s message stored' })
      for (const i of range(4)) await others.sendMessage({ room: roomId, message: `bob ${i}` })
      proxy.cut()
      proxy.heal()

      const stored = await pending
      // The replay follows the last message delivered before the cut, and is not all that came after it.
      expect(await recovered).toMatchObject({ truncated: true, since: seen.id })
      const history = await others.history(roomId)
      expect(history.find((m) => m.client_msg_id === stored.client_msg_id)).toEqual(stored)
      // Replayed: the newest two only. The resend's answer is older than them: not shown again.
      await Bun.sleep(100)
      expect(log.texts()).toEqual(['seen', 'bob 2', 'bob 3'])
      log.room.close()
    } finally {
      await proxy.close()
      await server.destroy()
    }
  })
})

describe('the rest of a room connection', () => {
  let server: TestServer
  let proxy: FaultProxy
  let via: string
  beforeAll(async () => {
    server = await startTestServer({ PRESENCE_GRACE_MS: '100', TYPING_INTERVAL_MS: '0' })
    proxy = await FaultProxy.start(Number(new URL(server.base).port), 'chat')
    via = `http://127.0.0.1:${proxy.port}`
  })
  afterAll(async () => {
    await proxy.close()
    await server.destroy()
  })

  it('should send after a reload, once, what the closed page left unacknowledged in its storage', async () => {
    const roomId = await createRoom(server)
    const storage = new MemoryStorage()
    const first = clientAs(via, alice).room(roomId, { since: 0, storage })
    await until(() => first.state === 'open', { what: 'the first page open' })
    // The first message reaches the server but its echo does not; the second waits behind it.
    proxy.stall('down')
    const lost = [first.send('stored, never acknowledged'), first.send('never sent')].map((p) => p.catch((e: unknown) => e))
    await until(async () => (await server.http(`/chat/v1/room/${roomId}/messages/`).then((r) => r.json() as Promise<Message[]>)).length === 1, { what: 'the first stored' })
    first.close()
    proxy.cut()
    proxy.heal()
    for (const error of await Promise.all(lost)) expect(error).toMatchObject({ name: 'ChatSendError', code: 'closed' })
    expect(JSON.parse(storage.getItem(`gateway-chat:outbox:${alice.user_id}:${roomId}`) ?? '[]')).toMatchObject([{ message: 'stored, never acknowledged' }, { message: 'never sent' }])

    const second = new RoomLog(clientAs(via, alice).room(roomId, { since: 0, storage }))
    // The list is told as it changes: both restored, then each acknowledged.
    const pendingSizes: number[] = []
    second.room.on('pending', (pending) => pendingSizes.push(pending.length))
    await until(() => second.messages.length === 2 && second.room.pending.length === 0, { what: 'the reloaded page caught up' })
    await Bun.sleep(100)
    const history = await clientAs(server.base, alice).api.history(roomId)
    expect(history.map((m) => m.message)).toEqual(['stored, never acknowledged', 'never sent'])
    expect(second.messages).toEqual(history)
    expect(pendingSizes).toEqual([2, 1, 0])
    expect(storage.items.size).toBe(0)
    second.room.close()
  })

  it('should rebuild who is online after a reconnect, and follow joins and leaves', async () => {
    const roomId = await createRoom(server)
    const watcher = clientAs(via, alice).room(roomId)
    const seen = () => [...watcher.online.keys()].sort()
    await until(() => seen().join() === alice.user_id, { what: 'alice online' })
    const bobs = clientAs(server.base, bob).room(roomId)
    await until(() => seen().join() === [alice.user_id, bob.user_id].sort().join(), { what: 'bob joined' })

    // While alice is away, bob leaves and carol comes: she hears of neither.
    proxy.dropNewConnections(true)
    proxy.cut()
    await until(() => watcher.state === 'reconnecting', { what: 'alice reconnecting' })
    bobs.close()
    const carols = clientAs(server.base, carol).room(roomId)
    await until(() => carols.state === 'open', { what: 'carol open' })
    await Bun.sleep(300)
    expect(seen()).toContain(bob.user_id)
    proxy.dropNewConnections(false)
    await until(() => seen().join() === [alice.user_id, carol.user_id].sort().join(), { what: 'the list rebuilt' })
    expect(watcher.online.get(carol.user_id)).toEqual({ user_id: carol.user_id, nickname: carol.nickname, profile_picture_url: carol.profile_url ?? null })
    for (const room of [watcher, carols]) room.close()
  })

  it('should send one typing notice per interval, however often typing() is called', async () => {
    const roomId = await createRoom(server)
    const typist = clientAs(server.base, alice).room(roomId, { typingIntervalMs: 400 })
    const reader = clientAs(server.base, bob).room(roomId)
    const notices: string[] = []
    reader.on('typing', (t) => notices.push(t.user_id))
    await until(() => typist.state === 'open' && reader.state === 'open', { what: 'both open' })
    // The server relays every notice here (TYPING_INTERVAL_MS=0): only the client holds them back.
    expect(range(5).map(() => typist.typing())).toEqual([true, false, false, false, false])
    await Bun.sleep(200)
    expect(notices).toEqual([alice.user_id])
    await Bun.sleep(250)
    expect(typist.typing()).toBe(true)
    await until(() => notices.length === 2, { what: 'the second notice' })
    for (const room of [typist, reader]) room.close()
  })

  it('should give up a handshake nobody answers and try again, rather than hang', async () => {
    const roomId = await createRoom(server)
    // The path swallows what the server says: the upgrade's answer never comes, nor the probe's.
    proxy.stall('down')
    const sockets = countingWebSocket()
    const room = clientAs(via, alice, { WebSocket: sockets.WebSocket, reconnect: { ...QUICK_RECONNECT, handshakeTimeoutMs: 200 } }).room(roomId)
    await until(() => sockets.opened() >= 2, { what: 'a second attempt' })
    expect(room.state).toBe('reconnecting')
    proxy.heal()
    await until(() => room.state === 'open', { what: 'connected once the path is back' })
    room.close()
  })

  it('should send under the id the app chose, once, and refuse the same id while it is pending', async () => {
    const roomId = await createRoom(server)
    const room = clientAs(server.base, alice).room(roomId, { since: 0 })
    const first = room.send('mine', { clientMsgId: 'app-chosen-1' })
    await expect(room.send('again', { clientMsgId: 'app-chosen-1' })).rejects.toMatchObject({ code: 'invalid_field' })
    expect(room.pending).toEqual([{ client_msg_id: 'app-chosen-1', message: 'mine' }])
    const stored = await first
    expect(stored).toMatchObject({ client_msg_id: 'app-chosen-1', message: 'mine' })
    // Once stored, the same id answers the stored message: the server keeps it once.
    expect(await room.send('mine', { clientMsgId: 'app-chosen-1' })).toEqual(stored)
    expect((await clientAs(server.base, alice).api.history(roomId)).map((m) => m.id)).toEqual([stored.id])
    room.close()
  })

  it('should tell the app when the database was replaced, and start over from there', async () => {
    const roomId = await createRoom(server)
    const { epoch } = await clientAs(server.base, alice).api.room(roomId)
    const room = new RoomLog(clientAs(server.base, alice).room(roomId, { since: 40, epoch: 'an-epoch-long-gone' }))
    const reset = new Promise<{ epoch: string }>((resolve) => room.room.on('reset', resolve))
    expect(await reset).toEqual({ epoch })
    const sent = await room.room.send('after the reset')
    await until(() => room.messages.length === 1, { what: 'the message' })
    expect(room.messages).toEqual([sent])
    room.room.close()
  })
})
