import type { EventSink, RoomEvent } from './events.ts'

/**
 * Carries room events to every instance with sockets in the room, and messages in the order they
 * were committed. It knows rooms and events, not sockets. One instance: in process (below).
 * Several: Redis pub/sub (redis-broker.ts).
 */
export interface Broker {
  /** False while the broker cannot carry events (then sends are refused, never dropped). */
  readonly available: boolean
  /** An event for the room's sockets, on every instance (this one included). */
  publish(event: RoomEvent): void
  /** This instance has a socket in the room; resolves once the room's live events flow here. */
  watch(roomId: number): Promise<void>
  /** This instance's last socket in the room closed. */
  unwatch(roomId: number): void
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

  constructor(private readonly deliver: EventSink) {}

  publish(event: RoomEvent): void {
    this.deliver(event)
  }

  async watch(): Promise<void> {}
  unwatch(): void {}
  /** In one process a message is delivered in the turn it is published: always done. */
  async whenDelivered(): Promise<void> {}
  async check(): Promise<void> {}
  async close(): Promise<void> {}
}
