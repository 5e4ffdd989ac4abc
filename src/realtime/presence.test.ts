import { describe, expect, it } from 'bun:test'
import { MemoryPresence } from './presence.ts'

const alice = { userId: 'alice', nickname: 'Alice', profileUrl: null }

describe('MemoryPresence', () => {
  it('should announce the first join and the last leave, each with a rising version', async () => {
    const presence = new MemoryPresence()
    const joined = await presence.join(1, alice)
    expect(await presence.join(1, alice)).toEqual({ changed: false, version: 0 })
    const left = await presence.leave(1, 'alice')
    expect(await presence.leave(1, 'alice')).toEqual({ changed: false, version: 0 })
    const back = await presence.join(1, alice)
    expect([joined.changed, left.changed, back.changed]).toEqual([true, true, true])
    expect(joined.version).toBeLessThan(left.version)
    expect(left.version).toBeLessThan(back.version)
  })
})
