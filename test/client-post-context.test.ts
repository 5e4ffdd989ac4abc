import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { ChatApiError, ChatSendError, isSystemMessage, type InboxStream, type Message, type RoomConnection, type RoomUpdatedFrame, type RoomServerFrame } from '../client/src/index.ts'
import { STORES, startStoreServer } from './support/cluster.ts'
import { clientAs } from './support/client.ts'
import { createRoom, type TestServer, type TestUser } from './support/server.ts'
import { until } from './support/wait.ts'

// The client's side of rooms that know their post: the room's data and status kept current, writes
// to an archived room refused at once, system messages typed apart, hiding and leaving rooms from
// the inbox, and an inbox kept to one post's rooms.

const SERVICE_SECRET = 'the-app-backend-secret-0123456789'
const service = { 'x-service-secret': SERVICE_SECRET }
const seller: TestUser = { user_id: 'c-seller', nickname: '판매자', email: 'seller@example.com' }
const buyer: TestUser = { user_id: 'c-buyer', nickname: '구매자', email: 'buyer@example.com' }
const buyer2: TestUser = { user_id: 'c-buyer2', nickname: '구매자2', email: 'buyer2@example.com' }
const post = { title: '아이폰 15 프로 256GB', price: 950000, thumbnail: 'https://cdn.example.com/posts/31.jpg', status: '판매중' }

/** The client's REST calls that change something, as `METHOD path`: a write refused at once makes none. */
function recordingFetch(calls: string[]) {
  return (url: string, init: { method: string; headers: Record<string, string>; body?: string }) => {
    if (init.method !== 'GET') calls.push(`${init.method} ${new URL(url).pathname}`)
    return fetch(url, init)
  }
}

/** What a room connection heard of its room: the `roomUpdated` events and every `chat.room.updated` frame. */
function roomLog(room: RoomConnection) {
  const log = { events: [] as RoomUpdatedFrame[], frames: [] as RoomServerFrame[], messages: [] as Message[] }
  room.on('roomUpdated', (frame) => log.events.push(frame))
  room.on('frame', (frame) => frame.type === 'chat.room.updated' && log.frames.push(frame))
  room.on('message', (m) => log.messages.push(m))
  return log
}

for (const store of STORES) {
  describe(`the client and rooms that know their post, on ${store.name}`, () => {
    let server: TestServer
    let postId = 700

    beforeAll(async () => {
      server = await startStoreServer(store, { SERVICE_SECRET })
    })
    afterAll(() => server?.destroy())

    /** A service call's JSON answer, failing on any other status. */
    const call = async <T>(method: string, path: string, body: unknown, status = 200): Promise<T> => {
      const res = await server.http(path, { method, headers: { 'content-type': 'application/json', ...service }, body: JSON.stringify(body) })
      const text = await res.text()
      if (res.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${res.status}: ${text}`)
      return JSON.parse(text) as T
    }
    /** A direct room of `other` and the seller about `id`, with the post's data, as the app's backend makes it. */
    const directRoom = async (other: TestUser, id = ++postId) =>
      (await call<{ id: number }>('POST', '/chat/v1/create-room/', { name: '아이폰 거래', kind: 'direct', members: [seller.user_id, other.user_id], post_id: id, data: post }, 201)).id
    const patchRoom = (roomId: number, body: unknown) => call('PATCH', `/chat/v1/room/${roomId}/`, body)
    const systemMessage = (roomId: number, body: Record<string, unknown>) => call<Message>('POST', '/chat/v1/message/', { room: roomId, kind: 'system', ...body }, 201)

    it("should keep the room's name, data and status as the backend changes them, once per change, however a reconnect replays it", async () => {
      const roomId = await directRoom(buyer)
      const client = clientAs(server.base, buyer)
      const before = await client.api.room(roomId)
      const room = client.room(roomId, { detail: before })
      const log = roomLog(room)
      expect([room.name, room.data, room.status]).toEqual(['아이폰 거래', post, 'active'])
      await until(() => room.state === 'open', { what: 'the room open' })

      const reserved = { ...post, status: '예약중' }
      await patchRoom(roomId, { data: reserved })
      await until(() => room.data?.status === '예약중', { what: 'the new data applied' })
      await patchRoom(roomId, { name: '아이폰 거래 (예약)' })
      await until(() => room.name === '아이폰 거래 (예약)', { what: 'the new name applied' })
      expect(log.events.map((e) => (e.room as { data: unknown }).data)).toEqual([reserved, reserved])
      // The room's version moved with them: a reconnect asks after the last change.
      expect(room.version).toBe(log.events[1]!.version)

      // From the detail read before the changes, the replay brings the room as it is now, once.
      const late = client.room(roomId, { detail: before })
      const lateLog = roomLog(late)
      await until(() => late.name === '아이폰 거래 (예약)', { what: 'the replayed change applied' })
      expect([late.data, late.status]).toEqual([reserved, 'active'])
      // With a detail read after them but an older version to resume from, the replay repeats a change already read: heard, not told.
      const after = await client.api.room(roomId)
      const current = client.room(roomId, { detail: after, version: before.version })
      const currentLog = roomLog(current)
      await until(() => currentLog.frames.length === 1, { what: 'the replayed room change' })
      expect(currentLog.events).toEqual([])
      expect(current.name).toBe('아이폰 거래 (예약)')
      expect(lateLog.events).toHaveLength(1)
      for (const r of [room, late, current]) r.close()
    })

    it('should not move the room back when a room detail read before a change is answered after it', async () => {
      const roomId = await directRoom(buyer)
      const before = await clientAs(server.base, buyer).api.room(roomId)
      // The room detail read after the connect (who is online, the read markers) is held back until the change has applied.
      let held = false
      let release = () => {}
      const released = new Promise<void>((resolve) => (release = resolve))
      let answered = () => {}
      const delivered = new Promise<void>((resolve) => (answered = resolve))
      const client = clientAs(server.base, buyer, {
        fetch: async (url, init) => {
          const res = await fetch(url, init)
          if (held || new URL(url).pathname !== `/chat/v1/room/${roomId}/`) return res
          held = true
          await released
          // Read, parsed and applied in the microtasks after the body; the timer fires once they are done.
          return { status: res.status, ok: res.ok, headers: res.headers, text: () => res.text().finally(() => setTimeout(answered, 0)) }
        },
      })
      const room = client.room(roomId, { detail: before })
      const log = roomLog(room)
      await until(() => held, { what: 'the room detail asked for' })
      const sold = { ...post, status: '판매완료' }
      await patchRoom(roomId, { data: sold })
      await until(() => room.data?.status === '판매완료', { what: 'the change applied' })
      release()
      await delivered
      expect(room.data).toEqual(sold)
      expect(log.events).toHaveLength(1)
      room.close()
    })

    it('should refuse writes to an archived room at once, fail a pending send the server refuses for good, and write again once reopened', async () => {
      const id = ++postId
      const roomId = await directRoom(buyer, id)
      const calls: string[] = []
      const client = clientAs(server.base, buyer, { fetch: recordingFetch(calls) })
      const room = client.room(roomId, { detail: await client.api.room(roomId) })
      const log = roomLog(room)
      const mine = await room.send('상태 어때요?')

      await call('POST', `/chat/v1/posts/${id}/messages/`, { message: '거래가 완료되었어요', data: { event: 'sold' }, status: 'archived' })
      await until(() => room.status === 'archived', { what: 'the archive applied' })
      const sold = await until(() => log.messages.find(isSystemMessage) ?? false, { what: 'the system message' })
      expect(sold).toMatchObject({ message: '거래가 완료되었어요', user_id: null, data: { event: 'sold' } })
      // The room changed before its message, in the room's order.
      expect(log.events.at(-1)!.version).toBe(sold.version - 1)

      // Known to be archived: nothing is queued, and nothing goes to the server.
      const writes = calls.length
      const sending = room.send('아직 살 수 있나요?')
      expect(room.pending).toEqual([])
      const refusal = await sending.catch((error: unknown) => error)
      expect(refusal).toBeInstanceOf(ChatSendError)
      expect(refusal).toMatchObject({ code: 'room_archived' })
      for (const write of [room.edit(mine.id, '상태 어때요??'), room.react(mine.id, '👍'), room.unsend(mine.id)]) {
        const error = await write.catch((e: unknown) => e)
        expect(error).toBeInstanceOf(ChatApiError)
        expect(error).toMatchObject({ status: 409, code: 'room_archived' })
      }
      expect(calls.length).toBe(writes)

      // Not known here (no room detail read, connected after the archive): the server's refusal ends the send, not sent again and again.
      const unaware = clientAs(server.base, buyer).room(roomId, { presence: false })
      await until(() => unaware.state === 'open', { what: 'the unaware room open' })
      const failed: string[] = []
      unaware.on('failed', ({ pending, error }) => failed.push(`${pending.message}: ${error.code}`))
      const refused = await unaware.send('소켓으로는요?').catch((error: unknown) => error)
      expect(refused).toMatchObject({ name: 'ChatSendError', code: 'room_archived' })
      expect(failed).toEqual(['소켓으로는요?: room_archived'])
      expect(unaware.pending).toEqual([])
      expect(unaware.status).toBe('active')

      await patchRoom(roomId, { status: 'active' })
      await until(() => room.status === 'active', { what: 'the room reopened' })
      expect((await room.send('다시 열렸네요')).message).toBe('다시 열렸네요')
      room.close()
      unaware.close()
    })

    it("should type system messages apart from users' messages, and count them unread by every member", async () => {
      const roomId = await directRoom(buyer)
      const client = clientAs(server.base, buyer)
      const room = client.room(roomId, { detail: await client.api.room(roomId) })
      const log = roomLog(room)
      await until(() => room.state === 'open', { what: 'the room open' })

      await systemMessage(roomId, { message: '예약중으로 바뀌었어요', data: { event: 'reserved' } })
      await systemMessage(roomId, { message: '가격이 바뀌었어요', silent: true })
      await until(() => log.messages.length === 2, { what: 'the system messages' })
      const [reserved, silent] = log.messages as [Message, Message]
      expect(reserved).toMatchObject({ kind: 'system', user_id: null, sender: '', nickname: '', data: { event: 'reserved' } })
      expect(reserved.silent).toBeUndefined()
      expect(silent).toMatchObject({ kind: 'system', silent: true, data: null })
      // No member sent it: both have it unread.
      expect(room.unreadBy(reserved)).toBe(2)

      const said = await clientAs(server.base, seller).api.sendMessage({ room: roomId, message: '내일 거래해요' })
      const user = await until(() => log.messages[2] ?? false, { what: "the seller's message" })
      expect(user).toMatchObject({ id: said.id, kind: 'text', user_id: seller.user_id })
      expect(log.messages.map(isSystemMessage)).toEqual([true, true, false])
      // Sending moved the seller's marker past both: the buyer alone has not read them.
      expect([room.unreadBy(reserved), room.unreadBy(user)]).toEqual([1, 1])
      // History gives them the same form.
      const history = await client.api.history(roomId)
      expect(history.filter(isSystemMessage).map((m) => [m.message, m.data])).toEqual([
        ['예약중으로 바뀌었어요', { event: 'reserved' }],
        ['가격이 바뀌었어요', null],
      ])
      room.close()
    })

    it('should hide and leave rooms from the inbox at once, and bring a hidden room back with a newer message', async () => {
      const theirs = clientAs(server.base, seller)
      const [hidden, left, kept] = [await directRoom(buyer), await directRoom(buyer), await directRoom(buyer)]
      for (const roomId of [hidden, left, kept]) await theirs.api.sendMessage({ room: roomId, message: '구매 가능하세요?' })
      const ids = (inbox: InboxStream) => inbox.rooms.map((r) => r.id).filter((id) => [hidden, left, kept].includes(id))
      const client = clientAs(server.base, buyer)
      const inbox = client.inbox()
      const removed: number[] = []
      inbox.on('removed', (frame) => removed.push(frame.room))
      await until(() => ids(inbox).length === 3, { what: 'the three rooms listed' })

      // A stream that is closed hears no `inbox.removed`: the entry leaves all the same.
      const closed = client.inbox()
      await until(() => ids(closed).length === 3, { what: 'the second stream loaded' })
      closed.close()
      await closed.hide(hidden)
      expect(ids(closed)).toEqual([kept, left])
      await until(() => removed.includes(hidden), { what: 'the server’s inbox.removed' })
      expect(ids(inbox)).toEqual([kept, left])

      // The leaver's entry leaves at once; the server's inbox.removed that follows changes nothing more.
      const sellerRoom = theirs.room(left, { detail: await theirs.api.room(left) })
      const sellerLog = roomLog(sellerRoom)
      await until(() => sellerRoom.state === 'open', { what: 'the seller’s room open' })
      await inbox.leave(left)
      expect(ids(inbox)).toEqual([kept])
      await until(() => removed.includes(left), { what: 'the server’s inbox.removed' })
      expect(ids(inbox)).toEqual([kept])
      const told = await until(() => sellerLog.messages.find(isSystemMessage) ?? false, { what: 'the seller told' })
      expect(told.data).toEqual({ event: 'left', user_id: buyer.user_id })
      const refused = await sellerRoom.send('계세요?').catch((error: unknown) => error)
      expect(refused).toMatchObject({ name: 'ChatSendError', code: 'peer_left' })
      expect(sellerRoom.pending).toEqual([])
      // Leaving is for direct rooms; hiding what the inbox does not hold is refused, and the list stays.
      const neighbourhood = await createRoom(server, '동네 모임')
      await expect(inbox.hide(neighbourhood)).rejects.toMatchObject({ status: 404, code: 'not_in_inbox' })
      await expect(inbox.leave(neighbourhood)).rejects.toMatchObject({ status: 409, code: 'not_a_direct_room' })
      expect(ids(inbox)).toEqual([kept])

      // A newer message brings the hidden room back, its unread count with it.
      await theirs.api.sendMessage({ room: hidden, message: '아직 고민 중이세요?' })
      await until(() => ids(inbox).includes(hidden), { what: 'the hidden room back' })
      expect(inbox.rooms.find((r) => r.id === hidden)).toMatchObject({ unread_count: 2, last_message: { message: '아직 고민 중이세요?' } })
      expect(ids(inbox)).toEqual([hidden, kept])
      sellerRoom.close()
      inbox.close()
    })

    it("should keep an inbox to one post's rooms, and list rooms by post", async () => {
      const [mine, other] = [++postId, ++postId]
      const first = await directRoom(buyer, mine)
      const elsewhere = await directRoom(buyer, other)
      const open = (await call<{ id: number }>('POST', '/chat/v1/create-room/', { name: '아이폰 공동구매', post_id: mine }, 201)).id
      for (const roomId of [first, elsewhere]) await clientAs(server.base, buyer).api.sendMessage({ room: roomId, message: '안녕하세요' })
      const calls: string[] = []
      const client = clientAs(server.base, seller, { fetch: (url, init) => (calls.push(`${init.method} ${new URL(url).pathname}`), fetch(url, init)) })
      expect((await client.api.rooms({ post_id: mine })).map((r) => r.id).sort()).toEqual([first, open].sort())
      expect((await client.api.inbox({ post_id: other })).rooms.map((r) => r.id)).toEqual([elsewhere])

      const inbox = client.inbox({ postId: mine })
      await until(() => inbox.rooms.length === 1, { what: 'the filtered fetch' })
      expect(inbox.rooms.map((r) => r.id)).toEqual([first])
      const fetches = () => calls.filter((c) => c === 'GET /chat/v1/inbox/').length
      /** A message from the buyer in `roomId`; waits until the inbox shows it there. */
      const said = async (roomId: number, text: string) => {
        await clientAs(server.base, buyer).api.sendMessage({ room: roomId, message: text })
        if (roomId === first) await until(() => inbox.rooms[0]?.last_message?.message === text, { what: `"${text}" listed` })
      }

      // A room of another post, not yet known: one filtered fetch tells it apart; then its messages are ignored.
      await said(elsewhere, '다른 글 1')
      await said(first, '이 글 1')
      const known = fetches()
      await said(elsewhere, '다른 글 2')
      await said(first, '이 글 2')
      expect(fetches()).toBe(known)
      // Rooms gained: only the post's are listed.
      const gainedElsewhere = await directRoom(buyer2, other)
      const gained = await directRoom(buyer2, mine)
      await until(() => inbox.rooms.some((r) => r.id === gained), { what: 'the gained room of the post' })
      expect(inbox.rooms.map((r) => r.id)).not.toContain(gainedElsewhere)
      expect(inbox.rooms.every((r) => r.post_id === mine)).toBe(true)
      expect(inbox.unreadCount).toBe(3)
      inbox.close()
    })
  })
}
