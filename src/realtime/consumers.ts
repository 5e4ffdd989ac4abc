import type { Logger } from '../logger.ts'
import type { MessageRow } from '../store/store.ts'
import type { EventSink, RealtimeEvent, RoomEvent } from './events.ts'

/** The sockets of rooms on this instance (the hub). */
interface RoomSockets {
  deliver(event: RoomEvent): void
}

/** The users' inbox streams on this instance. */
interface UserStreams {
  deliver(event: RealtimeEvent): void
}

/** The webhook dispatcher, told of each message committed here and of lanes where events wait. */
interface Webhooks {
  committed(message: MessageRow): void
  written(lanes: readonly number[]): void
  nudged(lanes: readonly number[]): void
}

/** Consumes nothing: what a kind of consumer is until it is connected. */
const nobody = { deliver() {}, committed() {}, written() {}, nudged() {} }

/**
 * Everything on this instance that consumes events, by name: the one place that says where an
 * event goes. Two kinds of moment feed it:
 *
 * - `delivered`: the broker hands over each event it carries to this instance (in one room's
 *   order), from this instance or another. Room events go to the room's sockets here; room and user
 *   events go to the users' inbox streams here.
 * - `committed`: a message this instance stored (or changed) has committed (before it is
 *   published). The webhook dispatcher looks at the room's lane at once, instead of at its next
 *   poll, whether or not any socket here watches the room, and keeps the message to send it from
 *   memory. A lane held by another instance is nudged through the broker instead.
 * - `written`: a transaction here that wrote webhook events (a room's, a member's, a report's) has
 *   committed; the dispatcher looks at their lanes, or nudges them, as for a message.
 * - `nudged`: the broker carried such a nudge here; the dispatcher looks at the lanes it holds.
 *
 * Each consumer is connected once, while the instance is wired (realtime/index.ts, app.ts,
 * server.ts); until then it consumes nothing. A new kind of consumer is a new named field here.
 *
 * A consumer that throws is logged by name and keeps the event from no other consumer, and never
 * reaches whoever told it: the broker's delivery of the next event, the message service's answer
 * for a stored message, the store's caller after a commit (`afterCommit`). What a failed webhook
 * wake leaves waiting, the dispatcher's poll finds.
 */
export class EventConsumers implements EventSink {
  private roomSockets: RoomSockets = nobody
  private userStreams: UserStreams = nobody
  private webhooks: Webhooks = nobody
  private readonly connected = new Set<string>()

  constructor(private readonly logger: Pick<Logger, 'error'>) {}

  connectRoomSockets(hub: RoomSockets): void {
    this.once('room sockets')
    this.roomSockets = hub
  }

  connectUserStreams(streams: UserStreams): void {
    this.once('user streams')
    this.userStreams = streams
  }

  connectWebhooks(dispatcher: Webhooks): void {
    this.once('webhooks')
    this.webhooks = dispatcher
  }

  /** What the broker calls for each event it delivers here. */
  delivered(event: RealtimeEvent): void {
    if (event.kind !== 'user') {
      try {
        this.roomSockets.deliver(event)
      } catch (err) {
        this.failed('room sockets', err)
      }
    }
    try {
      this.userStreams.deliver(event)
    } catch (err) {
      this.failed('user streams', err)
    }
  }

  /** What the message service calls once a message it stored has committed. */
  committed(message: MessageRow): void {
    try {
      this.webhooks.committed(message)
    } catch (err) {
      this.failed('webhooks', err)
    }
  }

  /** What the store calls once a transaction that wrote webhook events has committed (`Outbox.written`). */
  written(lanes: readonly number[]): void {
    try {
      this.webhooks.written(lanes)
    } catch (err) {
      this.failed('webhooks', err)
    }
  }

  /** What the broker calls when an instance nudged webhook lanes. */
  nudged(lanes: readonly number[]): void {
    try {
      this.webhooks.nudged(lanes)
    } catch (err) {
      this.failed('webhooks', err)
    }
  }

  private failed(consumer: string, err: unknown): void {
    this.logger.error('an event consumer failed; the other consumers still had the event', { consumer, err })
  }

  private once(name: string): void {
    if (this.connected.has(name)) throw new Error(`${name} are already connected to this instance's events`)
    this.connected.add(name)
  }
}
