/** How long `until` polls, how often, and what it waits for (named in its error). */
export interface UntilOptions {
  timeoutMs?: number
  intervalMs?: number
  what?: string
}

/**
 * Polls `check`, on real time, until it holds: until it returns anything but false without
 * throwing; returns what it returned. Past `timeoutMs` it fails with the check's last error, or one
 * naming `what`. The one way tests wait for something to happen; unit tests of parts with timers
 * advance a ManualClock (src/clock.ts) instead.
 */
export async function until<T>(check: () => T | Promise<T>, { timeoutMs = 10_000, intervalMs = 10, what = 'a condition' }: UntilOptions = {}): Promise<Exclude<T, false>> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    let failure: unknown = null
    try {
      const result = await check()
      if (result !== false) return result as Exclude<T, false>
    } catch (err) {
      failure = err
    }
    if (Date.now() > deadline) throw failure ?? new Error(`timed out waiting for ${what}`)
    await Bun.sleep(intervalMs)
  }
}
