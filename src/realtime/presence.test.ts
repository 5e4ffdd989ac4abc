import { describe, expect, it } from 'bun:test'
import { MemoryPresence } from './presence.ts'

const alice = { userId: 'alice', nickname: 'Alice', profileUrl: null }

describe('MemoryPresence', () => {
  it('should announce the first join (but to the joining socket) and the last leave, each with a rising version', async () => {
    const heard: { frame: unknown; except?: string }[] = []
    const presence = new MemoryPresence((_roomId, frame, except) => heard.push(except === undefined ? { frame: JSON.parse(frame) } : { frame: JSON.parse(frame), except }))
    const joined = await presence.join(1, alice, 'tab-1')
    expect(await presence.join(1, alice, 'tab-2')).toEqual({ changed: false, version: 0 })
    const left = await presence.leave(1, 'alice')
    expect(await presence.leave(1, 'alice')).toEqual({ changed: false, version: 0 })
    const back = await presence.join(1, alice)
    expect([joined.changed, left.changed, back.changed]).toEqual([true, true, true])
    expect(joined.version).toBeLessThan(left.version)
    expect(left.version).toBeLessThan(back.version)
    expect(heard).toEqual([
      { frame: { type: 'chat.user.join', username: 'Alice', user_id: 'alice' }, except: 'tab-1' },
      { frame: { type: 'chat.user.leave', username: 'Alice', user_id: 'alice' } },
      { frame: { type: 'chat.user.join', username: 'Alice', user_id: 'alice' } },
    ])
  })
})
