import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { alice, bob, carol, createRoom, handshake, identityHeaders, startTestServer, storedIds, type TestServer } from './support/server.ts'
import { TestSocket, type Frame } from './support/socket.ts'

let server: TestServer
beforeAll(async () => {
  server = await startTestServer()
})
afterAll(() => server.destroy())

const ids = (frames: Frame[]) => frames.map((f) => f.id as number)

describe('handshake', () => {
  it('should refuse missing or invalid identity with 400 problem+json before the upgrade', async () => {
    const roomId = await createRoom(server)
    for (const query of ['', '?user_id=a&nickname=b', '?user_id=a&nickname=b&email=nope', '?user_id=&nickname=b&email=a@b.co', `?user_id=a&nickname=${'n'.repeat(51)}&email=a@b.co`]) {
      const res = await handshake(server, `/ws/chat/${roomId}/chat/${query}`)
      expect(res.status).toBe(400)
      expect(res.headers.get('content-type')).toContain('application/problem+json')
      expect(await res.json()).toMatchObject({ code: 'invalid_identity', status: 400 })
    }
  })

  it('should refuse an unknown or malformed room with 404', async () => {
    for (const path of ['/ws/chat/31337/chat/', '/ws/chat/abc/chat/']) {
      const res = await handshake(server, `${path}?user_id=a&nickname=b&email=a@b.co`)
      expect(res.status).toBe(404)
      expect(await res.json()).toMatchObject({ code: 'room_not_found' })
    }
  })

  it('should refuse a since that is not a message id with 400', async () => {
    const roomId = await createRoom(server)
    const res = await handshake(server, `/ws/chat/${roomId}/chat/?user_id=a&nickname=b&email=a@b.co&since=-3`)
    expect(res.status).toBe(400)
    expect(await res.json()).toMatchObject({ code: 'invalid_since' })
  })

  it('should not open a WebSocket for a refused handshake', async () => {
    await expect(TestSocket.open(`${server.wsBase}/ws/chat/31337/chat/?user_id=a&nickname=b&email=a@b.co`)).rejects.toThrow()
  })

  it('should take identity from headers, ignoring the query, when X-User-Id is present', async () => {
    const roomId = await createRoom(server)
    const socket = await TestSocket.open(`${server.wsBase}/ws/chat/${roomId}/chat/?user_id=mallory&nickname=M&email=m@evil.co`, { headers: identityHeaders(bob) })
    socket.sendMessage('who am i')
    expect(await socket.next('chat.message')).toMatchObject({ user_id: bob.user_id, nickname: '밥', sender: bob.email })
    await socket.close()
  })
})

describe('the seed flow: join, message, leave', () => {
  it('should announce joins to the others, echo messages to everyone, and announce leaves', async () => {
    const roomId = await createRoom(server, '채팅방')
    const a = await TestSocket.connect(server, roomId, alice)
    const b = await TestSocket.connect(server, roomId, bob)
    expect(await a.next('chat.user.join')).toEqual({ type: 'chat.user.join', username: '밥', user_id: bob.user_id })

    b.sendMessage('안녕하세요!')
    for (const socket of [a, b]) {
      expect(await socket.next('chat.message')).toEqual({
        type: 'chat.message',
        message: '안녕하세요!',
        sender: bob.email,
        nickname: '밥',
        profile_picture_url: null,
        id: expect.any(Number),
        room: roomId,
        user_id: bob.user_id,
        created_at: expect.any(String),
        client_msg_id: null,
        version: 1,
      })
    }
    await b.close()
    expect(await a.next('chat.user.leave')).toEqual({ type: 'chat.user.leave', username: '밥', user_id: bob.user_id })
    // The joining socket does not hear its own join.
    await a.barrier()
    expect(a.all('chat.user.join').map((f) => f.user_id)).toEqual([bob.user_id])
    await a.close()
  })

  it('should keep rooms isolated from each other', async () => {
    const [r1, r2] = [await createRoom(server, 'one'), await createRoom(server, 'two')]
    const a = await TestSocket.connect(server, r1, alice)
    const b = await TestSocket.connect(server, r2, bob)
    a.sendMessage('only room one')
    await a.next('chat.message')
    b.sendMessage('only room two')
    await b.next('chat.message')
    await Promise.all([a.barrier(), b.barrier()])
    expect(a.all('chat.message').map((f) => f.message)).toEqual(['only room one'])
    expect(b.all('chat.message').map((f) => f.message)).toEqual(['only room two'])
    expect(a.all('chat.user.join')).toHaveLength(0)
    await Promise.all([a.close(), b.close()])
  })

  it('should relay typing to the others only', async () => {
    const roomId = await createRoom(server)
    const a = await TestSocket.connect(server, roomId, alice)
    const b = await TestSocket.connect(server, roomId, bob)
    a.send({ type: 'chat.typing' })
    expect(await b.next('chat.typing')).toEqual({ type: 'chat.typing', user_id: alice.user_id, nickname: alice.nickname })
    await a.barrier()
    expect(a.all('chat.typing')).toHaveLength(0)
    await Promise.all([a.close(), b.close()])
  })
})

describe('presence with many tabs', () => {
  it('should announce a user once per room, however many tabs, and leave with the last tab', async () => {
    const roomId = await createRoom(server, 'tabs')
    const watcher = await TestSocket.connect(server, roomId, carol)
    const tab1 = await TestSocket.connect(server, roomId, alice)
    const tab2 = await TestSocket.connect(server, roomId, alice)
    await watcher.next('chat.user.join')
    const detail = async () => (await (await server.http(`/chat/v1/room/${roomId}/`)).json()) as { online_count: number; online_users: { user_id: string }[] }
    expect((await detail()).online_count).toBe(2)

    await tab1.close()
    tab2.sendMessage('still here')
    await watcher.next('chat.message')
    await watcher.barrier()
    expect(watcher.all('chat.user.join')).toHaveLength(1)
    expect(watcher.all('chat.user.leave')).toHaveLength(0)
    expect((await detail()).online_users.map((u) => u.user_id).sort()).toEqual([alice.user_id, carol.user_id])

    await tab2.close()
    expect(await watcher.next('chat.user.leave')).toMatchObject({ user_id: alice.user_id })
    expect((await detail()).online_users.map((u) => u.user_id)).toEqual([carol.user_id])
    await watcher.close()
  })
})

describe('bad frames', () => {
  const cases: [string, string | Uint8Array<ArrayBuffer>, string][] = [
    ['not JSON', 'hello', 'invalid_json'],
    ['broken JSON', '{"type":', 'invalid_json'],
    ['a JSON array', '[1,2]', 'invalid_json'],
    ['a JSON number', '42', 'invalid_json'],
    ['no type', '{"message":"x"}', 'missing_type'],
    ['an unknown type', '{"type":"chat.shout","message":"x"}', 'unknown_type'],
    ['a message that is not a string', '{"type":"chat.message","message":5}', 'invalid_field'],
    ['a missing message', '{"type":"chat.message"}', 'invalid_field'],
    ['a client_msg_id that is not a string', '{"type":"chat.message","message":"x","client_msg_id":7}', 'invalid_field'],
    ['an empty message', '{"type":"chat.message","message":""}', 'message_empty'],
    ['a blank message', '{"type":"chat.message","message":"  \\n "}', 'message_empty'],
    ['a binary frame', new Uint8Array([123, 125]), 'binary_not_supported'],
  ]

  it.each(cases)('should answer %s with chat.error and keep the connection open', async (_name, frame, code) => {
    const roomId = await createRoom(server)
    const a = await TestSocket.connect(server, roomId, alice)
    a.ws.send(frame)
    expect(await a.next('chat.error')).toMatchObject({ type: 'chat.error', code, message: expect.any(String) })
    a.sendMessage('still works')
    expect(await a.next('chat.message')).toMatchObject({ message: 'still works' })
    const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/`)).json()) as unknown[]
    expect(history).toHaveLength(1)
    await a.close()
  })

  it('should refuse a message over MAX_MESSAGE_LENGTH and accept one at it', async () => {
    const roomId = await createRoom(server)
    const a = await TestSocket.connect(server, roomId, alice)
    a.sendMessage('가'.repeat(server.config.MAX_MESSAGE_LENGTH + 1))
    expect(await a.next('chat.error')).toMatchObject({ code: 'message_too_long' })
    a.sendMessage('가'.repeat(server.config.MAX_MESSAGE_LENGTH))
    expect(((await a.next('chat.message')).message as string).length).toBe(server.config.MAX_MESSAGE_LENGTH)
    await a.close()
  })

  it('should close with 1009 on a frame over the payload limit', async () => {
    const roomId = await createRoom(server)
    const a = await TestSocket.connect(server, roomId, alice)
    a.sendMessage('x'.repeat(server.config.MAX_PAYLOAD_BYTES + 1))
    expect((await a.closed).code).toBe(1009)
  })
})

describe('ordering', () => {
  it('should deliver 300 rapid messages from three senders to every client in one ascending order', async () => {
    const roomId = await createRoom(server, 'rapid')
    const senders = [await TestSocket.connect(server, roomId, alice), await TestSocket.connect(server, roomId, bob), await TestSocket.connect(server, roomId, carol)]
    const listener = await TestSocket.connect(server, roomId, { user_id: 'listener', nickname: 'L', email: 'l@example.com' })
    for (let i = 0; i < 100; i++) for (const [n, s] of senders.entries()) s.sendMessage(`${n}:${i}`)
    const seen = await Promise.all([...senders, listener].map((s) => s.collect('chat.message', 300)))
    const reference = ids(seen[0]!)
    expect(reference).toEqual([...reference].sort((a, b) => a - b))
    expect(new Set(reference).size).toBe(300)
    for (const frames of seen) expect(ids(frames)).toEqual(reference)
    // Each sender's own messages keep the order it sent them in.
    for (let n = 0; n < 3; n++) {
      const mine = seen[3]!.filter((f) => String(f.message).startsWith(`${n}:`)).map((f) => Number(String(f.message).split(':')[1]))
      expect(mine).toEqual(Array.from({ length: 100 }, (_, i) => i))
    }
    const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/?after=0&limit=200`)).json()) as { id: number }[]
    expect(history.map((m) => m.id)).toEqual(reference.slice(0, 200))
    await Promise.all([...senders, listener].map((s) => s.close()))
  })
})

describe('idempotent send', () => {
  it('should store a repeated client_msg_id once and answer only the sender with the stored message', async () => {
    const roomId = await createRoom(server, 'idempotent ws')
    const a = await TestSocket.connect(server, roomId, alice)
    const b = await TestSocket.connect(server, roomId, bob)
    a.sendMessage('exactly once', 'c-42')
    const first = await a.next('chat.message')
    a.sendMessage('exactly once', 'c-42')
    const repeat = await a.next('chat.message')
    expect(repeat).toEqual(first)
    expect(first.client_msg_id).toBe('c-42')
    await Promise.all([a.barrier(), b.barrier()])
    expect(b.all('chat.message')).toHaveLength(1)
    const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/`)).json()) as unknown[]
    expect(history).toHaveLength(1)
    await Promise.all([a.close(), b.close()])
  })

  it('should store a burst of the same client_msg_id once', async () => {
    const roomId = await createRoom(server)
    const a = await TestSocket.connect(server, roomId, alice)
    for (let i = 0; i < 10; i++) a.sendMessage('burst', 'same')
    const frames = await a.collect('chat.message', 10)
    expect(new Set(ids(frames)).size).toBe(1)
    const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/`)).json()) as unknown[]
    expect(history).toHaveLength(1)
    await a.close()
  })
})

describe('recovery with since', () => {
  it('should replay what a client missed, then go live', async () => {
    const roomId = await createRoom(server, 'recovery')
    const a = await TestSocket.connect(server, roomId, alice)
    a.sendMessage('seen')
    const seen = await a.next('chat.message')
    await a.close()
    const b = await TestSocket.connect(server, roomId, bob)
    for (let i = 0; i < 5; i++) b.sendMessage(`missed ${i}`)
    await b.collect('chat.message', 5)

    const again = await TestSocket.connect(server, roomId, alice, { since: String(seen.id) })
    const replayed = await again.collect('chat.message', 5)
    expect(replayed.map((f) => f.message)).toEqual(['missed 0', 'missed 1', 'missed 2', 'missed 3', 'missed 4'])
    expect(await again.next('chat.recovered')).toEqual({ type: 'chat.recovered', count: 5, truncated: false, epoch: expect.any(String) })
    b.sendMessage('live')
    expect((await again.next('chat.message')).message).toBe('live')
    await Promise.all([again.close(), b.close()])
  })

  it('should have no gap and no duplicate while others keep sending during the replay', async () => {
    const roomId = await createRoom(server, 'recovery under load')
    const senders = [await TestSocket.connect(server, roomId, bob), await TestSocket.connect(server, roomId, carol)]
    for (let i = 0; i < 150; i++) for (const s of senders) s.sendMessage(`before ${i}`)
    await senders[0]!.collect('chat.message', 300)

    // Keep sending while several clients reconnect from different points.
    let sending = true
    const pump = (async () => {
      let i = 0
      while (sending) {
        for (const s of senders) s.sendMessage(`during ${i}`)
        i++
        await Bun.sleep(1)
      }
    })()
    const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/?after=0&limit=200`)).json()) as { id: number }[]
    const points = [0, history[10]!.id, history[150]!.id]
    const clients = await Promise.all(points.map((since) => TestSocket.connect(server, roomId, alice, { since: String(since) })))
    await Bun.sleep(300)
    sending = false
    await pump
    const last = senders[0]!
    await Promise.all(senders.map((s) => s.barrier()))
    const total = (await last.collect('chat.message', 300)).length
    const lastId = last.all('chat.message').at(-1)!.id as number
    for (const [i, client] of clients.entries()) {
      await client.next((f) => f.type === 'chat.message' && f.id === lastId)
      const got = ids(client.all('chat.message'))
      expect(got).toEqual(await storedIds(server, roomId, points[i]!))
    }
    expect(total).toBeGreaterThan(300)
    await Promise.all([...clients, ...senders].map((s) => s.close()))
  })

  it('should replay at most RECOVERY_LIMIT, the newest ones, and say it truncated', async () => {
    const small = await startTestServer({ RECOVERY_LIMIT: '10' })
    try {
      const roomId = await createRoom(small)
      const a = await TestSocket.connect(small, roomId, alice)
      for (let i = 0; i < 25; i++) a.sendMessage(`m${i}`)
      await a.collect('chat.message', 25)
      const late = await TestSocket.connect(small, roomId, bob, { since: '0' })
      const recovered = await late.next('chat.recovered')
      expect(recovered).toEqual({ type: 'chat.recovered', count: 10, truncated: true, epoch: expect.any(String) })
      expect(late.all('chat.message').map((f) => f.message)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i + 15}`))
      await Promise.all([a.close(), late.close()])
    } finally {
      await small.destroy()
    }
  })
})

describe('persistence', () => {
  it('should keep every message, sent over WebSocket or REST, across a restart', async () => {
    let current = await startTestServer()
    try {
      const roomId = await createRoom(current, 'durable', 77)
      const a = await TestSocket.connect(current, roomId, alice)
      for (let i = 0; i < 20; i++) a.sendMessage(`ws ${i}`)
      const acked = await a.collect('chat.message', 20)
      await current.post('/chat/v1/message/', { message: 'rest', room: roomId }, identityHeaders(bob))
      await a.close()
      current = await current.restart()
      const history = (await (await current.http(`/chat/v1/room/${roomId}/messages/`)).json()) as { id: number; message: string }[]
      expect(history.map((m) => m.message)).toEqual([...acked.map((f) => String(f.message)), 'rest'])
      const again = await current.post('/chat/v1/create-room/', { name: 'x', post_id: 77 })
      expect(again.status).toBe(200)
    } finally {
      await current.destroy()
    }
  })
})
