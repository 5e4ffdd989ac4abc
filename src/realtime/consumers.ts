import type { MessageRow } from '../store/store.ts'
import type { RealtimeEvent, RoomEvent } from './events.ts'

/**
 * Everything on this instance that consumes events, by name: the one place that says where an
 * event goes. Two kinds of moment feed it:
 *
 * - `delivered`: the broker hands over each event it carries to this instance (in one room's
 *   order), from this instance or another. Room events go to the room's sockets here; room and user
 *   events go to the users' inbox streams here.
 * - `committed`: a message this instance stored has committed (before it is published). The webhook
 *   dispatcher looks at the room's lane at once, instead of at its next poll, whether or not any
 *   socket here watches the room.
 *
 * Each consumer is connected once, while the instance is wired (see realtime/index.ts, app.ts and
 * server.ts); until then it consumes nothing. A new kind of consumer is a new named field here.
 */
export class EventConsumers {
  private roomSockets: (event: RoomEvent) => void = ignore
  private userStreams: (event: RealtimeEvent) => void = ignore
  private webhooks: (roomId: number) => void = ignore
  private readonly connected = new Set<string>()

  /** The room's sockets on this instance (the hub). */
  connectRoomSockets(consume: (event: RoomEvent) => void): void {
    this.once('room sockets')
    this.roomSockets = consume
  }

  /** The users' inbox streams on this instance. */
  connectUserStreams(consume: (event: RealtimeEvent) => void): void {
    this.once('user streams')
    this.userStreams = consume
  }

  /** The webhook dispatcher, told of each room whose message committed here. */
  connectWebhooks(wake: (roomId: number) => void): void {
    this.once('webhooks')
    this.webhooks = wake
  }

  /** What the broker calls for each event it delivers here. */
  readonly delivered = (event: RealtimeEvent): void => {
    if (event.kind !== 'user') this.roomSockets(event)
    this.userStreams(event)
  }

  /** What the message service calls once a message it stored has committed. */
  readonly committed = (message: MessageRow): void => {
    this.webhooks(message.roomId)
  }

  private once(name: string): void {
    if (this.connected.has(name)) throw new Error(`${name} are already connected to this instance's events`)
    this.connected.add(name)
  }
}

function ignore(): void {}
