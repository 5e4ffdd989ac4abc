import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import type { ChatApi, Message, OutboxStorage, PendingMessage } from '../client/src/index.ts'
import { clientAs } from './support/client.ts'
import { FaultProxy } from './support/fault-proxy.ts'
import { until } from './support/wait.ts'
import { alice, bob, carol, createRoom, startTestServer, type TestServer, type TestUser } from './support/server.ts'

/** One browser's storage, shared by whoever signs in on it: every read and write is logged. */
class SharedStorage implements OutboxStorage {
  readonly items = new Map<string, string>()
  readonly log: string[] = []
  getItem(key: string): string | null {
    this.log.push(`get ${key}`)
    return this.items.get(key) ?? null
  }
  setItem(key: string, value: string): void {
    this.log.push(`set ${key}`)
    this.items.set(key, value)
  }
  removeItem(key: string): void {
    this.log.push(`remove ${key}`)
    this.items.delete(key)
  }
  /** The texts kept under `key`. */
  texts(key: string): string[] {
    return (JSON.parse(this.items.get(key) ?? '[]') as PendingMessage[]).map((p) => p.message)
  }
}

/** The key a room's pending sends are kept under for `user` when the app gives none. */
const keyOf = (user: TestUser, roomId: number) => `gateway-chat:outbox:${encodeURIComponent(user.user_id)}:${roomId}`

/** Who sent what in a room, in the room's order. */
const senders = (history: Message[]) => history.map((m) => `${m.user_id}: ${m.message}`)

describe('pending sends on a browser that several users share', () => {
  let server: TestServer
  let proxy: FaultProxy
  let via: string
  let reader: ChatApi
  beforeAll(async () => {
    server = await startTestServer()
    proxy = await FaultProxy.start(Number(new URL(server.base).port), 'chat')
    via = `http://127.0.0.1:${proxy.port}`
    reader = clientAs(server.base, carol).api
  })
  afterAll(async () => {
    await proxy.close()
    await server.destroy()
  })

  const history = (roomId: number) => reader.history(roomId, { limit: 200 })

  /**
   * A page of `user` that closes with `texts` unacknowledged: it sends one message that completes
   * (so it is connected and knows whose storage it uses), then the echoes stop coming back; the
   * first of `texts` reaches the server, the rest wait behind it, and the page closes.
   */
  async function closeWithPending(user: TestUser, roomId: number, storage: SharedStorage, texts: string[]): Promise<{ pending: string[]; keys: Set<string> }> {
    const logged = storage.log.length
    const room = clientAs(via, user).room(roomId, { since: 0, storage })
    const pending = new Set<string>()
    room.on('pending', (list) => {
      for (const p of list) pending.add(p.message)
    })
    await room.send(`${user.user_id} is here`)
    proxy.stall('down')
    const before = (await history(roomId)).length
    const lost = texts.map((text) => room.send(text).catch((error: unknown) => error))
    await until(async () => (await history(roomId)).length === before + 1, { what: `the first of ${user.user_id}'s messages stored` })
    room.close()
    proxy.cut()
    proxy.heal()
    for (const error of await Promise.all(lost)) expect(error).toMatchObject({ name: 'ChatSendError', code: 'closed' })
    // Every key the page read or wrote.
    return { pending: [...pending], keys: new Set(storage.log.slice(logged).map((entry) => entry.slice(entry.indexOf(' ') + 1))) }
  }

  it("should never send one user's pending messages as another, and send each user's as them, once", async () => {
    const roomId = await createRoom(server)
    const storage = new SharedStorage()
    // A page of an older client left this under the room's old key: whose it is, nobody knows.
    const oldKey = `gateway-chat:outbox:${roomId}`
    storage.setItem(oldKey, JSON.stringify([{ client_msg_id: 'old-page-1', message: 'left under the old key' }]))

    // Alice's page closes with two messages unacknowledged; then Bob signs in on the same browser.
    const alicesPage = await closeWithPending(alice, roomId, storage, ['alice 1', 'alice 2'])
    const bobsPage = await closeWithPending(bob, roomId, storage, ['bob 1', 'bob 2'])

    // Nothing of Alice's went out as Bob, nor was it ever pending on his page; nothing under the old key went out.
    expect(senders(await history(roomId))).toEqual([`${alice.user_id}: ${alice.user_id} is here`, `${alice.user_id}: alice 1`, `${bob.user_id}: ${bob.user_id} is here`, `${bob.user_id}: bob 1`])
    expect(bobsPage.pending).toEqual([`${bob.user_id} is here`, 'bob 1', 'bob 2'])
    expect(alicesPage.pending).toEqual([`${alice.user_id} is here`, 'alice 1', 'alice 2'])
    // Each page read and wrote its own user's key only.
    expect([...alicesPage.keys]).toEqual([keyOf(alice, roomId)])
    expect([...bobsPage.keys]).toEqual([keyOf(bob, roomId)])
    // Each user's pending sends are kept under their own key; the old key is left alone.
    expect(storage.texts(keyOf(alice, roomId))).toEqual(['alice 1', 'alice 2'])
    expect(storage.texts(keyOf(bob, roomId))).toEqual(['bob 1', 'bob 2'])
    expect(storage.texts(oldKey)).toEqual(['left under the old key'])

    // Alice comes back: her messages go out as her, once; then Bob's as him.
    for (const [user, last] of [
      [alice, 'alice 2'],
      [bob, 'bob 2'],
    ] as const) {
      const room = clientAs(via, user).room(roomId, { since: 0, storage })
      await until(async () => (await history(roomId)).some((m) => m.message === last) && room.pending.length === 0, { what: `${user.user_id}'s pending messages sent` })
      room.close()
    }
    await Bun.sleep(100)
    expect(senders(await history(roomId))).toEqual([
      `${alice.user_id}: ${alice.user_id} is here`,
      `${alice.user_id}: alice 1`,
      `${bob.user_id}: ${bob.user_id} is here`,
      `${bob.user_id}: bob 1`,
      `${alice.user_id}: alice 2`,
      `${bob.user_id}: bob 2`,
    ])
    expect([...storage.items.keys()]).toEqual([oldKey])
  }, 30_000)

  it('should keep sends in memory until it learns whose they are, then send that user’s stored ones first', async () => {
    const roomId = await createRoom(server)
    const storage = new SharedStorage()
    storage.setItem(keyOf(alice, roomId), JSON.stringify([{ client_msg_id: 'earlier-1', message: 'from an earlier page' }]))
    storage.log.length = 0
    // The network is down when the page opens: the server cannot say who the user is.
    proxy.dropNewConnections(true)
    proxy.cut()
    const room = clientAs(via, alice).room(roomId, { since: 0, storage })
    const errors: Error[] = []
    room.on('error', (error) => errors.push(error))
    await until(() => errors.length > 0, { what: 'the failed look-up reported' })
    const sent = room.send('while offline')
    await Bun.sleep(200)
    expect(room.pending.map((p) => p.message)).toEqual(['while offline'])
    expect(storage.log).toEqual([])

    // Back online: the socket opens, the look-up is tried again, the user's stored sends go first.
    proxy.dropNewConnections(false)
    expect(await sent).toMatchObject({ message: 'while offline', user_id: alice.user_id })
    expect(senders(await history(roomId))).toEqual([`${alice.user_id}: from an earlier page`, `${alice.user_id}: while offline`])
    expect(storage.log[0]).toBe(`get ${keyOf(alice, roomId)}`)
    expect(storage.log.every((entry) => entry.endsWith(keyOf(alice, roomId)))).toBe(true)
    expect(storage.items.size).toBe(0)
    room.close()
  })

  it('should give up a look-up nobody answers, keep the sends in memory, and try again at the next open', async () => {
    const roomId = await createRoom(server)
    const storage = new SharedStorage()
    // The path swallows what the server says: neither the look-up nor the handshake is answered.
    proxy.stall('down')
    const room = clientAs(via, alice, { reconnect: { baseMs: 20, capMs: 250, handshakeTimeoutMs: 300 } }).room(roomId, { since: 0, storage })
    const errors: Error[] = []
    room.on('error', (error) => errors.push(error))
    const sent = room.send('held')
    await until(() => errors.length > 0, { what: 'the look-up given up' })
    expect(errors[0]!.message).toContain('did not say who the user is')
    expect(storage.log).toEqual([])
    proxy.heal()
    expect(await sent).toMatchObject({ message: 'held', user_id: alice.user_id })
    expect(storage.log[0]).toBe(`get ${keyOf(alice, roomId)}`)
    room.close()
  })

  it('should use the key the app gives as it is', async () => {
    const roomId = await createRoom(server)
    const storage = new SharedStorage()
    storage.setItem(`app:${alice.user_id}:${roomId}`, JSON.stringify([{ client_msg_id: 'app-key-1', message: 'under the app’s key' }]))
    const room = clientAs(server.base, alice).room(roomId, { since: 0, storage, storageKey: `app:${alice.user_id}:${roomId}` })
    await until(async () => (await history(roomId)).length === 1 && room.pending.length === 0, { what: 'the stored send sent' })
    expect(senders(await history(roomId))).toEqual([`${alice.user_id}: under the app’s key`])
    expect(storage.items.size).toBe(0)
    room.close()
  })
})
