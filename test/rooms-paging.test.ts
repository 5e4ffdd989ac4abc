import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { STORES, startStoreServer } from './support/cluster.ts'
import { alice, bob, identityHeaders, type TestServer } from './support/server.ts'

// The rooms list keeps the seed's bare array; a front end that reads only the array sees the
// newest rooms, and `Link: rel="next"` makes every other room findable.
type Summary = { id: number; kind: string; name: string }

/** The target of `rel="next"` in a Link header, or null. */
function nextOf(response: Response): string | null {
  const link = response.headers.get('link')
  if (!link) return null
  const match = /<([^>]*)>\s*;\s*rel="next"/.exec(link)
  expect(match).not.toBeNull()
  return match![1]!
}

for (const store of STORES) {
  describe(`rooms list paging on ${store.name}`, () => {
    let server: TestServer
    const open: number[] = []
    const alicePrivate: number[] = []
    const bobPrivate: number[] = []

    beforeAll(async () => {
      server = await startStoreServer(store)
      // 120 open rooms with a few private ones in between, created one at a time so ids ascend.
      for (let i = 0; i < 120; i++) {
        const res = await server.post('/chat/v1/create-room/', { name: `방 ${i}` })
        open.push(((await res.json()) as Summary).id)
        if (i % 40 === 7) {
          const mine = await server.post('/chat/v1/create-room/', { name: `비공개 ${i}`, kind: 'private' }, identityHeaders(alice))
          alicePrivate.push(((await mine.json()) as Summary).id)
          const theirs = await server.post('/chat/v1/create-room/', { name: `남의 방 ${i}`, kind: 'private' }, identityHeaders(bob))
          bobPrivate.push(((await theirs.json()) as Summary).id)
        }
      }
    }, 60_000)
    afterAll(async () => {
      await server?.destroy()
    })

    it('should answer the newest 50 first, newest at the top, with a Link to the next page', async () => {
      const res = await server.http('/chat/v1/rooms/')
      expect(res.status).toBe(200)
      const rooms = (await res.json()) as Summary[]
      expect(Array.isArray(rooms)).toBe(true)
      expect(rooms).toHaveLength(50)
      const newest = [...open].sort((a, b) => b - a).slice(0, 50)
      expect(rooms.map((r) => r.id)).toEqual(newest)
      expect(nextOf(res)).toBe(`?limit=50&before=${newest.at(-1)}`)
    })

    it("should find every room the caller may see exactly once by following rel=next, and no one else's", async () => {
      const seen: number[] = []
      let url: string | null = `${server.base}/chat/v1/rooms/?limit=17`
      let pages = 0
      while (url) {
        const res: Response = await fetch(url, { headers: identityHeaders(alice) })
        expect(res.status).toBe(200)
        const page = (await res.json()) as Summary[]
        expect(page.length).toBeGreaterThan(0)
        expect(page.length).toBeLessThanOrEqual(17)
        seen.push(...page.map((r) => r.id))
        const next = nextOf(res)
        url = next === null ? null : new URL(next, res.url).href
        pages++
      }
      const visible = [...open, ...alicePrivate].sort((a, b) => b - a)
      expect(seen).toEqual(visible)
      expect(pages).toBe(Math.ceil(visible.length / 17))
      for (const id of bobPrivate) expect(seen).not.toContain(id)
    })

    it('should not send a Link on the last page, also when it is exactly full', async () => {
      const total = open.length + alicePrivate.length
      const all = await fetch(`${server.base}/chat/v1/rooms/?limit=${total}`, { headers: identityHeaders(alice) })
      expect(((await all.json()) as Summary[]).length).toBe(total)
      expect(all.headers.get('link')).toBeNull()
      const short = await fetch(`${server.base}/chat/v1/rooms/?limit=${total - 1}`, { headers: identityHeaders(alice) })
      expect(nextOf(short)).not.toBeNull()
    })

    it('should page oldest first with after, and link onward the same way', async () => {
      const first = await server.http('/chat/v1/rooms/?after=0&limit=5')
      const rooms = (await first.json()) as Summary[]
      expect(rooms.map((r) => r.id)).toEqual([...open].sort((a, b) => a - b).slice(0, 5))
      expect(nextOf(first)).toBe(`?limit=5&after=${rooms.at(-1)!.id}`)
    })

    it('should keep the prefix a gateway serves the API under when the link is resolved', async () => {
      const res = await server.http('/chat/v1/rooms/?limit=3')
      const next = nextOf(res)!
      expect(new URL(next, 'https://gw.example.com/api/chat/chat/v1/rooms/?limit=3').href).toBe(`https://gw.example.com/api/chat/chat/v1/rooms/${next}`)
    })

    it('should refuse before and after together with 400 invalid_query', async () => {
      const res = await server.http('/chat/v1/rooms/?before=10&after=2')
      expect(res.status).toBe(400)
      expect(await res.json()).toMatchObject({ code: 'invalid_query' })
    })
  })
}
