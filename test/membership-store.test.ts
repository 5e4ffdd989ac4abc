import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PostgresStore } from '../src/store/postgres-store.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import { NotAMemberError, RoomClosedError, type NewMessage, type RoomRow, type Store } from '../src/store/store.ts'
import { createDatabase } from './support/cluster.ts'
import { OLD_DATABASES } from './support/old-database.ts'

// The membership rule where writes commit, in each store: whatever a route checked before, the
// write itself refuses a user who is not (or no longer) allowed, and never gives anyone a place
// in a private room by writing.

const backends = [
  {
    name: 'SQLite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'chat-membership-'))
      const store = SqliteStore.open(join(dir, 'chat.db'))
      return { store: store as Store, close: async () => (await store.close(), rmSync(dir, { recursive: true, force: true })) }
    },
  },
  {
    name: 'Postgres',
    async open() {
      const db = await createDatabase()
      const store = await PostgresStore.open(db.url)
      return { store: store as Store, close: async () => (await store.close(), await db.drop()) }
    },
  },
]

const message = (roomId: number, userId: string, body: string, viaService = false): NewMessage => ({
  roomId,
  userId,
  email: `${userId}@example.com`,
  nickname: userId,
  profileUrl: null,
  body,
  clientMsgId: null,
  createdAt: Date.now(),
  viaService,
})

for (const backend of backends) {
  describe(`membership where writes commit, on ${backend.name}`, () => {
    let store: Store
    let close: () => Promise<void>
    beforeAll(async () => {
      ;({ store, close } = await backend.open())
    })
    afterAll(async () => close?.())

    async function privateRoom(owner: string, members: string[]): Promise<RoomRow> {
      const room = await store.membership.createPrivateRoom({ name: 'team', postId: null, ownerId: owner, members, addedBy: owner })
      if (room === 'blocked') throw new Error('unexpected block')
      return room
    }
    const rolesOf = async (roomId: number, users: string[]) => Promise.all(users.map((u) => store.membership.roleOf(roomId, u)))

    it('should refuse a message from a non-member of a private room, alone in its batch, and take the app backend’s without a place for its sender', async () => {
      const room = await privateRoom('owner', ['member'])
      const [ok, refused, service] = await Promise.allSettled([
        store.appendMessage(message(room.id, 'member', 'hi')),
        store.appendMessage(message(room.id, 'stranger', 'let me in')),
        store.appendMessage(message(room.id, 'bot', '주문 접수', true)),
      ])
      expect(ok.status).toBe('fulfilled')
      expect(refused.status === 'rejected' && refused.reason).toBeInstanceOf(NotAMemberError)
      expect(service.status).toBe('fulfilled')
      expect(await rolesOf(room.id, ['member', 'stranger', 'bot'])).toEqual(['member', null, null])
      // The member's marker moved with their message; nobody else's was made.
      const [memberState] = await store.membership.readStates('member', room.id)
      expect(memberState?.lastReadId).toBe(ok.status === 'fulfilled' ? ok.value.message.id : -1)
    })

    it('should read the members of several rooms at once as it reads each room alone, leaving out participants of open rooms', async () => {
      const team = await privateRoom('owner-m', ['member-b', 'member-a'])
      const { room: pair } = await store.membership.directRoom({ a: 'buyer-m', b: 'seller-m', postId: 42, name: '직거래' })
      await store.membership.saveProfiles([{ userId: 'seller-m', nickname: '판매자', email: 'seller@example.com', profileUrl: 'https://example.com/s.png' }])
      const { room: open } = await store.createRoom({ name: '공개방', postId: null })
      await store.membership.markRead(open.id, 'reader-m', 0)
      const ids = [team.id, pair.id, open.id, 987_654_321]
      const each = new Map(await Promise.all(ids.map(async (id) => [id, await store.membership.members(id)] as const)))
      expect(each.get(team.id)?.map((m) => m.userId)).toEqual(['owner-m', 'member-a', 'member-b'])
      expect(each.get(pair.id)?.find((m) => m.userId === 'seller-m')?.nickname).toBe('판매자')
      expect(each.get(open.id)).toEqual([])
      expect(await store.membership.membersOfRooms(ids)).toEqual(each)
    })

    it("should refuse a change of a message by someone no longer a member, in the change's own transaction", async () => {
      const room = await privateRoom('owner', ['member'])
      const sent = (await store.appendMessage(message(room.id, 'member', 'mine'))).message
      expect(await store.membership.removeMember(room.id, 'member', 'owner')).toEqual({ version: 2 })
      const rules = { editWindowMs: 86_400_000, unsendWindowMs: 86_400_000, maxReactions: 20, fileRetentionMs: 0 }
      for (const change of [{ type: 'edit', body: 'still mine?' }, { type: 'unsend' }, { type: 'react', emoji: '👍', add: true }] as const) {
        const refused = store.changeMessage({ roomId: room.id, messageId: sent.id, by: 'member', service: false, change, at: Date.now(), rules })
        await expect(refused).rejects.toBeInstanceOf(NotAMemberError)
      }
      expect((await store.listMessages(room.id, { limit: 10 }))[0]).toMatchObject({ body: 'mine', version: 1, deleted: false, reactions: [] })
    })

    it("should refuse a read marker of a non-member of a private room, and make an open room's reader a participant", async () => {
      const room = await privateRoom('owner', [])
      await store.appendMessage(message(room.id, 'owner', 'first'))
      expect(await store.membership.markRead(room.id, 'stranger', 1e12)).toBeNull()
      expect(await rolesOf(room.id, ['stranger'])).toEqual([null])
      const { room: open } = await store.createRoom({ name: 'open', postId: null })
      expect(await store.membership.markRead(open.id, 'reader', 0)).toMatchObject({ joined: true })
      expect(await rolesOf(open.id, ['reader'])).toEqual(['participant'])
    })

    it('should check the owner where a member change commits: someone who is not (or no longer) the owner changes nothing', async () => {
      const room = await privateRoom('owner', ['member', 'other'])
      expect(await store.membership.addMember(room.id, 'newcomer', 100, 'member')).toBe('not_owner')
      expect(await store.membership.removeMember(room.id, 'other', 'member')).toBe('not_owner')
      // A member may always leave; the owner who left owns nothing any more.
      // Each removal is a change of the room: it moves the room's version.
      expect(await store.membership.removeMember(room.id, 'member', 'member')).toEqual({ version: 1 })
      expect(await store.membership.removeMember(room.id, 'owner', 'owner')).toEqual({ version: 2 })
      expect(await store.membership.addMember(room.id, 'newcomer', 100, 'owner')).toBe('not_owner')
      expect(await store.membership.removeMember(room.id, 'other', 'owner')).toBe('not_owner')
      expect(await rolesOf(room.id, ['newcomer', 'other'])).toEqual([null, 'member'])
      // The app's backend is not a member and needs not be one.
      expect(await store.membership.addMember(room.id, 'newcomer', 100, null)).toBe('added')
      expect(await store.membership.removeMember(room.id, 'other', null)).toEqual({ version: 3 })
      expect(await store.membership.removeMember(room.id, 'other', null)).toBe('absent')
    })

    it('should refuse sends and changes in a direct room whose pair blocked each other, where they commit, and take them again after the unblock', async () => {
      const { room } = await store.membership.directRoom({ a: 'buyer-b', b: 'seller-b', postId: 77, name: '직거래' })
      const sent = (await store.appendMessage(message(room.id, 'buyer-b', '아직 팔리지 않았나요?'))).message
      // Whatever a route checked before: the block commits first, the writes after it are refused.
      await store.membership.block('seller-b', 'buyer-b')
      const refusals = await Promise.allSettled([
        store.appendMessage(message(room.id, 'buyer-b', '왜 답이 없으세요')),
        store.appendMessage(message(room.id, 'seller-b', '차단했어요')),
        store.appendMessage(message(room.id, 'bot', '거래 안내', true)),
      ])
      for (const refused of refusals) expect(refused.status === 'rejected' && refused.reason instanceof RoomClosedError && refused.reason.code).toBe('blocked')
      const rules = { editWindowMs: 86_400_000, unsendWindowMs: 86_400_000, maxReactions: 20, fileRetentionMs: 0 }
      const edit = store.changeMessage({ roomId: room.id, messageId: sent.id, by: 'buyer-b', service: false, change: { type: 'edit', body: '고쳐 볼게요' }, at: Date.now(), rules })
      await expect(edit).rejects.toMatchObject({ code: 'blocked' })
      expect((await store.listMessages(room.id, { limit: 10 })).map((m) => m.body)).toEqual(['아직 팔리지 않았나요?'])
      // Another pair's room, and the pair's room after the unblock, take messages.
      const { room: other } = await store.membership.directRoom({ a: 'buyer-b', b: 'someone-else', postId: 77, name: '직거래' })
      await store.appendMessage(message(other.id, 'buyer-b', '안녕하세요'))
      await store.membership.unblock('seller-b', 'buyer-b')
      await store.appendMessage(message(room.id, 'seller-b', '다시 얘기해요'))
      expect((await store.listMessages(room.id, { limit: 10 })).map((m) => m.body).sort()).toEqual(['다시 얘기해요', '아직 팔리지 않았나요?'].sort())
    })

    it('should refuse to add, or to create a room with, someone who has blocked the one adding them', async () => {
      await store.membership.block('shy', 'pushy')
      expect(await store.membership.createPrivateRoom({ name: 'p', postId: null, ownerId: 'pushy', members: ['friend', 'shy'], addedBy: 'pushy' })).toBe('blocked')
      const room = await privateRoom('pushy', ['friend'])
      expect(await store.membership.addMember(room.id, 'shy', 100, 'pushy')).toBe('blocked')
      expect(await rolesOf(room.id, ['shy'])).toEqual([null])
      expect(await store.membership.blockersIn(room.id, 'pushy')).toEqual(new Set())
      expect(await store.membership.addMember(room.id, 'shy', 100, null)).toBe('added')
      expect(await store.membership.blockersIn(room.id, 'pushy')).toEqual(new Set(['shy']))
    })
  })
}

for (const [name, old] of OLD_DATABASES) {
  describe(`upgrading to the membership rule on ${name}`, () => {
    it('should drop the participant rows an older server left in private and direct rooms, and keep every other row', async () => {
      const database = await old((statement) => statement.includes('blocks_blocked_id_user_id'))
      const now = Date.now()
      await database.exec(`insert into rooms (id, name, created_at, kind, owner_id) values (1, 'open', ${now}, 'open', null), (2, 'team', ${now}, 'private', 'owner')`)
      await database.exec(`insert into rooms (id, name, created_at, kind, direct_key) values (3, '', ${now}, 'direct', 'a\u001fb\u001f')`)
      await database.exec(`insert into members (room_id, user_id, role, last_read_id, joined_at) values
        (1, 'reader', 'participant', 0, ${now}), (2, 'owner', 'owner', 0, ${now}), (2, 'member', 'member', 0, ${now}), (2, 'ghost', 'participant', 0, ${now}),
        (3, 'a', 'member', 0, ${now}), (3, 'b', 'member', 0, ${now}), (3, 'intruder', 'participant', 0, ${now})`)
      const store = await database.open()
      try {
        const roles = async (roomId: number, users: string[]) => Promise.all(users.map((u) => store.membership.roleOf(roomId, u)))
        expect(await roles(1, ['reader'])).toEqual(['participant'])
        expect(await roles(2, ['owner', 'member', 'ghost'])).toEqual(['owner', 'member', null])
        expect(await roles(3, ['a', 'b', 'intruder'])).toEqual(['member', 'member', null])
      } finally {
        await store.close()
        await database.drop()
      }
    })
  })
}
