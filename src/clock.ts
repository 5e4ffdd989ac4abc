/** A timer set on a clock, to clear it with. */
export type Timer = unknown

/**
 * Time, as a dependency: the parts with timers (presence grace, probes, slow consumers, rate
 * limits) take a clock, so that their unit tests move time on instead of waiting for it.
 */
export interface Clock {
  /** Milliseconds on a steady scale that never jumps (performance.now()): for measuring how long. */
  now(): number
  /** Milliseconds since 1970 (Date.now()): for times that other instances, or Redis, compare. */
  wallNow(): number
  setTimeout(run: () => void, ms: number): Timer
  clearTimeout(timer: Timer): void
  setInterval(run: () => void, ms: number): Timer
  clearInterval(timer: Timer): void
}

/** The real clock; its timers do not keep the process alive. */
export const realClock: Clock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (run, ms) => setTimeout(run, ms).unref(),
  clearTimeout: (timer) => clearTimeout(timer as ReturnType<typeof setTimeout>),
  setInterval: (run, ms) => setInterval(run, ms).unref(),
  clearInterval: (timer) => clearInterval(timer as ReturnType<typeof setInterval>),
}

/** One turn of the event loop: after the real zero-delay timers already set. */
const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 0))

interface ManualTimer {
  at: number
  run: () => void
  /** Repeats every this many ms; 0 for a timeout. */
  every: number
  /** Order of setting, so timers due at the same moment run in the order they were set. */
  seq: number
}

/** A clock for tests: time stands still until `advance` moves it, running the timers that fall due, in order. */
export class ManualClock implements Clock {
  private elapsed = 0
  private seq = 0
  private timers = new Set<ManualTimer>()

  /** `wallStart` is what `wallNow()` says before time moves on. */
  constructor(private readonly wallStart = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.elapsed
  }

  wallNow(): number {
    return this.wallStart + this.elapsed
  }

  setTimeout(run: () => void, ms: number): Timer {
    return this.add(run, ms, 0)
  }

  setInterval(run: () => void, ms: number): Timer {
    return this.add(run, ms, Math.max(1, ms))
  }

  clearTimeout(timer: Timer): void {
    this.timers.delete(timer as ManualTimer)
  }

  clearInterval(timer: Timer): void {
    this.timers.delete(timer as ManualTimer)
  }

  /** Timers set and not yet run (or cleared); intervals count until cleared. */
  get pending(): number {
    return this.timers.size
  }

  /**
   * Moves time on by `ms`, running what falls due in order (and what that sets off). Before each
   * timer and at the end it gives the event loop a turn (promise callbacks, and real zero-delay
   * timers such as a fake server's replies), so that what a timer started is done before the next
   * timer runs or the test looks.
   */
  async advance(ms: number): Promise<void> {
    const end = this.elapsed + ms
    for (;;) {
      await turn()
      const due = this.next(end)
      if (!due) break
      this.elapsed = due.at
      if (due.every > 0) {
        due.at += due.every
        due.seq = this.seq++
      } else this.timers.delete(due)
      due.run()
    }
    this.elapsed = end
    await turn()
  }

  private add(run: () => void, ms: number, every: number): ManualTimer {
    const timer = { at: this.elapsed + Math.max(0, ms), run, every, seq: this.seq++ }
    this.timers.add(timer)
    return timer
  }

  private next(end: number): ManualTimer | undefined {
    let first: ManualTimer | undefined
    for (const t of this.timers) if (t.at <= end && (!first || t.at < first.at || (t.at === first.at && t.seq < first.seq))) first = t
    return first
  }
}
