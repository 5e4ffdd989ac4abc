import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES } from './support/cluster.ts'
import { identityHeaders, startTestServer, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket, type Frame } from './support/socket.ts'
import { eventually, startReceiver, type Receiver } from './support/webhooks.ts'

// What one user can do to another through the product layer, and what they cannot: put someone in
// a room over and over, reach the person who blocked them through a private room, or learn who
// exists and what their profile says by naming ids. On each store, through the real server.

const SERVICE_SECRET = 'service-secret-of-the-app-backend'
const WEBHOOK_SECRET = 'webhook-secret-of-the-app-backend'
const user = (id: string, nickname = `${id}님`): TestUser => ({ user_id: id, nickname, email: `${id}@example.com`, profile_url: `/media/${id}.png` })
type Json = Record<string, unknown> & { id: number }
type Envelope = { type: string; data: { message?: { id: number; user_id: string; room: number }; offline_user_ids?: string[] } }

for (const store of STORES) {
  describe(`what a user cannot do to another on ${store.name}`, () => {
    let server: TestServer
    let receiver: Receiver
    let drop: () => Promise<void>
    const tag = store.name.toLowerCase()

    beforeAll(async () => {
      const db = await store.database()
      drop = db.drop
      receiver = await startReceiver()
      // The member-change limit at a small allowance (a burst of 2, then one every 6 s); the rest lifted.
      server = await startTestServer({ ...db.env, SERVICE_SECRET, WEBHOOK_URL: receiver.url, WEBHOOK_SECRET, MEMBER_CHANGES_PER_MINUTE: '10' })
    })
    afterAll(async () => {
      await server?.destroy()
      await receiver?.stop()
      await drop?.()
    })

    const json = async <T = Json>(res: Response) => (await res.json()) as T
    const privateRoom = (owner: TestUser, members: TestUser[]) => server.post('/chat/v1/create-room/', { name: '중고거래 모임', kind: 'private', members: members.map((m) => m.user_id) }, identityHeaders(owner))
    const addMember = (roomId: number, by: TestUser | 'service', who: TestUser) =>
      server.post(`/chat/v1/room/${roomId}/members/`, { user_id: who.user_id }, by === 'service' ? { 'x-service-secret': SERVICE_SECRET } : identityHeaders(by))
    const removeMember = (roomId: number, by: TestUser, who: TestUser) => server.http(`/chat/v1/room/${roomId}/members/${who.user_id}/`, { method: 'DELETE', headers: identityHeaders(by) })
    const block = (who: TestUser, whom: TestUser) => server.http(`/chat/v1/blocks/${whom.user_id}/`, { method: 'PUT', headers: identityHeaders(who) })
    const say = async (roomId: number, who: TestUser, message: string) => {
      const res = await server.post('/chat/v1/message/', { room: roomId, message }, identityHeaders(who))
      expect(res.status).toBe(201)
      return (await json(res)).id
    }
    const delivered = async (messageId: number) =>
      eventually(async () => {
        const found = (await receiver.received()).map((r) => JSON.parse(r.body) as Envelope).find((e) => e.type === 'message.created' && e.data.message?.id === messageId)
        if (!found) throw new Error(`message ${messageId} not delivered yet`)
        return found
      })

    describe('member changes', () => {
      it('should answer member changes past the allowance with 429 and Retry-After, per user, and let the app through', async () => {
        const [owner, victim, other] = [user(`${tag}-churn-owner`), user(`${tag}-churn-victim`), user(`${tag}-churn-other`)]
        const roomId = (await json(await privateRoom(owner, []))).id
        const statuses: number[] = []
        let refused: Response | undefined
        for (let i = 0; i < 6; i++) {
          const res = i % 2 === 0 ? await addMember(roomId, owner, victim) : await removeMember(roomId, owner, victim)
          statuses.push(res.status)
          if (res.status === 429) refused ??= res
          else await res.body?.cancel()
        }
        // A burst of two, then refusals: no stream of frames to the victim, no outbox rows without end.
        expect(statuses.slice(0, 2)).toEqual([201, 204])
        expect(statuses.slice(2).every((s) => s === 429)).toBe(true)
        expect(Number(refused!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
        expect(await json<{ code: string }>(refused!)).toMatchObject({ code: 'too_many_member_changes' })
        // Another owner has an allowance of their own; the app's backend has no limit.
        const theirs = (await json(await privateRoom(other, []))).id
        expect((await addMember(theirs, other, victim)).status).toBe(201)
        for (let i = 0; i < 5; i++) expect((await addMember(roomId, 'service', user(`${tag}-churn-app-${i}`))).status).toBe(201)
      })
    })

    describe('blocks in private rooms', () => {
      it('should refuse to let a blocked user add the blocker to a private room, by adding or by creating one', async () => {
        const [blocker, blocked, bystander] = [user(`${tag}-b-blocker`), user(`${tag}-b-blocked`), user(`${tag}-b-bystander`)]
        expect((await block(blocker, blocked)).status).toBe(204)
        const created = await privateRoom(blocked, [bystander, blocker])
        expect(created.status).toBe(403)
        expect(await json<{ code: string }>(created)).toMatchObject({ code: 'blocked' })
        const roomId = (await json(await privateRoom(blocked, [bystander]))).id
        const added = await addMember(roomId, blocked, blocker)
        expect(added.status).toBe(403)
        expect(await json<{ code: string }>(added)).toMatchObject({ code: 'blocked' })
        const members = await json<{ user_id: string }[]>(await server.http(`/chat/v1/room/${roomId}/members/`, { headers: identityHeaders(blocked) }))
        expect(members.map((m) => m.user_id)).not.toContain(blocker.user_id)
        // The block is one-way: the blocker may still add the one they blocked, and the app's backend may put anyone anywhere.
        expect((await json(await privateRoom(blocker, [blocked]))).id).toBeGreaterThan(0)
        expect((await addMember(roomId, 'service', blocker)).status).toBe(201)
      })

      it("should carry none of a blocked user's messages to the blocker on their stream, inbox preview or webhook pushes", async () => {
        const [owner, blocker, blocked] = [user(`${tag}-p-owner`), user(`${tag}-p-blocker`), user(`${tag}-p-blocked`)]
        const roomId = (await json(await privateRoom(owner, [blocker, blocked]))).id
        const stream = await TestSocket.inbox(server, blocker)
        await stream.next('inbox.ready')
        const before = await say(roomId, owner, '이번 주말에 직거래 가능해요')
        await stream.next((f) => f.type === 'inbox.message' && (f.message as { id: number }).id === before)
        expect((await block(blocker, blocked)).status).toBe(204)
        const hidden = await say(roomId, blocked, '내 번호로 연락줘')
        const pushed = await delivered(hidden)
        // The others are pushed the message; the blocker is not.
        expect(pushed.data.offline_user_ids).toContain(owner.user_id)
        expect(pushed.data.offline_user_ids).not.toContain(blocker.user_id)
        // The room's own message after it arrives; the blocked one never did, yet it is counted.
        const after = await say(roomId, owner, '토요일 2시 어때요?')
        const frame = await stream.next((f) => f.type === 'inbox.message' && (f.message as { id: number }).id === after)
        expect(frame.unread_count).toBe(3)
        expect(stream.all('inbox.message').map((f: Frame) => (f.message as { id: number }).id)).not.toContain(hidden)
        // The inbox preview skips it too, when it is the room's newest.
        await say(roomId, blocked, '왜 답이 없어?')
        const inbox = await json<{ rooms: { id: number; last_message: { user_id: string; message: string } | null; unread_count: number }[] }>(await server.http('/chat/v1/inbox/', { headers: identityHeaders(blocker) }))
        const entry = inbox.rooms.find((r) => r.id === roomId)!
        expect(entry.last_message).toMatchObject({ user_id: owner.user_id, message: '토요일 2시 어때요?' })
        expect(entry.unread_count).toBe(4)
        // Unblocked, their words show again.
        expect((await server.http(`/chat/v1/blocks/${blocked.user_id}/`, { method: 'DELETE', headers: identityHeaders(blocker) })).status).toBe(204)
        const again = await say(roomId, blocked, '다시 안녕')
        await stream.next((f) => f.type === 'inbox.message' && (f.message as { id: number }).id === again)
        expect((await delivered(again)).data.offline_user_ids).toContain(blocker.user_id)
        await stream.close()
      })
    })

    describe('no existence oracle', () => {
      it('should take a report about a user the same way whether or not the server has seen them', async () => {
        const [reporter, known] = [user(`${tag}-reporter`), user(`${tag}-known`)]
        await server.http('/chat/v1/rooms/', { headers: identityHeaders(known) })
        const answers = await Promise.all(
          [known.user_id, `${tag}-never-seen-anywhere`].map(async (userId) => {
            const res = await server.post('/chat/v1/report/', { reason: '사기 의심', user_id: userId }, identityHeaders(reporter))
            const body = await json<Record<string, unknown>>(res)
            return { status: res.status, keys: Object.keys(body).sort(), user_id: body.user_id }
          }),
        )
        expect(answers.map((a) => a.status)).toEqual([201, 201])
        expect(answers[0]!.keys).toEqual(answers[1]!.keys)
      })

      it("should not tell a direct room's caller the other user's profile before they take part", async () => {
        const [stranger, target] = [user(`${tag}-stranger`), user(`${tag}-target`, '비밀이름')]
        // The target is known to the server: their profile is in its cache.
        await server.http('/chat/v1/rooms/', { headers: identityHeaders(target) })
        type Member = { user_id: string; nickname: string | null; profile_picture_url: string | null }
        // A room detail carries `members`; the members route answers the list itself.
        const peerOf = async (res: Response) => {
          const body = await json<{ members: Member[] } | Member[]>(res)
          return (Array.isArray(body) ? body : body.members).find((m) => m.user_id === target.user_id)
        }
        const created = await server.post('/chat/v1/direct-room/', { user_id: target.user_id, post_id: 31 }, identityHeaders(stranger))
        expect(created.status).toBe(201)
        const roomId = ((await created.clone().json()) as { id: number }).id
        expect(await peerOf(created)).toMatchObject({ nickname: null, profile_picture_url: null })
        // The cache has the profile (the app's backend sees it): what the stranger gets is hidden, not missing.
        await eventually(async () => expect(await peerOf(await server.http(`/chat/v1/room/${roomId}/`, { headers: { 'x-service-secret': SERVICE_SECRET } }))).toMatchObject({ nickname: '비밀이름' }))
        expect(await peerOf(await server.http(`/chat/v1/room/${roomId}/`, { headers: identityHeaders(stranger) }))).toMatchObject({ nickname: null })
        expect(await peerOf(await server.http(`/chat/v1/room/${roomId}/members/`, { headers: identityHeaders(stranger) }))).toMatchObject({ nickname: null })
        const inbox = await json<{ rooms: { id: number; members: { user_id: string; nickname: string | null }[] }[] }>(await server.http('/chat/v1/inbox/', { headers: identityHeaders(stranger) }))
        expect(inbox.rooms.find((r) => r.id === roomId)!.members.find((m) => m.user_id === target.user_id)).toMatchObject({ nickname: null })
        // Once the target answers, they have shown themselves in the room (the profile cache is
        // written beside requests, not before their answers: it may take a moment).
        await say(roomId, target, '네, 안녕하세요')
        await eventually(async () =>
          expect(await peerOf(await server.http(`/chat/v1/room/${roomId}/`, { headers: identityHeaders(stranger) }))).toMatchObject({ nickname: '비밀이름', profile_picture_url: `/media/${target.user_id}.png` }),
        )
      })
    })
  })
}
