import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES, startStoreServer } from './support/cluster.ts'
import { identityHeaders, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket, type Frame } from './support/socket.ts'
import { eventually, startReceiver, type Receiver } from './support/webhooks.ts'

// Moderation on both stores: moderators named by the app's backend; mutes (with and without an
// end) and bans, refused where the write commits on REST and sockets alike; slow mode; word
// filters that refuse, mask and flag; the contact guard's notice and webhook; unsends by
// moderators; the audit log; and the report queue with each report's context.

const SERVICE_SECRET = 'the-app-backend-secret-0123456789'
const service = { 'x-service-secret': SERVICE_SECRET }
const user = (id: string): TestUser => ({ user_id: id, nickname: `${id}님`, email: `${id}@example.com` })
const mod = user('mod')
const seller = user('seller')
const buyer = user('buyer')
const owner = user('owner')

type Problem = { code: string; retry_after?: number; errors?: { path: string }[] }
type Message = { id: number; message: string; version: number; user_id: string | null }
type Hook = { type: string; data: Record<string, unknown> }

for (const store of STORES) {
  describe(`moderation on ${store.name}`, () => {
    let server: TestServer
    let receiver: Receiver

    beforeAll(async () => {
      receiver = await startReceiver()
      server = await startStoreServer(store, { SERVICE_SECRET, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET: 'webhook-secret-of-the-app-backend', WEBHOOK_RETRY_MIN_MS: '100' })
      // A moderator of every room, named by the app's backend.
      expect((await put('/chat/v1/admin/moderators/mod/', {}, service)).status).toBe(200)
    })
    afterAll(async () => {
      await server?.destroy()
      await receiver?.stop()
    })

    const json = async <T>(res: Promise<Response> | Response, status: number): Promise<T> => {
      const answer = await res
      const text = await answer.text()
      if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status}: ${text}`)
      return (text === '' ? null : JSON.parse(text)) as T
    }
    const call = (method: string, path: string, body: unknown, headers: Record<string, string>) =>
      server.http(path, { method, headers: { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
    const put = (path: string, body: unknown, headers: Record<string, string>) => call('PUT', path, body, headers)
    const del = (path: string, headers: Record<string, string>) => server.http(path, { method: 'DELETE', headers })
    const send = (roomId: number, who: TestUser, message: string) => server.post('/chat/v1/message/', { room: roomId, message }, identityHeaders(who))
    const sent = async (roomId: number, who: TestUser, message: string) => json<Message>(send(roomId, who, message), 201)
    const openRoom = async (name = '중고거래 채팅') => (await json<{ id: number }>(server.post('/chat/v1/create-room/', { name }), 201)).id
    const hooks = async () => (await receiver.received()).map((r) => JSON.parse(r.body) as Hook)
    const audit = (query: string) => json<{ action: string; actor: string | null; user_id: string | null; room: number | null; data: unknown }[]>(server.http(`/chat/v1/admin/audit/?${query}`, { headers: service }), 200)

    it('should let only the backend name moderators, and moderators and private owners moderate', async () => {
      expect((await put('/chat/v1/admin/moderators/x/', {}, identityHeaders(mod))).status).toBe(403)
      expect(await json(server.http('/chat/v1/admin/moderators/mod/', { headers: service }), 200)).toEqual({ user_id: 'mod', rooms: null })
      const roomId = await openRoom()
      const scoped = user('scoped-mod')
      expect(await json(put(`/chat/v1/admin/moderators/${scoped.user_id}/`, { rooms: [roomId] }, service), 200)).toEqual({ user_id: scoped.user_id, rooms: [roomId] })
      const other = await openRoom()
      // A moderator of one room moderates only there.
      expect((await put(`/chat/v1/room/${roomId}/mutes/${buyer.user_id}/`, undefined, identityHeaders(scoped))).status).toBe(204)
      expect((await json<Problem>(put(`/chat/v1/room/${other}/mutes/${buyer.user_id}/`, undefined, identityHeaders(scoped)), 403)).code).toBe('not_moderator')
      // Users are not moderators; nobody mutes themselves.
      expect((await json<Problem>(put(`/chat/v1/room/${roomId}/mutes/${seller.user_id}/`, undefined, identityHeaders(buyer)), 403)).code).toBe('not_moderator')
      expect((await json<Problem>(put(`/chat/v1/room/${roomId}/mutes/mod/`, undefined, identityHeaders(mod)), 400)).code).toBe('same_user')
      // Room detail tells each caller their own standing.
      const detail = (who: TestUser) => json<{ moderation: { moderator: boolean; muted: boolean; muted_until: string | null } }>(server.http(`/chat/v1/room/${roomId}/`, { headers: identityHeaders(who) }), 200)
      expect((await detail(scoped)).moderation).toEqual({ moderator: true, muted: false, muted_until: null })
      expect((await detail(buyer)).moderation).toEqual({ moderator: false, muted: true, muted_until: null })
      // A private room's owner moderates their room.
      const priv = (await json<{ id: number }>(server.post('/chat/v1/create-room/', { name: '팀', kind: 'private', members: [buyer.user_id] }, identityHeaders(owner)), 201)).id
      expect((await detail(owner)).moderation.moderator).toBe(false)
      expect((await put(`/chat/v1/room/${priv}/mutes/${buyer.user_id}/`, undefined, identityHeaders(owner))).status).toBe(204)
      expect((await del(`/admin/moderators/${scoped.user_id}/`, service)).status).toBe(404)
      expect((await del(`/chat/v1/admin/moderators/${scoped.user_id}/`, service)).status).toBe(204)
      expect((await json<Problem>(put(`/chat/v1/room/${roomId}/mutes/${seller.user_id}/`, undefined, identityHeaders(scoped)), 403)).code).toBe('not_moderator')
      const actions = (await audit(`user=${scoped.user_id}`)).map((a) => a.action)
      expect(actions).toEqual(['moderator.set', 'moderator.removed'])
    })

    it('should keep a muted user reading but not sending, editing or reacting, on REST and sockets, until unmuted or the end', async () => {
      const roomId = await openRoom()
      const before = await sent(roomId, buyer, '이거 아직 있나요?')
      const socket = await TestSocket.connect(server, roomId, buyer)
      await socket.barrier()
      expect((await put(`/chat/v1/room/${roomId}/mutes/${buyer.user_id}/`, undefined, identityHeaders(mod))).status).toBe(204)
      expect((await json<Problem>(send(roomId, buyer, '왜 안 돼요'), 403)).code).toBe('muted')
      // A file sent while muted is refused with the message, and stays the sender's to send later.
      const pdf = new TextEncoder().encode('%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n')
      const upload = await json<{ id: string }>(server.http('/chat/v1/uploads/?name=invoice.pdf', { method: 'POST', headers: { ...identityHeaders(buyer), 'content-type': 'application/pdf' }, body: pdf }), 201)
      const withFile = { room: roomId, message: '견적서 보내드려요', attachments: [upload.id] }
      expect((await json<Problem>(server.post('/chat/v1/message/', withFile, identityHeaders(buyer)), 403)).code).toBe('muted')
      expect((await json<Problem>(call('PATCH', `/chat/v1/room/${roomId}/messages/${before.id}/`, { message: '수정' }, identityHeaders(buyer)), 403)).code).toBe('muted')
      expect((await json<Problem>(put(`/chat/v1/room/${roomId}/messages/${before.id}/reactions/${encodeURIComponent('👍')}/`, undefined, identityHeaders(buyer)), 403)).code).toBe('muted')
      socket.sendMessage('소켓으로 보내기')
      expect(await socket.next((f) => f.type === 'chat.error' && f.code === 'muted')).toMatchObject({ code: 'muted' })
      // What a muted user types is not announced either (their socket learnt of the mute from the refusal).
      const watcher = await TestSocket.connect(server, roomId, seller)
      await watcher.barrier()
      socket.send({ type: 'chat.typing' })
      await socket.barrier()
      await watcher.barrier()
      expect(watcher.all('chat.typing')).toEqual([])
      // Reading goes on.
      expect((await server.http(`/chat/v1/room/${roomId}/messages/`, { headers: identityHeaders(buyer) })).status).toBe(200)
      // Others still send.
      await sent(roomId, seller, '네 있어요')
      expect((await json<{ user_id: string; until: string | null; by: string }[]>(server.http(`/chat/v1/room/${roomId}/mutes/`, { headers: identityHeaders(mod) }), 200)).map((m) => [m.user_id, m.until, m.by])).toEqual([
        [buyer.user_id, null, 'mod'],
      ])
      expect((await del(`/chat/v1/room/${roomId}/mutes/${buyer.user_id}/`, identityHeaders(mod))).status).toBe(204)
      expect((await json<Problem>(del(`/chat/v1/room/${roomId}/mutes/${buyer.user_id}/`, identityHeaders(mod)), 404)).code).toBe('not_muted')
      await sent(roomId, buyer, '감사합니다')
      // Unmuted, a send from the socket goes, and so does its typing again.
      socket.sendMessage('이제 보내져요')
      await watcher.next((f) => f.type === 'chat.message' && f.message === '이제 보내져요')
      socket.send({ type: 'chat.typing' })
      expect(await watcher.next('chat.typing')).toMatchObject({ user_id: buyer.user_id })
      await watcher.close()
      expect((await json<{ attachments: { id: string }[] }>(server.post('/chat/v1/message/', withFile, identityHeaders(buyer)), 201)).attachments.map((f) => f.id)).toEqual([upload.id])

      // A mute with an end says when, and ends by itself.
      expect((await json<Problem>(put(`/chat/v1/room/${roomId}/mutes/${buyer.user_id}/`, { until: new Date(Date.now() - 1000).toISOString() }, identityHeaders(mod)), 422)).code).toBe('validation_failed')
      const until = Date.now() + 1500
      expect((await put(`/chat/v1/room/${roomId}/mutes/${buyer.user_id}/`, { until: new Date(until).toISOString() }, identityHeaders(mod))).status).toBe(204)
      const refused = await send(roomId, buyer, '아직?')
      expect(refused.status).toBe(403)
      const problem = (await refused.json()) as Problem
      expect(problem.code).toBe('muted')
      expect(problem.retry_after).toBeGreaterThanOrEqual(1)
      expect(Number(refused.headers.get('retry-after'))).toBe(problem.retry_after!)
      socket.sendMessage('소켓도?')
      expect(await socket.next((f) => f.type === 'chat.error' && f.code === 'muted' && f.retry_after !== undefined)).toMatchObject({ code: 'muted' })
      await Bun.sleep(Math.max(0, until - Date.now()) + 50)
      await sent(roomId, buyer, '이제 돼요')
      await socket.close()
      const actions = (await audit(`room=${roomId}`)).map((a) => `${a.action}:${a.user_id}:${a.actor}`)
      expect(actions).toEqual([`mute:${buyer.user_id}:mod`, `unmute:${buyer.user_id}:mod`, `mute:${buyer.user_id}:mod`])
    })

    it("should close a banned user's sockets with 4403 banned, refuse their handshakes and writes, and end a private membership", async () => {
      const roomId = await openRoom()
      await sent(roomId, buyer, '안녕하세요')
      const [first, second, watcher] = await Promise.all([TestSocket.connect(server, roomId, buyer), TestSocket.connect(server, roomId, buyer), TestSocket.connect(server, roomId, seller)])
      await Promise.all([first.barrier(), second.barrier(), watcher.barrier()])
      expect((await put(`/chat/v1/room/${roomId}/bans/${buyer.user_id}/`, undefined, identityHeaders(mod))).status).toBe(204)
      expect(await first.closed).toEqual({ code: 4403, reason: 'banned' })
      expect(await second.closed).toEqual({ code: 4403, reason: 'banned' })
      expect((await json<Problem>(send(roomId, buyer, '다시'), 403)).code).toBe('banned')
      const handshake = await fetch(`${server.base}/ws/chat/${roomId}/chat/?${new URLSearchParams({ ...buyer })}`, {
        headers: { upgrade: 'websocket', connection: 'Upgrade', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' },
      })
      expect(handshake.status).toBe(403)
      expect(((await handshake.json()) as Problem).code).toBe('banned')
      // Reading the room says the same (a browser, which cannot read a refused handshake's status, asks so).
      for (const path of [`/chat/v1/room/${roomId}/`, `/chat/v1/room/${roomId}/messages/`]) expect((await json<Problem>(server.http(path, { headers: identityHeaders(buyer) }), 403)).code).toBe('banned')
      // The others stay.
      await sent(roomId, seller, '계속 대화해요')
      expect(await watcher.next('chat.message')).toMatchObject({ message: '계속 대화해요' })
      expect(await json<{ user_id: string }[]>(server.http(`/chat/v1/room/${roomId}/bans/`, { headers: service }), 200)).toMatchObject([{ user_id: buyer.user_id }])
      expect((await del(`/chat/v1/room/${roomId}/bans/${buyer.user_id}/`, identityHeaders(mod))).status).toBe(204)
      const back = await TestSocket.connect(server, roomId, buyer)
      await back.barrier()
      await sent(roomId, buyer, '돌아왔어요')
      await Promise.all([back.close(), watcher.close()])

      // A private room: the ban ends the membership; its owner cannot be banned.
      const priv = (await json<{ id: number }>(server.post('/chat/v1/create-room/', { name: '팀', kind: 'private', members: [buyer.user_id, seller.user_id] }, identityHeaders(owner)), 201)).id
      const member = await TestSocket.connect(server, priv, buyer)
      await member.barrier()
      expect((await json<Problem>(put(`/chat/v1/room/${priv}/bans/${owner.user_id}/`, undefined, identityHeaders(mod)), 409)).code).toBe('owner')
      expect((await put(`/chat/v1/room/${priv}/bans/${buyer.user_id}/`, undefined, identityHeaders(owner))).status).toBe(204)
      expect(await member.closed).toEqual({ code: 4403, reason: 'banned' })
      const members = await json<{ user_id: string }[]>(server.http(`/chat/v1/room/${priv}/members/`, { headers: identityHeaders(owner) }), 200)
      expect(members.map((m) => m.user_id).sort()).toEqual([owner.user_id, seller.user_id].sort())
      // No longer a member: refused at the door, before the ban is looked at.
      expect((await json<Problem>(send(priv, buyer, '나가기 싫어요'), 403)).code).toBe('not_a_member')
      // Added back by the owner while still banned: a member who cannot write there.
      await json(server.post(`/chat/v1/room/${priv}/members/`, { user_id: buyer.user_id }, identityHeaders(owner)), 201)
      expect((await json<Problem>(send(priv, buyer, '다시 왔어요'), 403)).code).toBe('banned')
      await eventually(async () => expect((await hooks()).some((h) => h.type === 'member.removed' && h.data.room === priv && h.data.user_id === buyer.user_id)).toBe(true))
      expect((await audit(`room=${priv}&user=${buyer.user_id}`)).map((a) => a.action)).toEqual(['ban'])
    })

    it('should keep a banned user out of a room found again by creating it: an open room about a post, and their direct room', async () => {
      const postId = 7_000 + Math.floor(Math.random() * 1_000_000)
      const open = await json<{ id: number }>(server.post('/chat/v1/create-room/', { name: '자전거 팝니다', post_id: postId }, identityHeaders(seller)), 201)
      await sent(open.id, seller, '네고 가능해요')
      expect((await put(`/chat/v1/room/${open.id}/bans/${buyer.user_id}/`, undefined, identityHeaders(mod))).status).toBe(204)
      await sent(open.id, seller, '밴 이후의 메시지')
      // Asking to create the post's room finds it: the same refusal as reading it, and nothing of it.
      const refusedOpen = await json<Problem & { chat_messages?: unknown }>(server.post('/chat/v1/create-room/', { name: '자전거 팝니다', post_id: postId }, identityHeaders(buyer)), 403)
      expect(refusedOpen).toMatchObject({ code: 'banned' })
      expect(refusedOpen.chat_messages).toBeUndefined()
      // Anyone else still finds it, with its messages.
      const found = await json<{ id: number; chat_messages: Message[] }>(server.post('/chat/v1/create-room/', { name: '자전거 팝니다', post_id: postId }, identityHeaders(owner)), 200)
      expect([found.id, found.chat_messages.map((m) => m.message)]).toEqual([open.id, ['네고 가능해요', '밴 이후의 메시지']])

      // A direct room about the post: the ban ends the buyer's place in it.
      const direct = await json<{ id: number }>(server.post('/chat/v1/direct-room/', { user_id: seller.user_id, post_id: postId }, identityHeaders(buyer)), 201)
      await sent(direct.id, buyer, '아직 있나요?')
      expect((await put(`/chat/v1/room/${direct.id}/bans/${buyer.user_id}/`, undefined, identityHeaders(mod))).status).toBe(204)
      await sent(direct.id, seller, '차단된 분께는 보이면 안 돼요')
      const refusedDirect = await json<Problem & { chat_messages?: unknown }>(server.post('/chat/v1/direct-room/', { user_id: seller.user_id, post_id: postId }, identityHeaders(buyer)), 403)
      expect(refusedDirect).toMatchObject({ code: 'not_a_member' })
      expect(refusedDirect.chat_messages).toBeUndefined()
      // As reading it directly answers.
      expect((await json<Problem>(server.http(`/chat/v1/room/${direct.id}/`, { headers: identityHeaders(buyer) }), 403)).code).toBe('not_a_member')
      // The seller still finds their side of it.
      const sellers = await json<{ id: number; chat_messages: Message[] }>(server.post('/chat/v1/direct-room/', { user_id: buyer.user_id, post_id: postId }, identityHeaders(seller)), 200)
      expect([sellers.id, sellers.chat_messages.map((m) => m.message)]).toEqual([direct.id, ['아직 있나요?', '차단된 분께는 보이면 안 돼요']])
    })

    it('should hold each user to one message per slow_mode_seconds, on REST and sockets, but not moderators', async () => {
      const roomId = await openRoom()
      expect((await json<Problem>(call('PATCH', `/chat/v1/room/${roomId}/`, { slow_mode_seconds: 2 }, identityHeaders(buyer)), 403)).code).toBe('not_moderator')
      const room = await json<{ slow_mode_seconds: number }>(call('PATCH', `/chat/v1/room/${roomId}/`, { slow_mode_seconds: 2 }, identityHeaders(mod)), 200)
      expect(room.slow_mode_seconds).toBe(2)
      const listed = await json<{ id: number; slow_mode_seconds: number }[]>(server.http('/chat/v1/rooms/?limit=200'), 200)
      expect(listed.find((r) => r.id === roomId)?.slow_mode_seconds).toBe(2)
      await sent(roomId, buyer, '첫 메시지')
      const refused = await send(roomId, buyer, '두 번째')
      expect(refused.status).toBe(429)
      const problem = (await refused.json()) as Problem
      expect(problem).toMatchObject({ code: 'slow_mode' })
      expect(problem.retry_after).toBeGreaterThanOrEqual(1)
      expect(problem.retry_after).toBeLessThanOrEqual(2)
      const socket = await TestSocket.connect(server, roomId, buyer)
      await socket.barrier()
      socket.sendMessage('소켓으로')
      const error = await socket.next((f) => f.type === 'chat.error' && f.code !== 'unknown_type')
      expect(error).toMatchObject({ code: 'slow_mode' })
      expect(error.retry_after).toBeGreaterThanOrEqual(1)
      // Others and moderators are not held back by the buyer's sends; a moderator not at all.
      await sent(roomId, seller, '판매자는 보낼 수 있어요')
      await sent(roomId, mod, '공지 1')
      await sent(roomId, mod, '공지 2')
      // Sends racing each other: one goes in per window, however many arrive at once.
      const racing = user('racer')
      const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => send(roomId, racing, `동시에 ${i}`)))
      expect(answers.map((a) => a.status).sort()).toEqual([201, 429, 429, 429, 429, 429, 429, 429])
      await Bun.sleep(2100)
      await sent(roomId, buyer, '이제 두 번째')
      // Off again.
      await json(call('PATCH', `/chat/v1/room/${roomId}/`, { slow_mode_seconds: 0 }, service), 200)
      await sent(roomId, buyer, '연속 1')
      await sent(roomId, buyer, '연속 2')
      await socket.close()
    })

    it('should apply word filters to messages, edits and room names: refuse, mask keeping the text as written, flag with a webhook', async () => {
      const roomId = await openRoom()
      const scoped = await openRoom()
      expect((await put('/chat/v1/admin/filters/', [{ pattern: 'x', action: 'refuse' }], identityHeaders(mod))).status).toBe(403)
      expect((await json<Problem>(put('/chat/v1/admin/filters/', [{ pattern: '(', regex: true, action: 'refuse' }], service), 422)).errors?.[0]?.path).toBe('0.pattern')
      const filters = [
        { pattern: '사기꾼', action: 'refuse' },
        { pattern: '바보', action: 'mask' },
        { pattern: '직거래\\s*만', regex: true, action: 'flag' },
        { pattern: '여기만', action: 'refuse', rooms: [scoped] },
      ]
      const stored = await json<{ pattern: string; rooms: number[] | null }[]>(put('/chat/v1/admin/filters/', filters, service), 200)
      expect(stored.map((f) => f.pattern)).toEqual(filters.map((f) => f.pattern))
      expect(await json(server.http('/chat/v1/admin/filters/', { headers: service }), 200)).toEqual(stored)

      expect((await json<Problem>(send(roomId, buyer, '너 사기꾼이지'), 422)).code).toBe('filtered')
      const socket = await TestSocket.connect(server, roomId, buyer)
      await socket.barrier()
      socket.sendMessage('사기꾼!')
      expect(await socket.next((f) => f.type === 'chat.error' && f.code !== 'unknown_type')).toMatchObject({ code: 'filtered' })
      const masked = await sent(roomId, buyer, '바보 같은 가격이네요')
      expect(masked.message).toBe('•• 같은 가격이네요')
      const history = await json<{ message: string; action: string }[]>(server.http(`/chat/v1/admin/messages/${masked.id}/history/`, { headers: service }), 200)
      expect(history[0]).toMatchObject({ message: '바보 같은 가격이네요', action: 'created' })
      const flagged = await sent(roomId, seller, '직거래 만 해요')
      expect(flagged.message).toBe('직거래 만 해요')
      const hook = await eventually(async () => {
        const found = (await hooks()).find((h) => h.type === 'message.flagged' && (h.data.message as Message).id === flagged.id)
        expect(found).toBeDefined()
        return found!
      })
      expect(hook.data.reasons).toEqual([{ source: 'word_filter', pattern: '직거래\\s*만', action: 'flag' }])
      // Edits are screened like messages.
      const edited = await json<{ message: string }>(call('PATCH', `/chat/v1/room/${roomId}/messages/${masked.id}/`, { message: '바보라니 죄송해요' }, identityHeaders(buyer)), 200)
      expect(edited.message).toBe('••라니 죄송해요')
      expect((await json<Problem>(call('PATCH', `/chat/v1/room/${roomId}/messages/${masked.id}/`, { message: '사기꾼' }, identityHeaders(buyer)), 422)).code).toBe('filtered')
      // Scoped filters apply in their rooms only; room names are screened.
      await sent(roomId, buyer, '여기만 돼요')
      expect((await json<Problem>(send(scoped, buyer, '여기만 돼요'), 422)).code).toBe('filtered')
      expect((await json<Problem>(server.post('/chat/v1/create-room/', { name: '사기꾼 모임' }), 422)).code).toBe('filtered')
      expect((await audit('')).some((a) => a.action === 'filters.replaced')).toBe(true)
      await json(put('/chat/v1/admin/filters/', [], service), 200)
      await sent(roomId, buyer, '사기꾼이라는 말도 이제 돼요')
      await socket.close()
    })

    it("should warn the room's other sockets of contacts shared (not the sender), and flag them to the backend", async () => {
      const roomId = await openRoom('아이폰 15 프로 팝니다')
      const [from, to] = await Promise.all([TestSocket.connect(server, roomId, seller), TestSocket.connect(server, roomId, buyer)])
      await Promise.all([from.barrier(), to.barrier()])
      const ordinary = await sent(roomId, seller, '아이폰 15 프로 256GB 95만원, 12월 24일 오후 3시 강남역 11번 출구')
      const contact = await sent(roomId, seller, '문자 주세요 공일공 일이삼사 오육칠팔')
      expect(contact.message).toBe('문자 주세요 공일공 일이삼사 오육칠팔')
      // Right after the message it is about, to the others only.
      const heard: Frame[] = []
      heard.push(await to.next('chat.message'), await to.next('chat.message'), await to.next('chat.notice'))
      expect(heard.map((f) => f.id ?? f.message_id)).toEqual([ordinary.id, contact.id, contact.id])
      expect(heard[2]).toEqual({ type: 'chat.notice', code: 'contact_shared', message_id: contact.id, kinds: ['phone'] })
      await sent(roomId, buyer, '네')
      await from.next((f) => f.type === 'chat.message' && f.message === '네')
      expect(from.all('chat.notice')).toEqual([])
      // An edit that adds a contact is warned of too.
      await json(call('PATCH', `/chat/v1/room/${roomId}/messages/${ordinary.id}/`, { message: '입금은 국민 123456-78-901234 로 해주세요' }, identityHeaders(seller)), 200)
      await to.next('chat.message.updated')
      expect(await to.next('chat.notice')).toMatchObject({ message_id: ordinary.id, kinds: ['bank_account'] })
      const flagged = await eventually(async () => {
        const found = (await hooks()).filter((h) => h.type === 'message.flagged' && h.data.room === roomId)
        expect(found).toHaveLength(2)
        return found
      })
      expect(flagged.map((h) => h.data.reasons)).toEqual([[{ source: 'contact_guard', kinds: ['phone'] }], [{ source: 'contact_guard', kinds: ['bank_account'] }]])
      expect(flagged[0]!.data.original).toBeNull()
      await Promise.all([from.close(), to.close()])
    })

    it("should let moderators unsend anyone's message, with an audit entry, and no one else", async () => {
      const roomId = await openRoom()
      const message = await sent(roomId, buyer, '카톡으로 연락 주세요')
      expect((await json<Problem>(del(`/chat/v1/room/${roomId}/messages/${message.id}/`, identityHeaders(seller)), 403)).code).toBe('not_author')
      expect((await del(`/chat/v1/room/${roomId}/messages/${message.id}/`, identityHeaders(mod))).status).toBe(204)
      const page = await json<{ id: number; deleted?: boolean }[]>(server.http(`/chat/v1/room/${roomId}/messages/`), 200)
      expect(page.find((m) => m.id === message.id)?.deleted).toBe(true)
      expect((await audit(`room=${roomId}`)).map((a) => [a.action, a.actor, a.user_id])).toEqual([['message.unsent', 'mod', buyer.user_id]])
    })

    it('should queue reports with the message and ten messages on each side, to resolve or dismiss', async () => {
      const roomId = await openRoom()
      const ids: number[] = []
      for (let i = 0; i < 25; i++) ids.push((await sent(roomId, i === 12 ? buyer : seller, i === 12 ? '선입금 먼저 해주세요' : `메시지 ${i}`)).id)
      const reported = ids[12]!
      const report = await json<{ id: number; status: string }>(server.post('/chat/v1/report/', { message_id: reported, reason: '선입금 요구' }, identityHeaders(seller)), 201)
      expect(report.status).toBe('open')
      const byUser = await json<{ id: number }>(server.post('/chat/v1/report/', { user_id: 'someone', reason: '욕설' }, identityHeaders(seller)), 201)
      type Queued = { id: number; status: string; message: Message | null; context: { before: Message[]; after: Message[] } | null }
      const open = await json<Queued[]>(server.http('/chat/v1/admin/reports/?status=open&limit=200', { headers: service }), 200)
      const queued = open.find((r) => r.id === report.id)!
      expect(queued.message?.id).toBe(reported)
      expect(queued.context!.before.map((m) => m.id)).toEqual(ids.slice(2, 12))
      expect(queued.context!.after.map((m) => m.id)).toEqual(ids.slice(13, 23))
      expect(open.find((r) => r.id === byUser.id)).toMatchObject({ message: null, context: null })
      expect((await json<Problem>(call('PATCH', `/chat/v1/admin/reports/${report.id}/`, { status: 'resolved' }, identityHeaders(mod)), 403)).code).toBe('service_call_required')
      const resolved = await json<{ status: string; closed_at: string | null }>(call('PATCH', `/chat/v1/admin/reports/${report.id}/`, { status: 'resolved' }, service), 200)
      expect(resolved.status).toBe('resolved')
      expect(resolved.closed_at).not.toBeNull()
      await json(call('PATCH', `/chat/v1/admin/reports/${byUser.id}/`, { status: 'dismissed' }, service), 200)
      const still = await json<Queued[]>(server.http('/chat/v1/admin/reports/?status=open&limit=200', { headers: service }), 200)
      expect(still.map((r) => r.id)).not.toContain(report.id)
      expect((await json<Queued[]>(server.http('/chat/v1/admin/reports/?status=resolved&limit=200', { headers: service }), 200)).map((r) => r.id)).toContain(report.id)
      expect((await json<Problem>(call('PATCH', '/chat/v1/admin/reports/999999/', { status: 'dismissed' }, service), 404)).code).toBe('report_not_found')
      const actions = (await audit(`room=${roomId}`)).map((a) => a.action)
      expect(actions).toContain('report.resolved')
    })
  })
}

describe('contact guard modes', () => {
  for (const store of STORES) {
    it(`should mask contacts (keeping the text as written for service calls) with CONTACT_GUARD=mask, and leave them alone with off, on ${store.name}`, async () => {
      const masking = await startStoreServer(store, { SERVICE_SECRET, CONTACT_GUARD: 'mask' })
      try {
        const roomId = ((await (await masking.post('/chat/v1/create-room/', { name: '거래' })).json()) as { id: number }).id
        const listener = await TestSocket.connect(masking, roomId, buyer)
        await listener.barrier()
        const res = await masking.post('/chat/v1/message/', { room: roomId, message: '연락처 010-1234-5678 입니다' }, identityHeaders(seller))
        const message = (await res.json()) as Message
        expect(message.message).toBe('연락처 ••••••••••••• 입니다')
        const history = (await (await masking.http(`/chat/v1/admin/messages/${message.id}/history/`, { headers: service })).json()) as { message: string }[]
        expect(history[0]!.message).toBe('연락처 010-1234-5678 입니다')
        expect((await listener.next('chat.message')).message).toBe('연락처 ••••••••••••• 입니다')
        await listener.barrier()
        expect(listener.all('chat.notice')).toEqual([])
        await listener.close()
      } finally {
        await masking.destroy()
      }
      const off = await startStoreServer(store, { CONTACT_GUARD: 'off' })
      try {
        const roomId = ((await (await off.post('/chat/v1/create-room/', { name: '거래' })).json()) as { id: number }).id
        const listener = await TestSocket.connect(off, roomId, buyer)
        await listener.barrier()
        await off.post('/chat/v1/message/', { room: roomId, message: '010-1234-5678' }, identityHeaders(seller))
        expect((await listener.next('chat.message')).message).toBe('010-1234-5678')
        await listener.barrier()
        expect(listener.all('chat.notice')).toEqual([])
        await listener.close()
      } finally {
        await off.destroy()
      }
    })
  }
})
