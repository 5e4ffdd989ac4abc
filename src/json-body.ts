import { badRequest } from './errors.ts'

/** Deeper than any body this API takes (its deepest is an object holding a list of ids). */
export const MAX_JSON_DEPTH = 16

/**
 * True when a parsed JSON value nests deeper than `max`; looks no deeper than that. Deeply nested
 * input is cheap to send and costly to refuse: JSON.stringify of 30,000 nested arrays takes half a
 * second, and the validation layer stringifies what it refuses.
 */
export function nestedDeeperThan(value: unknown, max: number): boolean {
  if (typeof value !== 'object' || value === null) return false
  if (max === 0) return true
  for (const child of Array.isArray(value) ? value : Object.values(value)) if (nestedDeeperThan(child, max - 1)) return true
  return false
}

/** Refuses (400) a parsed body nested deeper than any this API takes, before validation walks it. */
export function checkBodyDepth(body: unknown): void {
  if (nestedDeeperThan(body, MAX_JSON_DEPTH)) throw badRequest('invalid_body', `The request body is nested more than ${MAX_JSON_DEPTH} levels deep.`)
}
