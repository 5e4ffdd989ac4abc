import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { createDatabase } from './support/cluster.ts'
import { createRoom, identityHeaders, startTestServer, storedIds, type TestServer, type TestUser } from './support/server.ts'

// Text the HTTP rules let through but no store keeps as given (a lone surrogate: both databases
// would keep U+FFFD instead) is refused with 422, and only the request that carried it fails.
const backends = [
  { name: 'SQLite', database: async () => ({ env: {}, drop: async () => {} }) },
  {
    name: 'Postgres',
    database: async () => {
      const db = await createDatabase()
      return { env: { DATABASE_URL: db.url }, drop: db.drop }
    },
  },
]

for (const backend of backends) {
  describe(`unstorable text on ${backend.name}`, () => {
    let server: TestServer
    let drop: () => Promise<void>
    beforeAll(async () => {
      const db = await backend.database()
      drop = db.drop
      server = await startTestServer(db.env)
    })
    afterAll(async () => {
      await server.destroy()
      await drop()
    })

    it("should refuse it with 422 and store everyone else's messages sent at the same moment", async () => {
      const rooms = [await createRoom(server, 'one'), await createRoom(server, 'two')]
      const user = (i: number): TestUser => ({ user_id: `user-${i}`, nickname: `User ${i}`, email: `user${i}@example.com` })
      const sends = Array.from({ length: 20 }, (_, i) => server.post('/chat/v1/message/', { message: `hello ${i}`, room: rooms[i % 2] }, identityHeaders(user(i))))
      sends.splice(7, 0, server.post('/chat/v1/message/', { message: 'broken \ud800 text', room: rooms[0] }, identityHeaders(user(99))))
      const answers = await Promise.all(sends)
      expect(answers.map((r) => r.status)).toEqual(answers.map((_, i) => (i === 7 ? 422 : 201)))
      const refusal = (await answers[7]!.json()) as { code: string; errors: { path: string }[] }
      expect(refusal).toMatchObject({ code: 'validation_failed', errors: [{ path: 'message' }] })
      expect((await storedIds(server, rooms[0]!)).length + (await storedIds(server, rooms[1]!)).length).toBe(20)
    })

    it('should refuse a room name it cannot store with 422', async () => {
      const res = await server.post('/chat/v1/create-room/', { name: 'room \udfff' })
      expect(res.status).toBe(422)
    })
  })
}
