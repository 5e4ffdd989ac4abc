import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES, startStoreServer } from './support/cluster.ts'
import { handshake, identityHeaders, type TestServer, type TestUser } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

// Private and direct rooms, members, blocks and service calls, through the real server on each
// store. Every rule of the product layer's "Room kinds", "Authorization", "Members" and "Blocks".
const SERVICE_SECRET = 'service-secret-of-the-app-backend'
const MAX_ROOM_MEMBERS = 4

type Json = Record<string, unknown>
type Room = Json & { id: number; kind: string; member_count: number | null; members: (Json & { user_id: string })[] }
const user = (id: string, nickname = `${id}님`): TestUser => ({ user_id: id, nickname, email: `${id}@example.com` })

for (const store of STORES) {
  describe(`private and direct rooms on ${store.name}`, () => {
    let server: TestServer
    // Fresh users per store, so the two runs cannot see each other's rows in a shared process.
    const tag = store.name.toLowerCase()
    const owner = user(`${tag}-owner`)
    const member = user(`${tag}-member`)
    const outsider = user(`${tag}-outsider`)
    const seller = user(`${tag}-seller`)
    const buyer = user(`${tag}-buyer`)

    beforeAll(async () => {
      server = await startStoreServer(store, { SERVICE_SECRET, MAX_ROOM_MEMBERS: String(MAX_ROOM_MEMBERS) })
    })
    afterAll(async () => {
      await server?.destroy()
    })

    const as = (who: TestUser | null, extra: Record<string, string> = {}) => ({ ...(who ? identityHeaders(who) : {}), ...extra })
    const service = (who: TestUser | null = null) => as(who, { 'x-service-secret': SERVICE_SECRET })
    const post = (path: string, body: unknown, headers: Record<string, string>) => server.post(path, body, headers)
    const get = (path: string, headers: Record<string, string>) => server.http(path, { headers })
    const call = (method: string, path: string, headers: Record<string, string>) => server.http(path, { method, headers })
    const json = async <T = Json & { id: number }>(res: Response) => (await res.json()) as T
    async function createPrivate(by: TestUser, members: string[] = [], name = 'private'): Promise<Room> {
      const res = await post('/chat/v1/create-room/', { name, kind: 'private', members }, as(by))
      expect(res.status).toBe(201)
      return json<Room>(res)
    }
    async function direct(from: TestUser, to: string, postId?: number): Promise<{ status: number; room: Room }> {
      const res = await post('/chat/v1/direct-room/', postId === undefined ? { user_id: to } : { user_id: to, post_id: postId }, as(from))
      return { status: res.status, room: await json<Room>(res) }
    }
    const wsPath = (roomId: number, who: TestUser) => `/ws/chat/${roomId}/chat/?${new URLSearchParams({ ...who } as Record<string, string>)}`

    describe('room kinds', () => {
      it('should create a private room owned by the caller, with its members, and no post_id idempotency', async () => {
        const room = await createPrivate(owner, [member.user_id], 'team')
        expect(room).toMatchObject({ kind: 'private', member_count: 2, name: 'team' })
        expect(room.members.map((m) => [m.user_id, m.role])).toEqual([
          [owner.user_id, 'owner'],
          [member.user_id, 'member'],
        ])
        const a = await post('/chat/v1/create-room/', { name: 'p', kind: 'private', post_id: 900 }, as(owner))
        const b = await post('/chat/v1/create-room/', { name: 'p', kind: 'private', post_id: 900 }, as(owner))
        expect([a.status, b.status]).toEqual([201, 201])
        expect((await json(a)).id).not.toBe((await json(b)).id)
        // The open room of that post is still its own, one per post.
        const open = await post('/chat/v1/create-room/', { name: 'open', post_id: 900 }, {})
        expect(open.status).toBe(201)
        expect(await json(open)).toMatchObject({ kind: 'open', member_count: null, members: [] })
      })

      it('should refuse a private room without identity, an owner named by a user, too many members, and members of an open room', async () => {
        expect((await post('/chat/v1/create-room/', { name: 'p', kind: 'private' }, {})).status).toBe(401)
        const named = await post('/chat/v1/create-room/', { name: 'p', kind: 'private', owner: member.user_id }, as(owner))
        expect(named.status).toBe(403)
        expect(await json(named)).toMatchObject({ code: 'service_call_required' })
        // The owner counts: owner + 4 members is 5 > MAX_ROOM_MEMBERS.
        const crowded = await post('/chat/v1/create-room/', { name: 'p', kind: 'private', members: ['a', 'b', 'c', 'd'] }, as(owner))
        expect(crowded.status).toBe(422)
        expect((await post('/chat/v1/create-room/', { name: 'p', kind: 'private', members: ['a', 'b', 'c', 'd', 'e'] }, as(owner))).status).toBe(422)
        expect((await post('/chat/v1/create-room/', { name: 'p', members: ['a'] }, as(owner))).status).toBe(422)
        const badId = await post('/chat/v1/create-room/', { name: 'p', kind: 'private', members: ['ok', 'bad\u0000id'] }, as(owner))
        expect(badId.status).toBe(422)
        expect((await post('/chat/v1/create-room/', { name: 'p', kind: 'secret' }, as(owner))).status).toBe(422)
        // A user cannot make a direct room for others through create-room.
        const forOthers = await post('/chat/v1/create-room/', { name: 'd', kind: 'direct', members: ['x', 'y'] }, as(owner))
        expect(forOthers.status).toBe(403)
      })

      it('should give a pair one direct room per post, from either side, and a missing post its own', async () => {
        const first = await direct(buyer, seller.user_id, 31)
        expect(first.status).toBe(201)
        expect(first.room).toMatchObject({ kind: 'direct', member_count: 2, post_id: 31 })
        expect(first.room.members.map((m) => m.role)).toEqual(['member', 'member'])
        expect(first.room.members.map((m) => m.user_id).sort()).toEqual([buyer.user_id, seller.user_id].sort())
        const back = await direct(seller, buyer.user_id, 31)
        expect(back).toMatchObject({ status: 200, room: { id: first.room.id } })
        const other = await direct(buyer, seller.user_id, 32)
        expect(other.status).toBe(201)
        const none = await direct(buyer, seller.user_id)
        expect(none.status).toBe(201)
        expect(new Set([first.room.id, other.room.id, none.room.id]).size).toBe(3)
        expect((await direct(seller, buyer.user_id)).room.id).toBe(none.room.id)
      })

      it('should create exactly one direct room when requests race from both sides', async () => {
        const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? direct(buyer, seller.user_id, 77) : direct(seller, buyer.user_id, 77))))
        expect(answers.filter((a) => a.status === 201)).toHaveLength(1)
        expect(answers.every((a) => a.status === 201 || a.status === 200)).toBe(true)
        expect(new Set(answers.map((a) => a.room.id)).size).toBe(1)
      })

      it('should refuse a direct room with oneself, without identity, or with an invalid user id', async () => {
        const self = await post('/chat/v1/direct-room/', { user_id: buyer.user_id }, as(buyer))
        expect(self.status).toBe(400)
        expect(await json(self)).toMatchObject({ code: 'same_user' })
        expect((await post('/chat/v1/direct-room/', { user_id: seller.user_id }, {})).status).toBe(401)
        expect((await post('/chat/v1/direct-room/', { user_id: '' }, as(buyer))).status).toBe(422)
        expect((await post('/chat/v1/direct-room/', { user_id: 'a\u202eb' }, as(buyer))).status).toBe(422)
      })

      it('should let a service call create rooms of any kind for anyone', async () => {
        const res = await post('/chat/v1/create-room/', { name: 'by backend', kind: 'private', owner: owner.user_id, members: [member.user_id] }, service())
        expect(res.status).toBe(201)
        expect((await json<Room>(res)).members.map((m) => [m.user_id, m.role])).toEqual([
          [owner.user_id, 'owner'],
          [member.user_id, 'member'],
        ])
        const pair = { name: 'd', kind: 'direct', post_id: 5, members: [owner.user_id, member.user_id] }
        const made = await post('/chat/v1/create-room/', pair, service())
        expect(made.status).toBe(201)
        const madeId = (await json(made)).id
        const again = await post('/chat/v1/create-room/', pair, service())
        expect(again.status).toBe(200)
        expect((await json(again)).id).toBe(madeId)
        expect((await direct(member, owner.user_id, 5)).room.id).toBe(madeId)
        expect((await post('/chat/v1/create-room/', { ...pair, members: [owner.user_id] }, service())).status).toBe(422)
        // A wrong secret is not a service call.
        expect((await post('/chat/v1/create-room/', { name: 'x', kind: 'private', owner: owner.user_id }, as(owner, { 'x-service-secret': 'wrong-secret-wrong-secret' }))).status).toBe(403)
      })
    })

    describe('authorization', () => {
      it('should refuse detail, history, REST send and members to non-members with 403 not_a_member, and 401 without identity', async () => {
        const room = await createPrivate(owner, [member.user_id])
        for (const path of [`/chat/v1/room/${room.id}/`, `/chat/v1/room/${room.id}/messages/`, `/chat/v1/room/${room.id}/members/`]) {
          const refused = await get(path, as(outsider))
          expect({ path, status: refused.status }).toEqual({ path, status: 403 })
          expect(await json(refused)).toMatchObject({ code: 'not_a_member' })
          expect({ path, status: (await get(path, {})).status }).toEqual({ path, status: 401 })
          expect({ path, status: (await get(path, as(member))).status }).toEqual({ path, status: 200 })
        }
        const send = await post('/chat/v1/message/', { room: room.id, message: 'let me in' }, as(outsider))
        expect(send.status).toBe(403)
        expect(await json(send)).toMatchObject({ code: 'not_a_member' })
        expect((await post('/chat/v1/message/', { room: room.id, message: 'hi team' }, as(member))).status).toBe(201)
        const history = await json<{ message: string }[]>(await get(`/chat/v1/room/${room.id}/messages/`, as(owner)))
        expect(history.map((m) => m.message)).toEqual(['hi team'])
        // An unknown room is still 404 for everyone.
        expect((await get('/chat/v1/room/999999/', as(outsider))).status).toBe(404)
      })

      it('should refuse a non-member socket before the upgrade, and admit members', async () => {
        const room = await createPrivate(owner, [member.user_id])
        const refused = await handshake(server, wsPath(room.id, outsider))
        expect(refused.status).toBe(403)
        expect(refused.headers.get('upgrade')).toBeNull()
        expect(await json(refused)).toMatchObject({ code: 'not_a_member' })
        const socket = await TestSocket.connect(server, room.id, member)
        socket.sendMessage('inside')
        expect(await socket.next('chat.message')).toMatchObject({ message: 'inside', user_id: member.user_id })
        await socket.close()
      })

      it('should let a service call read any room and send as the identity it carries', async () => {
        const room = await createPrivate(owner, [member.user_id])
        expect((await get(`/chat/v1/room/${room.id}/`, service())).status).toBe(200)
        expect((await get(`/chat/v1/room/${room.id}/messages/`, service())).status).toBe(200)
        const sent = await post('/chat/v1/message/', { room: room.id, message: 'from the backend' }, service(outsider))
        expect(sent.status).toBe(201)
        expect(await json(sent)).toMatchObject({ user_id: outsider.user_id })
        // Without identity a service call still cannot send: a message needs a sender.
        expect((await post('/chat/v1/message/', { room: room.id, message: 'nobody' }, service())).status).toBe(401)
      })

      it("should list open rooms and the caller's own private and direct rooms, with kind and member_count", async () => {
        const mine = await createPrivate(owner, [member.user_id], 'listed')
        const theirs = await createPrivate(outsider, [], 'hidden')
        const pair = (await direct(owner, seller.user_id, 4242)).room
        const listAll = async (who: TestUser | null) => {
          const rooms: Room[] = []
          let after = 0
          for (;;) {
            const page = await json<Room[]>(await get(`/chat/v1/rooms/?limit=200&after=${after}`, as(who)))
            if (page.length === 0) return rooms
            rooms.push(...page)
            after = page.at(-1)!.id
          }
        }
        const forOwner = await listAll(owner)
        const ids = forOwner.map((r) => r.id)
        expect(ids).toContain(mine.id)
        expect(ids).toContain(pair.id)
        expect(ids).not.toContain(theirs.id)
        expect(forOwner.find((r) => r.id === mine.id)).toMatchObject({ kind: 'private', member_count: 2 })
        expect(forOwner.find((r) => r.id === pair.id)).toMatchObject({ kind: 'direct', member_count: 2 })
        const anonymous = await listAll(null)
        expect(anonymous.every((r) => r.kind === 'open' && r.member_count === null)).toBe(true)
        expect(anonymous.length).toBeGreaterThan(0)
      })
    })

    describe('members', () => {
      it('should show the last profile seen for members who took part, to themselves and the app at once, and null for users never seen', async () => {
        const renamed = user(`${tag}-renamed`, 'First Name')
        // Any identified request puts the user in the profile cache.
        await get('/chat/v1/rooms/', as(renamed))
        const second = { ...renamed, nickname: 'Second Name', profile_url: '/media/second.png' }
        await get('/chat/v1/rooms/', as(second))
        const room = await createPrivate(owner, [renamed.user_id, `${tag}-never-seen`])
        const list = async (who: Record<string, string>) => json<(Json & { user_id: string })[]>(await get(`/chat/v1/room/${room.id}/members/`, who))
        const find = (members: (Json & { user_id: string })[], id: string) => members.find((m) => m.user_id === id)
        // The member sees their own as the request forwards it; the cache is written beside the request, a moment later.
        expect(find(await list(as({ ...second, nickname: 'Third Name' })), renamed.user_id)).toMatchObject({ nickname: 'Third Name', role: 'member', last_read_id: 0 })
        await get('/chat/v1/rooms/', as(second))
        for (let i = 0; i < 50 && find(await list(service()), renamed.user_id)?.nickname !== 'Second Name'; i++) await Bun.sleep(20)
        expect(find(await list(service()), renamed.user_id)).toMatchObject({ nickname: 'Second Name', profile_picture_url: '/media/second.png' })
        // To the owner, a member who has not taken part is an id only: naming a user reveals nothing about them.
        expect(find(await list(as(owner)), renamed.user_id)).toMatchObject({ nickname: null, profile_picture_url: null })
        expect((await post('/chat/v1/message/', { room: room.id, message: '안녕하세요!' }, as(second))).status).toBe(201)
        const members = await list(as(owner))
        expect(find(members, renamed.user_id)).toMatchObject({ nickname: 'Second Name', profile_picture_url: '/media/second.png', role: 'member' })
        expect(find(members, `${tag}-never-seen`)).toMatchObject({ nickname: null, profile_picture_url: null })
        expect(members[0]).toMatchObject({ user_id: owner.user_id, role: 'owner', nickname: owner.nickname })
        expect(new Date(String(members[0]!.joined_at)).toISOString()).toBe(String(members[0]!.joined_at))
      })

      it('should let the owner add members (201, then 200) and tell the room; others get 403, open and direct rooms 409', async () => {
        const room = await createPrivate(owner, [member.user_id])
        const socket = await TestSocket.connect(server, room.id, member)
        const added = await post(`/chat/v1/room/${room.id}/members/`, { user_id: outsider.user_id }, as(owner))
        expect(added.status).toBe(201)
        expect(await json(added)).toMatchObject({ user_id: outsider.user_id, role: 'member', last_read_id: 0 })
        expect(await socket.next('chat.member.added')).toEqual({ type: 'chat.member.added', user_id: outsider.user_id })
        expect((await post(`/chat/v1/room/${room.id}/members/`, { user_id: outsider.user_id }, as(owner))).status).toBe(200)
        // Now a member: the room opens to them.
        expect((await get(`/chat/v1/room/${room.id}/`, as(outsider))).status).toBe(200)
        const byMember = await post(`/chat/v1/room/${room.id}/members/`, { user_id: 'someone' }, as(member))
        expect(byMember.status).toBe(403)
        expect(await json(byMember)).toMatchObject({ code: 'not_owner' })
        expect((await post(`/chat/v1/room/${room.id}/members/`, { user_id: 'someone' }, as(user(`${tag}-stranger`)))).status).toBe(403)
        expect((await post(`/chat/v1/room/${room.id}/members/`, { user_id: 'by-service' }, service())).status).toBe(201)
        expect((await post(`/chat/v1/room/${room.id}/members/`, { user_id: '' }, as(owner))).status).toBe(422)

        const open = await post('/chat/v1/create-room/', { name: 'open' }, {})
        const openAdd = await post(`/chat/v1/room/${(await json(open)).id}/members/`, { user_id: 'x' }, service())
        expect(openAdd.status).toBe(409)
        expect(await json(openAdd)).toMatchObject({ code: 'open_room' })
        const pair = (await direct(owner, member.user_id, 555)).room
        const directAdd = await post(`/chat/v1/room/${pair.id}/members/`, { user_id: 'x' }, service())
        expect(directAdd.status).toBe(409)
        expect(await json(directAdd)).toMatchObject({ code: 'direct_room' })
        const directRemove = await call('DELETE', `/chat/v1/room/${pair.id}/members/${encodeURIComponent(member.user_id)}/`, as(member))
        expect(directRemove.status).toBe(409)
        await socket.close()
      })

      it('should refuse a member past MAX_ROOM_MEMBERS with 409 too_many_members', async () => {
        const room = await createPrivate(owner, ['m1', 'm2', 'm3'])
        const full = await post(`/chat/v1/room/${room.id}/members/`, { user_id: 'm4' }, as(owner))
        expect(full.status).toBe(409)
        expect(await json(full)).toMatchObject({ code: 'too_many_members' })
        // Racing adds cannot overshoot the limit either.
        const roomy = await createPrivate(owner, [])
        const answers = await Promise.all(['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((id) => post(`/chat/v1/room/${roomy.id}/members/`, { user_id: id }, as(owner))))
        expect(answers.filter((a) => a.status === 201)).toHaveLength(MAX_ROOM_MEMBERS - 1)
        expect(answers.filter((a) => a.status === 409)).toHaveLength(6 - (MAX_ROOM_MEMBERS - 1))
        expect((await json<Room>(await get(`/chat/v1/room/${roomy.id}/`, as(owner)))).member_count).toBe(MAX_ROOM_MEMBERS)
      })

      it("should remove a member: the room hears it, the removed user's sockets close with 4403, and the room is closed to them", async () => {
        const room = await createPrivate(owner, [member.user_id, outsider.user_id])
        const watcher = await TestSocket.connect(server, room.id, owner)
        const tabs = await Promise.all([TestSocket.connect(server, room.id, member), TestSocket.connect(server, room.id, member)])
        const removed = await call('DELETE', `/chat/v1/room/${room.id}/members/${encodeURIComponent(member.user_id)}/`, as(owner))
        expect(removed.status).toBe(204)
        expect(await watcher.next('chat.member.removed')).toEqual({ type: 'chat.member.removed', user_id: member.user_id })
        for (const tab of tabs) {
          expect(await tab.next('chat.member.removed')).toMatchObject({ user_id: member.user_id })
          expect(await tab.closed).toEqual({ code: 4403, reason: 'removed' })
        }
        expect((await handshake(server, wsPath(room.id, member))).status).toBe(403)
        expect((await post('/chat/v1/message/', { room: room.id, message: 'still here?' }, as(member))).status).toBe(403)
        // The watcher stays.
        watcher.sendMessage('after')
        expect(await watcher.next('chat.message')).toMatchObject({ message: 'after' })
        // Not a member (any more): 404; removing needs the owner, oneself or a service call.
        expect((await call('DELETE', `/chat/v1/room/${room.id}/members/${encodeURIComponent(member.user_id)}/`, as(owner))).status).toBe(404)
        expect((await call('DELETE', `/chat/v1/room/${room.id}/members/${encodeURIComponent(owner.user_id)}/`, as(outsider))).status).toBe(403)
        expect((await call('DELETE', `/chat/v1/room/${room.id}/members/bad%00id/`, as(owner))).status).toBe(400)
        await watcher.close()
      })

      it('should let a member leave, and a service call remove anyone', async () => {
        const room = await createPrivate(owner, [member.user_id, outsider.user_id])
        expect((await call('DELETE', `/chat/v1/room/${room.id}/members/${encodeURIComponent(member.user_id)}/`, as(member))).status).toBe(204)
        expect((await get(`/chat/v1/room/${room.id}/`, as(member))).status).toBe(403)
        expect((await call('DELETE', `/chat/v1/room/${room.id}/members/${encodeURIComponent(outsider.user_id)}/`, service())).status).toBe(204)
        const left = await json<Room>(await get(`/chat/v1/room/${room.id}/`, service()))
        expect(left.members.map((m) => m.user_id)).toEqual([owner.user_id])
      })
    })

    describe('blocks', () => {
      it('should put, list and delete blocks, idempotently, for an identified caller', async () => {
        const me = user(`${tag}-blocker`)
        expect((await call('PUT', `/chat/v1/blocks/${encodeURIComponent(seller.user_id)}/`, as(me))).status).toBe(204)
        expect((await call('PUT', `/chat/v1/blocks/${encodeURIComponent(seller.user_id)}/`, as(me))).status).toBe(204)
        expect((await call('PUT', '/chat/v1/blocks/%EC%98%81%ED%9D%AC/', as(me))).status).toBe(204)
        const list = await json<Json[]>(await get('/chat/v1/blocks/', as(me)))
        expect(list.map((b) => b.user_id)).toEqual([seller.user_id, '영희'])
        expect(new Date(String(list[0]!.created_at)).toISOString()).toBe(String(list[0]!.created_at))
        expect((await call('DELETE', `/chat/v1/blocks/${encodeURIComponent(seller.user_id)}/`, as(me))).status).toBe(204)
        expect((await call('DELETE', `/chat/v1/blocks/${encodeURIComponent(seller.user_id)}/`, as(me))).status).toBe(204)
        expect((await json<Json[]>(await get('/chat/v1/blocks/', as(me)))).map((b) => b.user_id)).toEqual(['영희'])
        expect((await get('/chat/v1/blocks/', {})).status).toBe(401)
        expect((await call('PUT', `/chat/v1/blocks/${encodeURIComponent(me.user_id)}/`, as(me))).status).toBe(400)
        expect((await call('PUT', '/chat/v1/blocks/a%E2%80%AEb/', as(me))).status).toBe(400)
      })

      it('should stop a new direct room and refuse sends in the existing one, for both, over REST and sockets, until unblocked', async () => {
        const [a, b] = [user(`${tag}-block-a`), user(`${tag}-block-b`)]
        const room = (await direct(a, b.user_id, 1)).room
        const [sa, sb] = await Promise.all([TestSocket.connect(server, room.id, a), TestSocket.connect(server, room.id, b)])
        expect((await call('PUT', `/chat/v1/blocks/${encodeURIComponent(b.user_id)}/`, as(a))).status).toBe(204)

        const fresh = await post('/chat/v1/direct-room/', { user_id: a.user_id, post_id: 2 }, as(b))
        expect(fresh.status).toBe(403)
        expect(await json(fresh)).toMatchObject({ code: 'blocked' })
        expect((await direct(a, b.user_id, 1)).status).toBe(403)
        for (const [who, socket] of [
          [a, sa],
          [b, sb],
        ] as const) {
          const rest = await post('/chat/v1/message/', { room: room.id, message: 'hello?' }, as(who))
          expect(rest.status).toBe(403)
          expect(await json(rest)).toMatchObject({ code: 'blocked' })
          socket.sendMessage('over the socket')
          expect(await socket.next('chat.error')).toMatchObject({ code: 'blocked' })
        }
        // Reading stays open: the history is theirs.
        expect((await get(`/chat/v1/room/${room.id}/messages/`, as(b))).status).toBe(200)
        // A socket opened while blocked is refused sends too.
        const late = await TestSocket.connect(server, room.id, b)
        late.sendMessage('late')
        expect(await late.next('chat.error')).toMatchObject({ code: 'blocked' })

        // Both block; one unblocks: still blocked. The other unblocks: sends are taken again, live.
        expect((await call('PUT', `/chat/v1/blocks/${encodeURIComponent(a.user_id)}/`, as(b))).status).toBe(204)
        expect((await call('DELETE', `/chat/v1/blocks/${encodeURIComponent(b.user_id)}/`, as(a))).status).toBe(204)
        expect((await post('/chat/v1/message/', { room: room.id, message: 'x' }, as(a))).status).toBe(403)
        expect((await call('DELETE', `/chat/v1/blocks/${encodeURIComponent(a.user_id)}/`, as(b))).status).toBe(204)
        await sa.barrier()
        sa.sendMessage('talking again')
        expect(await sb.next((f) => f.type === 'chat.message')).toMatchObject({ message: 'talking again' })
        late.sendMessage('late too')
        expect(await sa.next((f) => f.type === 'chat.message' && f.message === 'late too')).toMatchObject({ user_id: b.user_id })
        expect(sa.all('chat.message').map((m) => m.message)).toEqual(['talking again', 'late too'])
        await Promise.all([sa.close(), sb.close(), late.close()])
      })

      it('should refuse a block past the 1000th, but take a repeat of one already held', async () => {
        const hoarder = user(`${tag}-hoarder`)
        for (let start = 0; start < 1000; start += 50) {
          const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => call('PUT', `/chat/v1/blocks/target-${start + i}/`, as(hoarder))))
          expect(answers.every((a) => a.status === 204)).toBe(true)
        }
        const over = await call('PUT', '/chat/v1/blocks/target-1000/', as(hoarder))
        expect(over.status).toBe(409)
        expect(await json(over)).toMatchObject({ code: 'too_many_blocks' })
        expect((await call('PUT', '/chat/v1/blocks/target-7/', as(hoarder))).status).toBe(204)
      }, 30_000)

      it('should leave open and private rooms alone', async () => {
        const [a, b] = [user(`${tag}-calm-a`), user(`${tag}-calm-b`)]
        expect((await call('PUT', `/chat/v1/blocks/${encodeURIComponent(b.user_id)}/`, as(a))).status).toBe(204)
        const team = await createPrivate(a, [b.user_id])
        expect((await post('/chat/v1/message/', { room: team.id, message: 'private ok' }, as(b))).status).toBe(201)
        const open = await json(await post('/chat/v1/create-room/', { name: 'open' }, {}))
        expect((await post('/chat/v1/message/', { room: open.id, message: 'open ok' }, as(b))).status).toBe(201)
      })
    })

    describe('the profile cache', () => {
      it('should keep a profile seen just before a graceful stop', async () => {
        const late = user(`${tag}-late`, 'Seen Last')
        const room = await createPrivate(owner, [late.user_id])
        await get('/chat/v1/rooms/', as(late))
        server = await server.restart()
        const members = await json<(Json & { user_id: string })[]>(await get(`/chat/v1/room/${room.id}/members/`, service()))
        expect(members.find((m) => m.user_id === late.user_id)).toMatchObject({ nickname: 'Seen Last' })
      })
    })
  })
}
