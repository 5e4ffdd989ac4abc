import { messageRow } from './message-rows.ts'
import { afterEach } from 'bun:test'
import { type Clock, realClock } from '../../src/clock.ts'
import { createLogger } from '../../src/logger.ts'
import type { MessageRow, RoomChanges } from '../../src/store/store.ts'
import type { EventSink, RealtimeEvent, UserEvent } from '../../src/realtime/events.ts'
import { messageEvent } from '../../src/realtime/events.ts'
import { RedisBroker, type SequencedStore } from '../../src/realtime/redis-broker.ts'
import { ScriptedRedis, type Route } from './scripted-redis.ts'
import { until } from './wait.ts'

// What the broker's unit tests share: a store of sequenced messages, a sink, brokers on a scripted Redis.

export const ROOM = 7
const TIMING = { intervalMs: 20, deadlineMs: 120 }
const logger = createLogger('silent')

/** Messages and removals by room, each made at the room's next version, as Postgres keeps them; counts and can fail its reads. */
class FakeStore implements SequencedStore {
  private readonly rooms = new Map<number, MessageRow[]>()
  private readonly versions = new Map<number, number>()
  private readonly evictions = new Map<number, RoomChanges['evictions']>()
  private nextId = 1
  /** Every changesBetween call, as [from, to]. */
  readonly reads: [number, number][] = []
  failing = false
  /** lastVersion calls that fail before one succeeds. */
  lastVersionFailures = 0
  /** Runs inside lastVersion before it reads (to commit something between SUBSCRIBE and the read). */
  beforeLastVersion: (() => Promise<void>) | null = null

  commit(roomId: number, count = 1): MessageRow[] {
    const rows = this.rooms.get(roomId) ?? []
    this.rooms.set(roomId, rows)
    const created = Array.from({ length: count }, () => {
      const seq = rows.length + 1
      const row = messageRow({ id: this.nextId++, roomId, nickname: 'u', body: `m${seq}`, seq, version: this.nextVersion(roomId) })
      rows.push(row)
      return row
    })
    return created
  }

  /** A member removed: the room's next version, kept as an eviction. */
  remove(roomId: number, userId: string): number {
    const version = this.nextVersion(roomId)
    this.evictions.set(roomId, [...(this.evictions.get(roomId) ?? []), { version, userId, banned: false }])
    return version
  }

  private nextVersion(roomId: number): number {
    const version = (this.versions.get(roomId) ?? 0) + 1
    this.versions.set(roomId, version)
    return version
  }

  async changesBetween(roomId: number, from: number, to: number): Promise<RoomChanges> {
    this.reads.push([from, to])
    if (this.failing) throw new Error('store is down')
    const within = (version: number) => version >= from && version <= to
    return {
      messages: (this.rooms.get(roomId) ?? []).filter((r) => within(r.version) || (within(r.createdVersion) && r.version > to)),
      evictions: (this.evictions.get(roomId) ?? []).filter((e) => within(e.version)),
      updates: [],
      version: this.versions.get(roomId) ?? 0,
    }
  }

  async lastVersion(roomId: number): Promise<number> {
    if (this.beforeLastVersion) await this.beforeLastVersion()
    if (this.lastVersionFailures > 0) {
      this.lastVersionFailures--
      throw new Error('store is down')
    }
    if (this.failing) throw new Error('store is down')
    return this.versions.get(roomId) ?? 0
  }
}

/** What a broker handed its hub. */
class Sink implements EventSink {
  readonly seqs: number[] = []
  readonly events: string[] = []
  readonly users: UserEvent[] = []
  /** Messages (`m<seq>`), evictions (`evict <user>`) and blocked states (`blocked <true|false>`) in the order they were delivered. */
  readonly order: string[] = []
  /** The webhook lanes of each nudge heard. */
  readonly nudges: number[][] = []
  nudged(lanes: readonly number[]): void {
    this.nudges.push([...lanes])
  }
  delivered(event: RealtimeEvent): void {
    if (event.kind === 'message') {
      this.seqs.push(event.message.seq!)
      this.order.push(`m${event.message.seq}`)
    } else if (event.kind === 'signal') this.events.push(event.frame)
    else if (event.kind === 'user') this.users.push(event)
    else if (event.evict !== undefined) this.order.push(`evict ${event.evict}`)
    else if (event.blocked !== undefined) this.order.push(`blocked ${event.blocked}`)
  }
}

/** Publishes committed rows as the message service does, one event each, in commit order. */
export const publishMessages = (broker: RedisBroker, rows: readonly MessageRow[]) => {
  for (const row of rows) broker.publish(messageEvent(row))
}

/** Waits until `condition` holds (see `until`), polling often: the scripted Redis answers within a timer turn. */
export const waitFor = (condition: () => boolean, timeoutMs = 2000): Promise<true> => until(condition, { timeoutMs, intervalMs: 5 })

export const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
export const seqOf = (message: string) => (JSON.parse(message) as { m?: { seq: number } }).m?.seq
/** Routes a room's messages by `fate`; everything else (the brokers' probes) is delivered. */
export const rooms = (fate: (message: string) => Route) => (channel: string, message: string) => (channel.startsWith('t:room:') ? fate(message) : 'deliver')

let open: RedisBroker[] = []
afterEach(async () => {
  await Promise.all(open.map((b) => b.close()))
  open = []
})

/** A Redis, a store, and two instances' brokers on them: `a` watches, `b` sends. */
export async function setup(timing = TIMING, clock: Clock = realClock) {
  const redis = new ScriptedRedis()
  const store = new FakeStore()
  const sink = new Sink()
  const a = (await RedisBroker.open(redis.connector, 't:', store, logger, timing, clock)).deliverTo(sink)
  const bSink = new Sink()
  const b = (await RedisBroker.open(redis.connector, 't:', store, logger, timing, clock)).deliverTo(bSink)
  open.push(a, b)
  return { redis, store, sink, a, b, bSink }
}
