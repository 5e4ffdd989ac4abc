import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES, startStoreServer } from './support/cluster.ts'
import { identityHeaders, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket, type Frame } from './support/socket.ts'

// Rooms that know their post: the room's data and status (PATCH, chat.room.updated in the room's
// order), system messages, post-wide events that archive every room about a post, and hiding and
// leaving rooms (나가기), with the inbox, the badge and the user stream agreeing throughout.

const SERVICE_SECRET = 'the-app-backend-secret-0123456789'
const service = { 'x-service-secret': SERVICE_SECRET }
const seller: TestUser = { user_id: 'u-seller', nickname: '판매자', email: 'seller@example.com' }
const buyer1: TestUser = { user_id: 'u-buyer1', nickname: '구매자1', email: 'b1@example.com' }
const buyer2: TestUser = { user_id: 'u-buyer2', nickname: '구매자2', email: 'b2@example.com' }
const post = { title: '아이폰 15 프로 256GB', price: 950000, thumbnail: 'https://cdn.example.com/posts/31.jpg', status: '판매중' }

type Summary = { id: number; status: string; data: Record<string, unknown> | null; name: string; post_id: number | null }

for (const store of STORES) {
  describe(`post context on ${store.name}`, () => {
    let server: TestServer
    let postId = 500

    beforeAll(async () => {
      server = await startStoreServer(store, { SERVICE_SECRET })
    })
    afterAll(() => server?.destroy())

    const json = async <T>(res: Promise<Response> | Response, status: number): Promise<T> => {
      const answer = await res
      const text = await answer.text()
      if (answer.status !== status) throw new Error(`expected ${status}, got ${answer.status}: ${text}`)
      return (text === '' ? null : JSON.parse(text)) as T
    }
    const patch = (roomId: number, body: unknown, headers: Record<string, string>) =>
      server.http(`/chat/v1/room/${roomId}/`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })
    const send = (roomId: number, user: TestUser, message: string) => server.post('/chat/v1/message/', { room: roomId, message }, identityHeaders(user))
    const unread = (user: TestUser) => json<{ total: number; rooms: number }>(server.http('/chat/v1/unread/', { headers: identityHeaders(user) }), 200)
    const inboxIds = async (user: TestUser) => (await json<{ rooms: Summary[] }>(server.http('/chat/v1/inbox/', { headers: identityHeaders(user) }), 200)).rooms.map((r) => r.id)
    const hide = (roomId: number, user: TestUser, leave = false) => server.http(`/chat/v1/inbox/${roomId}/${leave ? '?leave=true' : ''}`, { method: 'DELETE', headers: identityHeaders(user) })
    /** A direct room of `buyer` and the seller about a new post, with the post's data set by the backend. */
    const directRoom = async (buyer: TestUser, id = ++postId) =>
      (await json<Summary>(server.post('/chat/v1/create-room/', { name: '아이폰 거래', kind: 'direct', members: [seller.user_id, buyer.user_id], post_id: id, data: post }, service), 201)).id

    it("should keep the post's data on a room, set only by the app's backend, and tell the room in its order", async () => {
      const roomId = await directRoom(buyer1)
      const detail = await json<Summary & { version: number }>(server.http(`/chat/v1/room/${roomId}/`, { headers: identityHeaders(buyer1) }), 200)
      expect(detail.data).toEqual(post)
      expect(detail.status).toBe('active')
      // Users cannot set data or status, not even their own room's.
      expect((await patch(roomId, { data: { price: 1 } }, identityHeaders(seller))).status).toBe(403)
      expect((await server.post('/chat/v1/direct-room/', { user_id: buyer2.user_id, post_id: 999, data: { price: 1 } }, identityHeaders(seller))).status).toBe(403)
      // Bounded: ROOM_DATA_BYTES (4096) of JSON.
      expect((await patch(roomId, { data: { blob: 'x'.repeat(5000) } }, service)).status).toBe(422)
      expect((await patch(roomId, {}, service)).status).toBe(422)

      const socket = await TestSocket.connect(server, roomId, buyer1)
      await socket.barrier()
      expect((await send(roomId, seller, '네 아직 있어요')).status).toBe(201)
      const reserved = { ...post, status: '예약중' }
      const changed = await json<Summary & { version: number }>(patch(roomId, { data: reserved }, service), 200)
      expect(changed.data).toEqual(reserved)
      expect((await send(roomId, seller, '내일 거래해요')).status).toBe(201)
      // The room's frames in version order: the message, the change, the next message.
      const message = await socket.next('chat.message')
      const updated = await socket.next('chat.room.updated')
      const next = await socket.next('chat.message')
      expect((updated.room as Summary).data).toEqual(reserved)
      expect(updated.version).toBe((message.version as number) + 1)
      expect(next.version).toBe((updated.version as number) + 1)
      // A change that changes nothing is not heard and moves no version.
      const same = await json<{ version: number }>(patch(roomId, { data: reserved }, service), 200)
      expect(same.version).toBe(next.version as number)
      // Summaries and the inbox carry it.
      const listed = await json<Summary[]>(server.http(`/chat/v1/rooms/?post_id=${postId}`, { headers: identityHeaders(buyer1) }), 200)
      expect(listed[0]!.data).toEqual(reserved)
      const inbox = await json<{ rooms: Summary[] }>(server.http(`/chat/v1/inbox/?post_id=${postId}`, { headers: identityHeaders(buyer1) }), 200)
      expect(inbox.rooms[0]!.data).toEqual(reserved)
      // A reconnect with since_version= from before the change hears it again, once.
      const back = await TestSocket.connect(server, roomId, buyer1, { since_version: String(message.version) })
      const recovered = await back.next('chat.recovered')
      expect(back.frames.filter((f) => f.type === 'chat.room.updated').map((f) => (f.room as Summary).data)).toEqual([reserved])
      expect(recovered.version).toBe(next.version)
      socket.ws.close()
      back.ws.close()
    })

    it("should let a private room's owner rename it, and no one else", async () => {
      const room = await json<Summary>(server.post('/chat/v1/create-room/', { name: '거래 조율', kind: 'private', members: [buyer1.user_id] }, identityHeaders(seller)), 201)
      expect((await patch(room.id, { name: '거래 조율 (완료)' }, identityHeaders(buyer1))).status).toBe(403)
      expect((await json<Summary>(patch(room.id, { name: '거래 조율 (완료)' }, identityHeaders(seller)), 200)).name).toBe('거래 조율 (완료)')
      expect((await patch(room.id, { name: '남의 방' }, identityHeaders(buyer2))).status).toBe(403)
    })

    it('should store system messages from the backend only, with no sender, unread unless silent', async () => {
      const roomId = await directRoom(buyer1)
      const before = (await unread(buyer1)).total
      const socket = await TestSocket.connect(server, roomId, buyer1)
      expect((await server.post('/chat/v1/message/', { room: roomId, message: '예약중으로 바뀌었어요', kind: 'system' }, identityHeaders(seller))).status).toBe(403)
      const system = await json<Record<string, unknown>>(server.post('/chat/v1/message/', { room: roomId, message: '예약중으로 바뀌었어요', kind: 'system', data: { event: 'reserved' } }, service), 201)
      expect(system).toMatchObject({ kind: 'system', user_id: null, sender: '', nickname: '', data: { event: 'reserved' } })
      await json(server.post('/chat/v1/message/', { room: roomId, message: '가격이 바뀌었어요', kind: 'system', silent: true }, service), 201)
      const frames = await socket.collect('chat.message', 2)
      expect(frames[0]).toMatchObject({ kind: 'system', user_id: null, data: { event: 'reserved' } })
      expect(frames[1]).toMatchObject({ kind: 'system', silent: true })
      // The silent one does not count; the other does, for both members.
      expect((await unread(buyer1)).total).toBe(before + 1)
      // Data is for system messages only.
      expect((await server.post('/chat/v1/message/', { room: roomId, message: '안녕', data: { a: 1 } }, identityHeaders(buyer1))).status).toBe(422)
      const history = await json<Record<string, unknown>[]>(server.http(`/chat/v1/room/${roomId}/messages/`, { headers: identityHeaders(seller) }), 200)
      expect(history.map((m) => m.kind)).toEqual(['system', 'system'])
      socket.ws.close()
    })

    it('should put one system message into every room about a post, archive them first, and refuse every write after', async () => {
      const id = ++postId
      const open = await json<Summary>(server.post('/chat/v1/create-room/', { name: '자전거 팝니다', post_id: id }), 201)
      const rooms = [open.id, await directRoom(buyer1, id), await directRoom(buyer2, id)]
      const other = await directRoom(buyer1)
      const message = await json<{ id: number }>(send(rooms[1]!, buyer1, '상태 어때요?'), 201)
      const sockets = await Promise.all([TestSocket.connect(server, rooms[1]!, buyer1), TestSocket.connect(server, rooms[2]!, buyer2)])
      for (const s of sockets) await s.barrier()

      expect((await server.post(`/chat/v1/posts/${id}/messages/`, { message: '거래가 완료되었어요' }, identityHeaders(seller))).status).toBe(403)
      // Not a post id, an empty text, data past ROOM_DATA_BYTES, an unknown status: refused, nothing stored.
      expect((await server.post('/chat/v1/posts/abc/messages/', { message: '거래가 완료되었어요' }, service)).status).toBe(404)
      expect((await server.post('/chat/v1/posts/0/messages/', { message: '거래가 완료되었어요' }, service)).status).toBe(404)
      expect((await server.post(`/chat/v1/posts/${id}/messages/`, { message: '' }, service)).status).toBe(422)
      expect((await server.post(`/chat/v1/posts/${id}/messages/`, { message: '완료', data: { blob: 'x'.repeat(5000) } }, service)).status).toBe(422)
      expect((await server.post(`/chat/v1/posts/${id}/messages/`, { message: '완료', status: 'deleted' }, service)).status).toBe(422)
      const answered = await json<{ rooms: number[] }>(server.post(`/chat/v1/posts/${id}/messages/`, { message: '거래가 완료되었어요', data: { event: 'sold' }, status: 'archived' }, service), 200)
      expect(answered.rooms).toEqual(rooms)
      for (const s of sockets) {
        const updated = await s.next('chat.room.updated')
        const said = await s.next('chat.message')
        expect((updated.room as Summary).status).toBe('archived')
        expect(said).toMatchObject({ kind: 'system', message: '거래가 완료되었어요', data: { event: 'sold' } })
        expect(said.version).toBe((updated.version as number) + 1)
      }
      for (const roomId of rooms) {
        const history = await json<{ kind: string; message: string }[]>(server.http(`/chat/v1/room/${roomId}/messages/`, { headers: identityHeaders(seller) }), 200)
        expect(history.filter((m) => m.kind === 'system').map((m) => m.message)).toEqual(['거래가 완료되었어요'])
      }
      // Read, never written: REST sends, edits, reactions; the socket's sends, edits and reactions.
      const refused = async (res: Promise<Response>) => {
        const answer = await res
        expect(answer.status).toBe(409)
        expect(((await answer.json()) as { code: string }).code).toBe('room_archived')
      }
      await refused(send(rooms[1]!, buyer1, '아직 살 수 있나요?'))
      await refused(send(open.id, buyer2, '아직 살 수 있나요?'))
      await refused(
        server.http(`/chat/v1/room/${rooms[1]}/messages/${message.id}/`, { method: 'PATCH', headers: { 'content-type': 'application/json', ...identityHeaders(buyer1) }, body: JSON.stringify({ message: '상태 어때요??' }) }),
      )
      await refused(server.http(`/chat/v1/room/${rooms[1]}/messages/${message.id}/reactions/${encodeURIComponent('👍')}/`, { method: 'PUT', headers: identityHeaders(seller) }))
      // A file sent there is refused too, and stays the sender's to send elsewhere.
      const pdf = new TextEncoder().encode('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n')
      const upload = await json<{ id: string }>(server.http('/chat/v1/uploads/?name=spec.pdf', { method: 'POST', headers: { ...identityHeaders(buyer1), 'content-type': 'application/pdf' }, body: pdf }), 201)
      await refused(server.post('/chat/v1/message/', { room: rooms[1], message: '사양서예요', attachments: [upload.id] }, identityHeaders(buyer1)))
      expect((await server.post('/chat/v1/message/', { room: other, message: '사양서예요', attachments: [upload.id] }, identityHeaders(buyer1))).status).toBe(201)
      sockets[0]!.sendMessage('소켓으로도 안 되나요?')
      sockets[0]!.send({ type: 'chat.react', id: message.id, emoji: '👍', add: true })
      const archived = (f: Frame) => f.type === 'chat.error' && f.code === 'room_archived'
      await sockets[0]!.next(archived)
      await sockets[0]!.next(archived)
      // The summary says so; a room of another post is untouched; the backend may reopen.
      const detail = await json<Summary>(server.http(`/chat/v1/room/${rooms[2]}/`, { headers: identityHeaders(buyer2) }), 200)
      expect(detail.status).toBe('archived')
      expect((await json<Summary>(server.http(`/chat/v1/room/${other}/`, { headers: identityHeaders(buyer1) }), 200)).status).toBe('active')
      await json(patch(rooms[1]!, { status: 'active' }, service), 200)
      expect((await send(rooms[1]!, buyer1, '다시 열렸네요')).status).toBe(201)
      for (const s of sockets) s.ws.close()
    })

    it('should store a send racing the archive before the system message, or refuse it', async () => {
      const id = ++postId
      const roomId = await directRoom(buyer1, id)
      const sends = Array.from({ length: 40 }, (_, i) => send(roomId, buyer1, `경쟁 ${i}`))
      const event = server.post(`/chat/v1/posts/${id}/messages/`, { message: '판매 완료', status: 'archived' }, service)
      const statuses = await Promise.all(sends.map(async (res) => (await res).status))
      expect((await event).status).toBe(200)
      expect(statuses.every((s) => s === 201 || s === 409)).toBe(true)
      const history = await json<{ kind: string; message: string }[]>(server.http(`/chat/v1/room/${roomId}/messages/?limit=100`, { headers: identityHeaders(buyer1) }), 200)
      const systemAt = history.findIndex((m) => m.kind === 'system')
      expect(systemAt).toBe(history.length - 1)
      expect(history.length - 1).toBe(statuses.filter((s) => s === 201).length)
    })

    it('should hide a room from the inbox, the badge and the stream until a newer message brings it back', async () => {
      const roomId = await directRoom(buyer2)
      await json(send(roomId, seller, '구매 가능하세요?'), 201)
      const stream = await TestSocket.inbox(server, buyer2)
      await stream.next('inbox.ready')
      expect(await inboxIds(buyer2)).toContain(roomId)
      const badge = await unread(buyer2)
      expect((await hide(roomId, buyer2)).status).toBe(204)
      expect((await stream.next('inbox.removed')).room).toBe(roomId)
      expect(await inboxIds(buyer2)).not.toContain(roomId)
      expect(await unread(buyer2)).toEqual({ total: badge.total - 1, rooms: badge.rooms - 1 })
      // A new stream's badge agrees with GET /unread/.
      const again = await TestSocket.inbox(server, buyer2)
      expect(((await again.next('inbox.ready')).unread as { total: number }).total).toBe(badge.total - 1)
      // Hiding a room one is not in is 404 (or 403 for a direct room of others).
      expect((await hide(roomId, buyer1)).status).toBe(403)
      await json(send(roomId, seller, '아직 고민 중이세요?'), 201)
      const back = await stream.next((f: Frame) => f.type === 'inbox.message' && f.room === roomId)
      expect(back.unread_count).toBe(2)
      expect(await inboxIds(buyer2)).toContain(roomId)
      expect(await unread(buyer2)).toEqual({ total: badge.total + 1, rooms: badge.rooms })
      stream.ws.close()
      again.ws.close()
    })

    it('should let a member leave a direct room: the other is told, and neither can send there', async () => {
      const roomId = await directRoom(buyer1)
      await json(send(roomId, seller, '안녕하세요'), 201)
      const sellerSocket = await TestSocket.connect(server, roomId, seller)
      expect((await hide(roomId, buyer1, true)).status).toBe(204)
      const left = await sellerSocket.next('chat.message')
      expect(left).toMatchObject({ kind: 'system', user_id: null, data: { event: 'left', user_id: buyer1.user_id } })
      for (const user of [seller, buyer1]) {
        const res = await send(roomId, user, '계세요?')
        expect(res.status).toBe(409)
        expect(((await res.json()) as { code: string }).code).toBe('peer_left')
      }
      sellerSocket.sendMessage('소켓으로는요?')
      expect((await sellerSocket.next('chat.error')).code).toBe('peer_left')
      expect(await inboxIds(buyer1)).not.toContain(roomId)
      expect(await inboxIds(seller)).toContain(roomId)
      // Leaving again is fine; leaving a room that is not direct is a conflict.
      expect((await hide(roomId, buyer1, true)).status).toBe(204)
      const open = await json<Summary>(server.post('/chat/v1/create-room/', { name: '동네 모임', post_id: ++postId }), 201)
      await json(send(open.id, buyer1, '안녕하세요'), 201)
      expect((await hide(open.id, buyer1, true)).status).toBe(409)
      // The backend's post events still reach the room, and the leaver's badge stays out of it.
      const badge = await unread(buyer1)
      await json(server.post('/chat/v1/message/', { room: roomId, message: '게시글이 삭제되었어요', kind: 'system' }, service), 201)
      expect(await unread(buyer1)).toEqual(badge)
      sellerSocket.ws.close()
    })
  })
}
