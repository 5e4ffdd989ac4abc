import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { SqliteStore } from '../../store/sqlite-store.ts'
import type { RoomRow } from '../../store/store.ts'
import { RoomAccess } from './access.ts'

const as = (userId: string) => ({ identity: { userId, nickname: userId, email: `${userId}@example.com`, profileUrl: null }, service: false })

describe('RoomAccess.read', () => {
  let store: SqliteStore
  let access: RoomAccess
  let room: RoomRow
  beforeAll(async () => {
    store = SqliteStore.open(':memory:')
    access = new RoomAccess(store)
    const made = await store.membership.createPrivateRoom({ name: '우리끼리', postId: null, ownerId: 'owner', members: ['member'], addedBy: 'owner' })
    if (made === 'blocked') throw new Error('unexpected block')
    room = made
  })
  afterAll(async () => store?.close())

  it('should answer what a member read while still a member', async () => {
    expect(await access.read(room.id, as('member'), async ({ role }) => `read as ${role}`)).toBe('read as member')
  })

  it('should answer nothing read by a member removed while it was read, as for someone who never was one', async () => {
    const reading = access.read(room.id, as('member'), async () => {
      // The removal commits while the read runs: what the read saw may include what came after it.
      expect(await store.membership.removeMember(room.id, 'member', 'owner')).toEqual({ version: 1 })
      return 'what the room held'
    })
    await expect(reading).rejects.toMatchObject({ status: 403, code: 'not_a_member' })
    await expect(access.read(room.id, as('member'), async () => 'again')).rejects.toMatchObject({ status: 403, code: 'not_a_member' })
  })
})
