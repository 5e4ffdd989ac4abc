import { describe, expect, it } from 'bun:test'
import fc from 'fast-check'
import { checkBodyDepth, MAX_JSON_DEPTH, nestedDeeperThan } from '../src/json-body.ts'

const depthOf = (v: unknown): number => (typeof v === 'object' && v !== null ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0)

describe('nestedDeeperThan', () => {
  it('should agree with the nesting depth of any JSON value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 0, max: 7 }), (value, max) => nestedDeeperThan(value, max) === depthOf(value) > max),
      { numRuns: 1000, seed: 11 },
    )
  })

  it('should look no deeper than the limit', () => {
    let deep: unknown = []
    for (let i = 0; i < 100_000; i++) deep = [deep]
    // A full walk would overflow the stack at this depth.
    expect(nestedDeeperThan(deep, MAX_JSON_DEPTH)).toBe(true)
  })
})

describe('checkBodyDepth', () => {
  it('should pass bodies up to the limit and refuse deeper ones with 400', () => {
    const nested = (n: number) => JSON.parse(`${'['.repeat(n)}${']'.repeat(n)}`) as unknown
    expect(() => checkBodyDepth(nested(MAX_JSON_DEPTH))).not.toThrow()
    expect(() => checkBodyDepth(nested(MAX_JSON_DEPTH + 1))).toThrow(/nested/)
    expect(() => checkBodyDepth({ name: 'x', members: ['a', 'b'] })).not.toThrow()
  })
})
