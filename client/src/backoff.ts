/** How reconnects are spaced. */
export interface BackoffOptions {
  /** The ceiling of the first delay, in ms (default 500). */
  baseMs?: number
  /** The largest ceiling, in ms (default 30 s). */
  capMs?: number
}

/**
 * The delay before retry number `attempt` (0 first), with full jitter: drawn uniformly from
 * [0, min(cap, base·2^attempt)). Spreading every client over the whole window keeps a restarted
 * server from being hit by all of them at once.
 */
export function backoffDelay(attempt: number, { baseMs = 500, capMs = 30_000 }: BackoffOptions = {}, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(capMs, baseMs * 2 ** attempt))
}
