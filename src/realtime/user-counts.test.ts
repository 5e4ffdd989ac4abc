import { describe, expect, it } from 'bun:test'
import { UserCounts } from './user-counts.ts'

describe('UserCounts', () => {
  it('should count up and down, forgetting a user at 0', () => {
    const counts = new UserCounts()
    counts.increment('a')
    counts.increment('a')
    counts.increment('b')
    expect([counts.get('a'), counts.get('b'), counts.get('c')]).toEqual([2, 1, 0])
    counts.decrement('a')
    counts.decrement('a')
    counts.decrement('a')
    counts.decrement('c')
    expect([counts.get('a'), counts.get('b'), counts.get('c')]).toEqual([0, 1, 0])
  })

  it('should agree with a Map over many users coming and going, through growing and shrinking', () => {
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const counts = new UserCounts()
    const expected = new Map<string, number>()
    for (let round = 0; round < 3; round++) {
      // A few users, then up to 6,000 (past several doublings), then down to a few (several halvings).
      const users = round === 0 ? 300 : 6000
      for (let i = 0; i < (round === 2 ? 200_000 : 40_000); i++) {
        const user = `user-${random(users)}`
        const up = round === 2 ? random(4) === 0 : random(3) !== 0
        if (up) {
          counts.increment(user)
          expected.set(user, (expected.get(user) ?? 0) + 1)
        } else {
          counts.decrement(user)
          const left = (expected.get(user) ?? 0) - 1
          if (left > 0) expected.set(user, left)
          else expected.delete(user)
        }
      }
      for (let u = 0; u < 6000; u++) expect(counts.get(`user-${u}`)).toBe(expected.get(`user-${u}`) ?? 0)
    }
  })
})
