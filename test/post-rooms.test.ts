import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES, startStoreServer } from './support/cluster.ts'
import { identityHeaders, type TestServer, type TestUser } from './support/server.ts'

// Rooms that know their post: the rooms list filtered by post_id (a seller's chats about a post),
// each caller seeing only the rooms the membership rule lets them see.

const seller: TestUser = { user_id: 'u-seller', nickname: '판매자', email: 'seller@example.com' }
const buyer1: TestUser = { user_id: 'u-buyer1', nickname: '구매자1', email: 'b1@example.com' }
const buyer2: TestUser = { user_id: 'u-buyer2', nickname: '구매자2', email: 'b2@example.com' }

for (const store of STORES) {
  describe(`the rooms of a post on ${store.name}`, () => {
    let server: TestServer
    const ids: Record<string, number> = {}

    beforeAll(async () => {
      server = await startStoreServer(store)
      const made = async (name: string, res: Promise<Response>) => {
        const answer = await res
        if (answer.status !== 201) throw new Error(`${name}: ${answer.status} ${await answer.text()}`)
        ids[name] = ((await answer.json()) as { id: number }).id
      }
      await made('open', server.post('/chat/v1/create-room/', { name: '자전거 팝니다', post_id: 31 }))
      await made('private', server.post('/chat/v1/create-room/', { name: '거래 조율', kind: 'private', post_id: 31, members: [buyer1.user_id] }, identityHeaders(seller)))
      await made('direct1', server.post('/chat/v1/direct-room/', { user_id: buyer1.user_id, post_id: 31 }, identityHeaders(seller)))
      await made('direct2', server.post('/chat/v1/direct-room/', { user_id: seller.user_id, post_id: 31 }, identityHeaders(buyer2)))
      await made('other', server.post('/chat/v1/direct-room/', { user_id: buyer1.user_id, post_id: 32 }, identityHeaders(seller)))
      await made('none', server.post('/chat/v1/create-room/', { name: '잡담' }))
    })
    afterAll(() => server?.destroy())

    const listed = async (query: string, user?: TestUser) => {
      const res = await server.http(`/chat/v1/rooms/?${query}`, { headers: user ? identityHeaders(user) : {} })
      expect(res.status).toBe(200)
      return { ids: ((await res.json()) as { id: number; post_id: number | null }[]).map((r) => r.id), link: res.headers.get('link') }
    }

    it("should list only the post's rooms the caller may see", async () => {
      expect((await listed('post_id=31', seller)).ids).toEqual([ids.direct2!, ids.direct1!, ids.private!, ids.open!])
      expect((await listed('post_id=31', buyer1)).ids).toEqual([ids.direct1!, ids.private!, ids.open!])
      expect((await listed('post_id=31', buyer2)).ids).toEqual([ids.direct2!, ids.open!])
      expect((await listed('post_id=31')).ids).toEqual([ids.open!])
      expect((await listed('post_id=32', seller)).ids).toEqual([ids.other!])
      expect((await listed('post_id=99', seller)).ids).toEqual([])
    })

    it('should keep the filter in the next page’s link, and page through every room of the post', async () => {
      const seen: number[] = []
      let query = 'post_id=31&limit=1'
      for (let page = 0; page < 10; page++) {
        const { ids: got, link } = await listed(query, seller)
        seen.push(...got)
        if (!link) break
        expect(link).toContain('post_id=31')
        query = /<\?([^>]+)>/.exec(link)![1]!
      }
      expect(seen).toEqual([ids.direct2!, ids.direct1!, ids.private!, ids.open!])
    })

    it('should refuse a post_id that is not a positive integer', async () => {
      for (const bad of ['0', '-1', 'x', '1.5']) {
        expect((await server.http(`/chat/v1/rooms/?post_id=${bad}`)).status).toBe(400)
        expect((await server.http(`/chat/v1/inbox/?post_id=${bad}`, { headers: identityHeaders(seller) })).status).toBe(400)
      }
    })

    it("should filter the inbox to a post's rooms, page by page", async () => {
      // Sending to the open room makes the seller one of its participants (in their inbox).
      expect((await server.post('/chat/v1/message/', { room: ids.open, message: '네고 가능해요' }, identityHeaders(seller))).status).toBe(201)
      const inbox = async (query: string, user: TestUser) => {
        const res = await server.http(`/chat/v1/inbox/?${query}`, { headers: identityHeaders(user) })
        expect(res.status).toBe(200)
        return (await res.json()) as { rooms: { id: number; post_id: number | null }[]; next_cursor: string | null }
      }
      const all = await inbox('post_id=31', seller)
      expect(all.rooms.map((r) => r.id).sort((a, b) => a - b)).toEqual([ids.open!, ids.private!, ids.direct1!, ids.direct2!].sort((a, b) => a - b))
      expect(all.rooms.every((r) => r.post_id === 31)).toBe(true)
      expect((await inbox('post_id=32', seller)).rooms.map((r) => r.id)).toEqual([ids.other!])
      expect((await inbox('post_id=31', buyer2)).rooms.map((r) => r.id)).toEqual([ids.direct2!])
      const paged: number[] = []
      let cursor: string | null = null
      do {
        const page: Awaited<ReturnType<typeof inbox>> = await inbox(`post_id=31&limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, seller)
        paged.push(...page.rooms.map((r) => r.id))
        cursor = page.next_cursor
      } while (cursor && paged.length < 10)
      expect(paged).toEqual(all.rooms.map((r) => r.id))
    })
  })
}
