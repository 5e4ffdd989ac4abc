import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES, startStoreServer } from './support/cluster.ts'
import { identityHeaders, type TestServer, type TestUser } from './support/server.ts'

// A direct room names the other member (`peer`), and every answer shows the caller's own member
// entry with the identity of the request it answers, not the profile cache (written a moment later).
const SERVICE_SECRET = 'service-secret-of-the-app-backend'

type Member = { user_id: string; nickname: string | null; profile_picture_url: string | null }
type Summary = { id: number; kind: string; name: string; peer: Member | null }
type Room = Summary & { members: Member[] }
type Inbox = { rooms: Room[] }

for (const store of STORES) {
  describe(`direct room peers on ${store.name}`, () => {
    let server: TestServer
    // Ids no other request of this run has used, so the buyer's first request is really their first.
    const run = `${store.name.toLowerCase()}-${crypto.randomUUID().slice(0, 8)}`
    const buyer: TestUser = { user_id: `${run}-buyer`, nickname: '김구매자', email: 'buyer@example.com', profile_url: '/media/buyer.png' }
    const seller: TestUser = { user_id: `${run}-seller`, nickname: '박판매자', email: 'seller@example.com', profile_url: '/media/seller.png' }
    let roomId = 0

    beforeAll(async () => {
      server = await startStoreServer(store, { SERVICE_SECRET })
    })
    afterAll(async () => {
      await server?.destroy()
    })

    const as = (who: TestUser) => identityHeaders(who)
    const service = { 'x-service-secret': SERVICE_SECRET }
    const get = async <T>(path: string, headers: Record<string, string>): Promise<T> => {
      const res = await server.http(path, { headers })
      expect(res.status).toBe(200)
      return (await res.json()) as T
    }
    const detail = (who: Record<string, string>) => get<Room>(`/chat/v1/room/${roomId}/`, who)
    const listed = async (who: TestUser) => (await get<Summary[]>('/chat/v1/rooms/?limit=200', as(who))).find((r) => r.id === roomId)
    const inboxed = async (who: TestUser) => (await get<Inbox>('/chat/v1/inbox/', as(who))).rooms.find((r) => r.id === roomId)
    const own = (room: Room, who: TestUser) => room.members.find((m) => m.user_id === who.user_id)
    const unnamed = (who: TestUser) => ({ user_id: who.user_id, nickname: null, profile_picture_url: null })
    const named = (who: TestUser) => ({ user_id: who.user_id, nickname: who.nickname, profile_picture_url: who.profile_url ?? null })

    it("should answer a user's very first request, a direct room, with their own nickname and the other member as peer", async () => {
      // The seller has been seen before (their profile is cached); the buyer never has.
      await get('/chat/v1/rooms/', as(seller))
      const res = await server.post('/chat/v1/direct-room/', { user_id: seller.user_id, post_id: 31 }, as(buyer))
      expect(res.status).toBe(201)
      const room = (await res.json()) as Room
      roomId = room.id
      expect(room).toMatchObject({ kind: 'direct', name: '' })
      expect(own(room, buyer)).toMatchObject(named(buyer))
      // The seller has not taken part yet: named by id only.
      expect(room.peer).toEqual(unnamed(seller))
    })

    it('should name the peer in the listing, the detail and the inbox, each side the other, and nobody to service calls', async () => {
      expect((await listed(buyer))?.peer).toEqual(unnamed(seller))
      expect((await detail(as(buyer))).peer).toEqual(unnamed(seller))
      expect((await inboxed(buyer))?.peer).toEqual(unnamed(seller))
      const seen = await detail(as(seller))
      expect(seen.peer).toEqual(unnamed(buyer))
      expect(own(seen, seller)).toMatchObject(named(seller))
      expect((await detail(service)).peer).toBeNull()
      expect((await detail({ ...as(buyer), ...service })).peer).toBeNull()
    })

    it("should show the peer's nickname and picture once they have sent a message", async () => {
      const sent = await server.post('/chat/v1/message/', { room: roomId, message: '안녕하세요, 아직 판매 중입니다' }, as(seller))
      expect(sent.status).toBe(201)
      // The seller's profile was cached by their earlier request; its write may trail by a moment.
      for (let i = 0; i < 50 && (await detail(as(buyer))).peer?.nickname !== seller.nickname; i++) await Bun.sleep(20)
      expect((await detail(as(buyer))).peer).toEqual(named(seller))
      expect((await listed(buyer))?.peer).toEqual(named(seller))
      expect((await inboxed(buyer))?.peer).toEqual(named(seller))
      const again = await server.post('/chat/v1/direct-room/', { user_id: seller.user_id, post_id: 31 }, as(buyer))
      expect(again.status).toBe(200)
      expect(((await again.json()) as Room).peer).toEqual(named(seller))
    })

    it("should show the caller's own entry as this request forwards it, before the profile cache has it", async () => {
      const renamed = { ...buyer, nickname: '김구매자 (새 이름)', profile_url: '/media/buyer-2.png' }
      expect(own(await detail(as(renamed)), buyer)).toMatchObject(named(renamed))
      expect(own((await inboxed(renamed))!, buyer)).toMatchObject(named(renamed))
      const members = await get<Member[]>(`/chat/v1/room/${roomId}/members/`, as(renamed))
      expect(members.find((m) => m.user_id === buyer.user_id)).toMatchObject(named(renamed))
    })

    it('should give open and private rooms no peer', async () => {
      const open = await server.post('/chat/v1/create-room/', { name: 'open', post_id: 31 }, as(buyer))
      const team = await server.post('/chat/v1/create-room/', { name: 'team', kind: 'private', members: [seller.user_id] }, as(buyer))
      for (const res of [open, team]) expect(((await res.json()) as Room).peer).toBeNull()
      const rooms = await get<Summary[]>('/chat/v1/rooms/?limit=200', as(buyer))
      expect(rooms.filter((r) => r.kind !== 'direct').every((r) => r.peer === null)).toBe(true)
    })
  })
}
