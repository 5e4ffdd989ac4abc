import { afterEach, describe, expect, it } from 'bun:test'
import type { Store } from '../src/store/store.ts'
import { OLD_DATABASES, type OldDatabase } from './support/old-database.ts'

// A database the previous release left, with rooms and messages, upgraded to room versions: every
// stored message was one change of its room, so versions continue from each room's count and a
// client can ask for what changed from there.

/** A database as the server left it before room versions. */
const beforeVersions = (statement: string) => statement.includes('created_version')

for (const [name, old] of OLD_DATABASES) {
  describe(`room versions after an upgrade on ${name}`, () => {
    let database: OldDatabase | undefined
    let store: Store | undefined
    afterEach(async () => {
      await store?.close()
      await database?.drop()
      store = database = undefined
    })

    it("should number the stored messages' changes by position, and go on from each room's count", async () => {
      database = await old(beforeVersions)
      await database.exec("INSERT INTO rooms (name, created_at) VALUES ('one', 1), ('two', 1)")
      await database.exec("INSERT INTO messages (room_id, seq, user_id, email, nickname, body, created_at) VALUES (1, 1, 'u1', 'e', 'U', 'a', 1), (2, 1, 'u1', 'e', 'U', 'b', 1), (1, 2, 'u2', 'e', 'U', 'c', 1)")
      await database.exec('UPDATE rooms SET last_seq = (SELECT count(*) FROM messages WHERE room_id = rooms.id), last_message_id = (SELECT max(id) FROM messages WHERE room_id = rooms.id), last_message_at = 1')
      store = await database.open()
      expect([await store.lastVersion(1), await store.lastVersion(2)]).toEqual([2, 1])
      const before = await store.listMessages(1, { limit: 10 })
      expect(before.map((m) => [m.body, m.version, m.createdVersion, m.deleted, m.editedAt, m.replyTo, m.reactions])).toEqual([
        ['a', 1, 1, false, null, null, []],
        ['c', 2, 2, false, null, null, []],
      ])
      const rules = { editWindowMs: Number.MAX_SAFE_INTEGER, unsendWindowMs: Number.MAX_SAFE_INTEGER, maxReactions: 20, fileRetentionMs: 0 }
      const edited = await store.changeMessage({ roomId: 1, messageId: before[0]!.id, by: 'u1', service: false, change: { type: 'edit', body: 'a, fixed' }, at: Date.now(), rules })
      expect(edited.message.version).toBe(3)
      const next = await store.appendMessage({ roomId: 1, userId: 'u1', email: 'e@example.com', nickname: 'U', profileUrl: null, body: 'd', clientMsgId: null, createdAt: Date.now() })
      expect(next.message.version).toBe(4)
      const changes = await store.changesAfter(1, 2, 10)
      expect([changes.version, changes.truncated, changes.messages.map((m) => [m.body, m.version])]).toEqual([
        4,
        false,
        [
          ['a, fixed', 3],
          ['d', 4],
        ],
      ])
      expect((await store.changesAfter(2, 0, 10)).messages.map((m) => m.version)).toEqual([1])
    })
  })
}
