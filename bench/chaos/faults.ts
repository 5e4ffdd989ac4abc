import type { Direction } from '../../test/support/fault-proxy.ts'
import type { Random } from './random.ts'
import type { ChaosInstance, Topology } from './topology.ts'

export const FAULT_KINDS = [
  'kill-instance',
  'stop-instance',
  'redis-restart',
  'pg-terminate',
  'pg-restart',
  'pg-delay',
  'pg-drop-new',
  'pg-cut',
  'pg-half-open',
  'redis-delay',
  'redis-drop-new',
  'redis-cut',
  'redis-half-open',
] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

/** How often each kind is drawn, relative to the others. */
const WEIGHTS: Record<FaultKind, number> = {
  'kill-instance': 3,
  'stop-instance': 1,
  'redis-restart': 2,
  'pg-terminate': 2,
  'pg-restart': 2,
  'pg-delay': 1,
  'pg-drop-new': 1,
  'pg-cut': 1,
  'pg-half-open': 2,
  'redis-delay': 1,
  'redis-drop-new': 1,
  'redis-cut': 1,
  'redis-half-open': 2,
}

/** One injected fault, from its start to its recovery (times in ms). */
export interface FaultRecord {
  n: number
  kind: FaultKind
  /** The instance it hit; undefined for faults of a shared backend. */
  instance?: number
  /** What exactly: delay, direction, how it recovered. */
  detail: string
  start: number
  end: number | null
}

/** A fault drawn from the seed: what, where, for how long. */
interface PlannedFault {
  kind: FaultKind
  instance: number
  durationMs: number
  delayMs: number
  direction: Direction
  /** After a half-open stall: let the stalled connections go on (resume) or reset them. */
  reset: boolean
}

/**
 * Injects one fault at a time at random intervals, each recovered after a random duration, all
 * drawn from the seed. Every fault is recorded with its start and end.
 */
export class FaultScheduler {
  readonly faults: FaultRecord[] = []
  private stopped = false
  private wake: (() => void) | null = null
  private running: Promise<void> | null = null

  constructor(
    private readonly topology: Topology,
    private readonly rng: Random,
    private readonly kinds: readonly FaultKind[] = FAULT_KINDS,
  ) {}

  /** Draws the next fault. The draws never depend on timing, so a seed gives one sequence. */
  private plan(): PlannedFault {
    const weights = Object.fromEntries(this.kinds.map((k) => [k, WEIGHTS[k]])) as Record<FaultKind, number>
    const kind = this.rng.weighted(weights)
    return {
      kind,
      instance: this.rng.int(0, this.topology.instances.length - 1),
      durationMs: Math.round(this.rng.between(1000, 8000)),
      delayMs: Math.round(this.rng.between(100, 2500)),
      direction: this.rng.pick<Direction>(['up', 'down', 'both']),
      reset: this.rng.chance(0.5),
    }
  }

  /** Starts injecting: a quiet gap of 0.5–4 s, a fault, its recovery, and again, until `stop`. */
  start(): void {
    this.running = (async () => {
      while (!this.stopped) {
        const gap = this.rng.between(500, 4000)
        const planned = this.plan()
        await this.sleep(gap)
        if (this.stopped) break
        await this.inject(planned)
      }
    })()
  }

  /** Stops injecting: a fault under way is recovered at once. Resolves when nothing is faulted. */
  async stop(): Promise<void> {
    this.stopped = true
    this.wake?.()
    await this.running
  }

  /** Sleeps up to `ms`, less if the scheduler is stopped meanwhile. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
  }

  private async inject(p: PlannedFault) {
    const target = this.topology.instances[p.instance]!
    const record: FaultRecord = { n: this.faults.length + 1, kind: p.kind, detail: '', start: Date.now(), end: null }
    this.faults.push(record)
    const proxyOf = (instance: ChaosInstance) => (p.kind.startsWith('pg-') ? instance.pgProxy : instance.redisProxy)
    try {
      switch (p.kind) {
        case 'kill-instance':
        case 'stop-instance': {
          record.instance = p.instance
          record.detail = `${p.kind === 'kill-instance' ? 'kill -9' : 'SIGTERM'}, restart after ${p.durationMs} ms`
          if (p.kind === 'kill-instance') await this.topology.kill(target)
          else await this.topology.terminate(target)
          await this.sleep(p.durationMs)
          await this.topology.launch(target)
          break
        }
        case 'redis-restart': {
          record.detail = `down for ${p.durationMs} ms (nothing persisted)`
          await this.topology.redis.stop()
          await this.sleep(p.durationMs)
          await this.topology.redis.start()
          break
        }
        case 'pg-terminate': {
          const n = await this.topology.terminateBackends()
          record.detail = `terminated ${n} backends`
          break
        }
        case 'pg-restart': {
          record.detail = `pg_ctl stop -m immediate, start after ${p.durationMs} ms`
          await this.topology.pg.stop()
          await this.sleep(p.durationMs)
          await this.topology.pg.start()
          break
        }
        case 'pg-delay':
        case 'redis-delay': {
          record.instance = p.instance
          record.detail = `+${p.delayMs} ms per chunk each way for ${p.durationMs} ms`
          proxyOf(target).delay(p.delayMs)
          await this.sleep(p.durationMs)
          proxyOf(target).delay(0)
          break
        }
        case 'pg-drop-new':
        case 'redis-drop-new': {
          record.instance = p.instance
          record.detail = `new connections reset for ${p.durationMs} ms`
          proxyOf(target).dropNewConnections(true)
          await this.sleep(p.durationMs)
          proxyOf(target).dropNewConnections(false)
          break
        }
        case 'pg-cut':
        case 'redis-cut': {
          record.instance = p.instance
          const n = proxyOf(target).cut()
          record.detail = `reset ${n} open connections`
          break
        }
        case 'pg-half-open':
        case 'redis-half-open': {
          record.instance = p.instance
          const proxy = proxyOf(target)
          record.detail = `stalled ${p.direction === 'both' ? 'both ways' : p.direction === 'up' ? 'instance→server' : 'server→instance'} for ${p.durationMs} ms, then ${p.reset ? 'reset' : 'resumed'}`
          proxy.stall(p.direction)
          await this.sleep(p.durationMs)
          if (p.reset) proxy.cut()
          proxy.stall(null)
          break
        }
      }
    } catch (error) {
      record.detail += ` (failed: ${String(error).slice(0, 300)})`
    } finally {
      record.end = Date.now()
    }
  }
}
