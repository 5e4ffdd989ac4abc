import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { verifySignature } from '../src/webhooks/signing.ts'
import { STORES } from './support/cluster.ts'
import { identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'
import { eventually, startReceiver, type Receiver, type Received } from './support/webhooks.ts'

// Webhooks and reports through the real server on each store, to a real receiver process.

const SECRET = 'webhook-secret-of-the-app-backend'
const SERVICE_SECRET = 'service-secret-of-the-app-backend'
type Envelope = { id: string; type: string; created_at: string; data: Record<string, unknown> & { message?: { id: number; room: number; message: string } } }
const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
const parse = (r: Received) => JSON.parse(r.body) as Envelope

for (const store of STORES) {
  describe(`webhooks on ${store.name}`, () => {
    let server: TestServer
    let receiver: Receiver
    let drop: () => Promise<void>
    let dbEnv: Record<string, string>
    const tag = store.name.toLowerCase()
    const [owner, member, away] = [user(`${tag}-owner`), user(`${tag}-member`), user(`${tag}-away`)]

    beforeAll(async () => {
      const db = await store.database()
      drop = db.drop
      dbEnv = db.env
      receiver = await startReceiver()
      server = await startTestServer({ ...db.env, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: SECRET, WEBHOOK_RETRY_MIN_MS: '100', WEBHOOK_TIMEOUT: '1', SERVICE_SECRET })
    })
    afterAll(async () => {
      await server?.destroy()
      await receiver?.stop()
      await drop?.()
    })

    const json = async <T = { id: number }>(res: Response) => (await res.json()) as T
    const say = async (roomId: number, who: TestUser, message: string) => (await json(await server.post('/chat/v1/message/', { room: roomId, message }, identityHeaders(who)))).id
    const events = async () => (await receiver.received()).map(parse)
    /** A new open room whose room.created event the receiver already has (so scripts apply to what comes next). */
    const quietRoom = async (name: string) => {
      const id = (await json(await server.post('/chat/v1/create-room/', { name }))).id
      await eventually(async () => expect((await events()).some((e) => e.type === 'room.created' && (e.data.room as { id: number }).id === id)).toBe(true))
      return id
    }

    it('should send every kind of event, signed by the documented scheme, with offline_user_ids from presence', async () => {
      await receiver.script([])
      const roomId = (await json(await server.post('/chat/v1/create-room/', { name: 'team', kind: 'private', members: [member.user_id, away.user_id] }, identityHeaders(owner)))).id
      const socket = await TestSocket.connect(server, roomId, member)
      // Present in the room (as presence says) before the message is sent.
      await eventually(async () =>
        expect((await json<{ online_users: { user_id: string }[] }>(await server.http(`/chat/v1/room/${roomId}/`, { headers: identityHeaders(owner) }))).online_users.map((u) => u.user_id)).toContain(member.user_id),
      )
      const messageId = await say(roomId, owner, '안녕하세요 webhook')
      const other = user(`${tag}-other`)
      expect((await server.post(`/chat/v1/room/${roomId}/members/`, { user_id: other.user_id }, identityHeaders(owner))).status).toBe(201)
      expect((await server.http(`/chat/v1/room/${roomId}/members/${other.user_id}/`, { method: 'DELETE', headers: identityHeaders(owner) })).status).toBe(204)
      const report = await server.post('/chat/v1/report/', { reason: 'spam', message_id: messageId }, identityHeaders(member))
      expect(report.status).toBe(201)
      expect(await json(report)).toMatchObject({ reporter: member.user_id, message_id: messageId, user_id: owner.user_id, room: roomId, reason: 'spam' })

      const all = await eventually(async () => {
        const got = await receiver.received()
        expect(got.map(parse).map((e) => e.type)).toEqual(expect.arrayContaining(['room.created', 'message.created', 'member.added', 'member.removed', 'report.created']))
        return got
      })
      for (const r of all) {
        // The scheme the README documents: HMAC-SHA256 over "<t>.<raw body>".
        expect(verifySignature(r.signature, r.body, SECRET)).toBe(true)
        expect(verifySignature(r.signature, `${r.body} `, SECRET)).toBe(false)
        expect(verifySignature(r.signature, r.body, 'another-secret-of-16+')).toBe(false)
        expect(r.id).toBe(parse(r).id)
      }
      const mine = all.map(parse).filter((e) => JSON.stringify(e.data).includes(String(roomId)))
      expect(mine.map((e) => e.type)).toEqual(['room.created', 'message.created', 'member.added', 'member.removed', 'report.created'])
      const [created, message, added, removed, reported] = mine as [Envelope, Envelope, Envelope, Envelope, Envelope]
      expect(created.data).toMatchObject({ room: { id: roomId, kind: 'private', owner: owner.user_id }, members: expect.arrayContaining([owner.user_id, member.user_id, away.user_id]) })
      // The member with a socket in the room is not offline; the sender is not listed.
      expect(message.data).toMatchObject({ room: roomId, message: { id: messageId, message: '안녕하세요 webhook' }, offline_user_ids: [away.user_id] })
      expect(added.data).toEqual({ room: roomId, user_id: other.user_id })
      expect(removed.data).toEqual({ room: roomId, user_id: other.user_id })
      expect(reported.data).toMatchObject({ report: { message_id: messageId, user_id: owner.user_id, reason: 'spam' } })
      expect(new Set(all.map((r) => r.id)).size).toBe(all.length)
      await socket.close()
    })

    it("should send a room's changes as room.updated among its messages, and system messages with no sender", async () => {
      await receiver.script([])
      const service = { 'x-service-secret': SERVICE_SECRET }
      const roomId = await quietRoom('중고 거래')
      const before = await say(roomId, owner, '아직 팔리지 않았나요?')
      const data = { title: '자전거', price: 120000, status: '예약중' }
      const patched = await server.http(`/chat/v1/room/${roomId}/`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...service }, body: JSON.stringify({ data }) })
      expect(patched.status).toBe(200)
      expect((await server.post(`/chat/v1/message/`, { room: roomId, message: '예약중으로 바뀌었어요', kind: 'system', data: { event: 'reserved' } }, service)).status).toBe(201)
      const after = await say(roomId, owner, '내일 볼게요')
      const mine = await eventually(async () => {
        const got = (await events()).filter((e) => JSON.stringify(e.data).includes(`"room":${roomId}`) || (e.data.room as { id?: number } | undefined)?.id === roomId)
        expect(got.map((e) => e.type)).toEqual(['room.created', 'message.created', 'room.updated', 'message.created', 'message.created'])
        return got
      })
      expect((mine[1]!.data.message as { id: number }).id).toBe(before)
      expect(mine[2]!.data.room).toMatchObject({ id: roomId, data, status: 'active' })
      expect(mine[3]!.data.message).toMatchObject({ kind: 'system', user_id: null, data: { event: 'reserved' } })
      expect((mine[4]!.data.message as { id: number }).id).toBe(after)
    })

    it('should send each message.created as history reads it: from memory while the room is unchanged, read back once it changed', async () => {
      await receiver.script([])
      const service = { 'x-service-secret': SERVICE_SECRET }
      const sample = async (source: string) => {
        const line = (await (await server.http('/metrics')).text()).split('\n').find((l) => l.startsWith(`chat_webhook_messages_total{source="${source}"} `))
        return line ? Number(line.split(' ')[1]) : 0
      }
      const [memoryBefore, databaseBefore] = [await sample('memory'), await sample('database')]
      const roomId = await quietRoom('거래 문의')
      const history = async (): Promise<unknown[]> => (await json<{ id: number }[]>(await server.http(`/chat/v1/room/${roomId}/messages/?limit=100`, { headers: identityHeaders(owner) }))).toSorted((a, b) => a.id - b.id)
      const sent = async (ids: number[]) =>
        eventually(async () => {
          const got = (await events()).filter((e) => e.type === 'message.created' && ids.includes(e.data.message?.id ?? 0))
          // Once each (a retry repeats an id, which receivers dedupe by).
          const once = [...new Map(got.map((e) => [e.id, e.data.message as unknown])).values()]
          expect(once).toHaveLength(ids.length)
          return once
        })
      // Unchanged: a message, a reply quoting it, a system message.
      const first = await say(roomId, owner, '자전거 아직 있나요?')
      const reply = (await json(await server.post('/chat/v1/message/', { room: roomId, message: '네, 있어요', reply_to: first }, identityHeaders(member)))).id
      const system = (await json(await server.post('/chat/v1/message/', { room: roomId, message: '예약중으로 바뀌었어요', kind: 'system', data: { event: 'reserved' } }, service))).id
      const file = await server.http(`/chat/v1/uploads/?name=${encodeURIComponent('거래 안내.pdf')}`, { method: 'POST', headers: { ...identityHeaders(owner), 'content-type': 'application/pdf' }, body: '%PDF-1.7\n%%EOF\n' })
      expect(file.status).toBe(201)
      const withFile = (await json(await server.post('/chat/v1/message/', { room: roomId, message: '안내문이에요', attachments: [(await json<{ id: string }>(file)).id] }, identityHeaders(owner)))).id
      const inHistory = async (ids: number[]) => (await history()).filter((m) => ids.includes((m as { id: number }).id))
      // A file's URLs are signed afresh for each reader: compared without their signatures.
      const unsigned = (messages: unknown[]) => JSON.parse(JSON.stringify(messages).replace(/\?[^"]*(?=")/g, ''))
      expect(unsigned(await sent([first, reply, system, withFile]))).toEqual(unsigned(await inHistory([first, reply, system, withFile])))

      // Changed before its webhook went out: the receiver holds the next event while a message is sent, then edited.
      await receiver.script([{ delayMs: 700 }])
      const held = await say(roomId, owner, '내일 가능할까요?')
      await Bun.sleep(200)
      const edited = await say(roomId, owner, '오늘 저녁 가능할까요?')
      const patched = await server.http(`/chat/v1/room/${roomId}/messages/${edited}/`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json', ...identityHeaders(owner) },
        body: JSON.stringify({ message: '오늘 저녁 7시 가능할까요?' }),
      })
      expect(patched.status).toBe(200)
      const after = await say(roomId, member, '좋아요')
      const [heldSent, editedSent, afterSent] = await sent([held, edited, after])
      expect(editedSent).toMatchObject({ message: '오늘 저녁 7시 가능할까요?', edited_at: expect.any(String) })
      expect([heldSent, editedSent, afterSent]).toEqual(await inHistory([held, edited, after]))
      // Both ways were taken: the unchanged messages from memory, the ones after the edit read back.
      expect(await sample('memory')).toBeGreaterThan(memoryBefore)
      expect(await sample('database')).toBeGreaterThan(databaseBefore)
    })

    it('should retry 500s and timeouts until the receiver accepts, with the same id each time', async () => {
      const roomId = await quietRoom('retries')
      await receiver.script([{ status: 500 }, { delayMs: 1500 }, { status: 503 }])
      const before = (await receiver.received()).length
      const messageId = await say(roomId, owner, 'try, try again')
      const attempts = await eventually(async () => {
        const got = (await receiver.received()).slice(before).filter((r) => parse(r).data.message?.id === messageId)
        expect(got).toHaveLength(4)
        return got
      })
      expect(new Set(attempts.map((r) => r.id)).size).toBe(1)
      // Backing off: each wait longer than about half the last.
      const gaps = attempts.slice(1).map((r, i) => r.at - attempts[i]!.at)
      expect(gaps[0]).toBeGreaterThanOrEqual(40)
      await Bun.sleep(400)
      expect((await receiver.received()).slice(before).filter((r) => parse(r).data.message?.id === messageId)).toHaveLength(4)
    }, 20_000)

    it('should wait as long as Retry-After says', async () => {
      const roomId = await quietRoom('patience')
      await receiver.script([{ status: 429, retryAfter: '2' }])
      const before = (await receiver.received()).length
      const messageId = await say(roomId, owner, 'not so fast')
      const attempts = await eventually(async () => {
        const got = (await receiver.received()).slice(before).filter((r) => parse(r).data.message?.id === messageId)
        expect(got).toHaveLength(2)
        return got
      })
      expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(1900)
    }, 20_000)

    it('should dead-letter a permanent 4xx at once, list it for service calls, and go on with the room', async () => {
      const roomId = await quietRoom('gone')
      await receiver.script([{ status: 410 }])
      const before = (await receiver.received()).length
      const first = await say(roomId, owner, 'refused')
      const second = await say(roomId, owner, 'taken')
      await eventually(async () => expect((await receiver.received()).slice(before).map((r) => parse(r).data.message?.id)).toEqual([first, second]))
      const dead = await json<{ event_id: string; type: string; last_error: string; data: { message: { id: number } } }[]>(
        await server.http('/chat/v1/admin/webhooks/dead/', { headers: { 'x-service-secret': SERVICE_SECRET } }),
      )
      expect(dead.map((d) => d.data.message.id)).toContain(first)
      expect(dead.find((d) => d.data.message.id === first)?.last_error).toContain('410')
      expect((await server.http('/chat/v1/admin/webhooks/dead/', { headers: identityHeaders(owner) })).status).toBe(403)
      const metrics = await (await server.http('/metrics')).text()
      expect(metrics).toMatch(/chat_webhook_deliveries_total\{outcome="dead"\} [1-9]/)
      // The command line lists it and sends it again, with the id it had.
      const cli = (...args: string[]) => Bun.spawnSync([process.execPath, 'src/index.ts', 'webhooks', ...args], { env: { ...process.env, ...dbEnv, DATABASE_PATH: server.config.DATABASE_PATH, LOG_LEVEL: 'warn' } })
      const listed = cli('dead')
      expect(listed.exitCode).toBe(0)
      const lines = listed.stdout
        .toString()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { id: number; last_error: string })
      const row = lines.find((l) => l.last_error.includes('410'))!
      expect(row).toBeDefined()
      const deadId = dead.find((d) => d.data.message.id === first)!.event_id
      expect(cli('requeue', String(row.id)).exitCode).toBe(0)
      await eventually(async () => expect((await receiver.received()).filter((r) => r.id === deadId)).toHaveLength(2))
      expect(cli('requeue', 'nonsense').exitCode).toBe(2)
    }, 20_000)

    it('should lose nothing while the receiver is down, and keep each room in order', async () => {
      const rooms = [(await json(await server.post('/chat/v1/create-room/', { name: 'down a' }))).id, (await json(await server.post('/chat/v1/create-room/', { name: 'down b' }))).id]
      await receiver.stop()
      const sent: number[] = []
      for (let i = 0; i < 20; i++) sent.push(await say(rooms[i % 2]!, owner, `while down ${i}`))
      await Bun.sleep(1500)
      await receiver.start()
      await receiver.script([])
      const got = await eventually(async () => {
        const ids = (await receiver.received()).map(parse).flatMap((e) => (e.type === 'message.created' ? [e.data.message!] : []))
        expect(new Set(ids.map((m) => m.id))).toEqual(new Set(sent))
        return ids
      }, 20_000)
      for (const roomId of rooms) {
        const inRoom = got.filter((m) => m.room === roomId).map((m) => m.id)
        expect(inRoom).toEqual([...inRoom].sort((a, b) => a - b))
      }
    }, 30_000)

    it("should place a room's member events and reports among its messages as they happened, from a backlog too", async () => {
      // While the receiver is down everything waits: the order below comes from the store, not from
      // timing. (Its record starts again with it: room.created is sent at once, so it must be down by then.)
      await receiver.stop()
      const roomId = (await json(await server.post('/chat/v1/create-room/', { name: 'ordered', kind: 'private', members: [member.user_id] }, identityHeaders(owner)))).id
      const guest = user(`${tag}-guest`)
      const a = await say(roomId, owner, 'before the guest')
      expect((await server.post(`/chat/v1/room/${roomId}/members/`, { user_id: guest.user_id }, identityHeaders(owner))).status).toBe(201)
      const b = await say(roomId, guest, 'hello, I am the guest')
      expect((await server.post('/chat/v1/report/', { reason: 'rude', message_id: b }, identityHeaders(member))).status).toBe(201)
      expect((await server.http(`/chat/v1/room/${roomId}/members/${guest.user_id}/`, { method: 'DELETE', headers: identityHeaders(owner) })).status).toBe(204)
      const c = await say(roomId, owner, 'after the guest')
      await receiver.start()
      await receiver.script([])
      const inRoom = (e: Envelope) => e.data.room === roomId || (e.data.room as { id?: number } | undefined)?.id === roomId || (e.data.report as { room?: number } | undefined)?.room === roomId
      const story = await eventually(async () => {
        const got = (await events()).filter(inRoom).map((e) => (e.type === 'message.created' ? `message ${e.data.message!.id}` : e.type))
        expect(got).toHaveLength(7)
        return got
      }, 20_000)
      expect(story).toEqual(['room.created', `message ${a}`, 'member.added', `message ${b}`, 'report.created', 'member.removed', `message ${c}`])
    }, 30_000)

    it('should refuse reports of what the reporter cannot read, and bad reports', async () => {
      const secret = (await json(await server.post('/chat/v1/create-room/', { name: 'secret', kind: 'private', members: [] }, identityHeaders(owner)))).id
      const hidden = await say(secret, owner, 'members only')
      const outsider = user(`${tag}-outsider`)
      const post = (body: unknown, who: TestUser = outsider) => server.post('/chat/v1/report/', body, identityHeaders(who))
      expect((await post({ reason: 'x', message_id: hidden })).status).toBe(403)
      expect((await post({ reason: 'x', message_id: 999_999_999 })).status).toBe(404)
      // A user id is taken whether or not the server has seen it: the answer tells nothing about who exists.
      expect((await post({ reason: 'x', user_id: 'never-seen-anywhere' })).status).toBe(201)
      expect((await post({ reason: 'x' })).status).toBe(422)
      expect((await post({ reason: '', user_id: owner.user_id })).status).toBe(422)
      expect((await post({ reason: 'x'.repeat(501), user_id: owner.user_id })).status).toBe(422)
      expect((await post({ reason: 'x', user_id: member.user_id, message_id: hidden }, owner)).status).toBe(422)
      expect((await post({ reason: 'me', user_id: owner.user_id }, owner)).status).toBe(400)
      expect((await server.post('/chat/v1/report/', { reason: 'x', user_id: owner.user_id })).status).toBe(401)
      const ok = await post({ reason: 'rude', user_id: owner.user_id })
      expect(ok.status).toBe(201)
      const listed = await json<{ reporter: string; user_id: string }[]>(await server.http('/chat/v1/admin/reports/?limit=200', { headers: { 'x-service-secret': SERVICE_SECRET } }))
      expect(listed).toContainEqual(expect.objectContaining({ reporter: outsider.user_id, user_id: owner.user_id }))
    })
  })
}
