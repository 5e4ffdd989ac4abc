import type { MessageRow } from '../store/store.ts'

/** Where a broker hands the events of the rooms this instance has sockets in. */
export interface DeliverySink {
  /** A committed message; called per room in ascending id order. */
  deliverMessage(row: MessageRow): void
  /** Join, leave or typing, already encoded; `except` is the id of the session not to send it to. */
  deliverEvent(roomId: number, frame: string, except?: string): void
}

/**
 * Carries room events to every instance with sockets in the room. One instance: in process.
 * Several: Redis pub/sub (redis-broker.ts).
 */
export interface Broker {
  /** False while the broker cannot carry events (then sends are refused, never dropped). */
  readonly available: boolean
  /** This instance has a socket in the room; resolves once the room's live events flow here. */
  watch(roomId: number): Promise<void>
  /** This instance's last socket in the room closed. */
  unwatch(roomId: number): void
  /**
   * Resolves once this instance has delivered the room's messages up to `seq` (a replay that read
   * them from the database may then go live without receiving any of them twice).
   */
  whenDelivered(roomId: number, seq: number): Promise<void>
  /** Committed messages, in commit order. */
  publishMessages(rows: readonly MessageRow[]): void
  /** An event that carries no order (typing, or a join or leave of in-memory presence), already encoded. */
  publishEvent(roomId: number, frame: string, except?: string): void
  /** Throws when the broker cannot be reached. */
  check(): Promise<void>
  close(): Promise<void>
}

/** The single-instance broker: everything stays in this process. */
export class LocalBroker implements Broker {
  readonly available = true

  constructor(private readonly sink: DeliverySink) {}

  async watch(): Promise<void> {}
  unwatch(): void {}
  /** In one process a message is delivered in the same turn it is committed: always done. */
  async whenDelivered(): Promise<void> {}

  publishMessages(rows: readonly MessageRow[]): void {
    for (const row of rows) this.sink.deliverMessage(row)
  }

  publishEvent(roomId: number, frame: string, except?: string): void {
    this.sink.deliverEvent(roomId, frame, except)
  }

  async check(): Promise<void> {}
  async close(): Promise<void> {}
}
