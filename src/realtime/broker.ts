import type { EventSink, RealtimeEvent } from './events.ts'

/**
 * Carries room events to every instance with sockets in the room, and messages in the order they
 * were committed. It knows rooms and events, not sockets. One instance: in process (below).
 * Several: Redis pub/sub (redis-broker.ts).
 */
export interface Broker {
  /** False while the broker cannot carry events (then sends are refused, never dropped). */
  readonly available: boolean
  /** An event for the room's (or the user's) sockets, on every instance (this one included). */
  publish(event: RealtimeEvent): void
  /**
   * Tells every instance (this one too) that events wait in these webhook lanes: the one holding a
   * lane looks at it now rather than at its next poll. Best effort: a nudge lost is the poll's.
   */
  nudge(lanes: readonly number[]): void
  /** This instance has a socket in the room; resolves once the room's live events flow here. */
  watch(roomId: number): Promise<void>
  /** This instance's last socket in the room closed. */
  unwatch(roomId: number): void
  /**
   * This instance has a stream of the user's; resolves once events for the user flow here.
   * `lost` is called when some may have been lost since (the broker was away meanwhile).
   */
  watchUser(userId: string, lost: () => void): Promise<void>
  /** This instance's last stream of the user closed. */
  unwatchUser(userId: string): void
  /**
   * Resolves once this instance has delivered the room's messages up to `seq` (a replay that read
   * them from the database may then go live without receiving any of them twice).
   */
  whenDelivered(roomId: number, seq: number): Promise<void>
  /** Throws when the broker cannot be reached. */
  check(): Promise<void>
  close(): Promise<void>
}

/** The single-instance broker: an event is delivered in the turn it is published. */
export class LocalBroker implements Broker {
  readonly available = true

  constructor(private readonly consumers: EventSink) {}

  publish(event: RealtimeEvent): void {
    this.consumers.delivered(event)
  }

  nudge(lanes: readonly number[]): void {
    this.consumers.nudged(lanes)
  }

  async watch(): Promise<void> {}
  unwatch(): void {}
  async watchUser(): Promise<void> {}
  unwatchUser(): void {}
  /** In one process a message is delivered in the turn it is published: always done. */
  async whenDelivered(): Promise<void> {}
  async check(): Promise<void> {}
  async close(): Promise<void> {}
}

/**
 * Who on this instance needs a room's events (its sockets, users' streams watching it): the broker
 * watches a room while anyone holds it, and stops when the last lets go.
 */
export class RoomWatches {
  private readonly holders = new Map<number, number>()

  constructor(private readonly broker: Broker) {}

  /** One more holder; resolves once the room's events flow here (rejects if they cannot). */
  hold(roomId: number): Promise<void> {
    this.holders.set(roomId, (this.holders.get(roomId) ?? 0) + 1)
    return this.broker.watch(roomId)
  }

  /** One holder fewer; the last stops the watch. */
  release(roomId: number): void {
    const left = (this.holders.get(roomId) ?? 0) - 1
    if (left > 0) return void this.holders.set(roomId, left)
    this.holders.delete(roomId)
    this.broker.unwatch(roomId)
  }
}
