import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { SQL } from 'bun'
import { Database } from 'bun:sqlite'
import { join } from 'node:path'
import { createDatabase } from './support/cluster.ts'
import { alice, createRoom, identityHeaders, startTestServer, type TestServer } from './support/server.ts'

// Ids are positive integers up to Number.MAX_SAFE_INTEGER on both stores: what the REST schemas
// accept, the columns hold, and what comes back is the same number.
const LARGEST = Number.MAX_SAFE_INTEGER
const ABOVE_INT4 = 2 ** 31

interface Backend {
  name: string
  start(): Promise<TestServer>
  /** Makes the next room id `next` (the database's own counter). */
  nextRoomId(server: TestServer, next: number): Promise<void>
  stop(): Promise<void>
}

function sqlite(): Backend {
  let server: TestServer
  return {
    name: 'SQLite',
    async start() {
      return (server = await startTestServer())
    },
    async nextRoomId(server, next) {
      const db = new Database(join(server.dir, 'chat.db'))
      db.run(`UPDATE sqlite_sequence SET seq = ${next - 1} WHERE name = 'rooms'`)
      db.close()
    },
    async stop() {
      await server?.destroy()
    },
  }
}

function postgres(): Backend {
  let server: TestServer
  let db: Awaited<ReturnType<typeof createDatabase>>
  return {
    name: 'Postgres',
    async start() {
      db = await createDatabase()
      return (server = await startTestServer({ DATABASE_URL: db.url }))
    },
    async nextRoomId(_server, next) {
      const sql = new SQL(db.url, { max: 1 })
      await sql.unsafe(`SELECT setval(pg_get_serial_sequence('rooms', 'id'), ${next - 1})`)
      await sql.close()
    },
    async stop() {
      await server?.destroy()
      await db?.drop()
    },
  }
}

for (const backend of [sqlite(), postgres()]) {
  describe(`large ids on ${backend.name}`, () => {
    let server: TestServer
    beforeAll(async () => {
      server = await backend.start()
    })
    afterAll(() => backend.stop())

    it('should round-trip the largest post_id, as a number and as a string', async () => {
      const created = await server.post('/chat/v1/create-room/', { name: 'largest', post_id: LARGEST })
      expect(created.status).toBe(201)
      const room = (await created.json()) as { id: number; post_id: number }
      expect(room.post_id).toBe(LARGEST)
      const again = await server.post('/chat/v1/create-room/', { name: 'largest again', post_id: String(LARGEST) })
      expect(again.status).toBe(200)
      expect(((await again.json()) as { id: number }).id).toBe(room.id)
      const detail = (await (await server.http(`/chat/v1/room/${room.id}/`)).json()) as { post_id: number }
      expect(detail.post_id).toBe(LARGEST)
      const listed = (await (await server.http('/chat/v1/rooms/?limit=200')).json()) as { id: number; post_id: number }[]
      expect(listed.find((r) => r.id === room.id)?.post_id).toBe(LARGEST)
    })

    it('should take a post_id above 2^31', async () => {
      const res = await server.post('/chat/v1/create-room/', { name: 'int4', post_id: ABOVE_INT4 })
      expect(res.status).toBe(201)
      expect(((await res.json()) as { post_id: number }).post_id).toBe(ABOVE_INT4)
    })

    it('should refuse a post_id above Number.MAX_SAFE_INTEGER with 422, as a number and as a string', async () => {
      for (const postId of [LARGEST + 1, String(LARGEST + 1), '99999999999999999']) {
        const res = await server.post('/chat/v1/create-room/', { name: 'too large', post_id: postId })
        expect({ postId, status: res.status }).toEqual({ postId, status: 422 })
      }
    })

    it('should answer 404 for the largest room id that does not exist, not 500', async () => {
      expect((await server.http(`/chat/v1/room/${LARGEST}/`)).status).toBe(404)
      expect((await server.http(`/chat/v1/room/${LARGEST}/messages/`)).status).toBe(404)
      const send = await server.post('/chat/v1/message/', { message: 'hi', room: LARGEST }, identityHeaders(alice))
      expect(send.status).toBe(404)
      expect((await server.http(`/chat/v1/room/${LARGEST + 1}/`)).status).toBe(404)
    })

    it('should store and read messages in a room whose id is above 2^31', async () => {
      await createRoom(server, 'before')
      await backend.nextRoomId(server, ABOVE_INT4 + 5)
      const roomId = await createRoom(server, 'big id')
      expect(roomId).toBe(ABOVE_INT4 + 5)
      const sent = await server.post('/chat/v1/message/', { message: 'in a big room', room: roomId }, identityHeaders(alice))
      expect(sent.status).toBe(201)
      expect(((await sent.json()) as { room: number }).room).toBe(roomId)
      const history = (await (await server.http(`/chat/v1/room/${roomId}/messages/`)).json()) as { room: number; message: string }[]
      expect(history).toEqual([expect.objectContaining({ room: roomId, message: 'in a big room' })])
      expect(((await (await server.http(`/chat/v1/room/${roomId}/`)).json()) as { id: number }).id).toBe(roomId)
    })
  })
}
