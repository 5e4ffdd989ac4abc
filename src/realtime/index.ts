import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Store } from '../store/store.ts'
import type { AttachmentLinks } from './codec.ts'
import { LocalBroker, RoomWatches, type Broker } from './broker.ts'
import { Closer } from './closing.ts'
import { EventConsumers } from './consumers.ts'
import { signalEvent, type EventSink } from './events.ts'
import { Hub } from './hub.ts'
import { PresenceTracker } from './presence-tracker.ts'
import { MemoryPresence, type Presence } from './presence.ts'
import { RateLimiter } from './rate-limits.ts'
import { Replays } from './replay.ts'
import { SlowConsumers } from './slow-consumers.ts'

export interface RealtimeDeps {
  config: Config
  store: Store
  metrics: Metrics
  logger: Logger
  /** Who is in which room; in memory unless instances share Redis. */
  presence?: Presence
  /** Carries room events between instances; in process unless instances share Redis. */
  broker?: (consumers: EventSink) => Broker
  /** Signs the URLs of messages' attachments in the frames sent. */
  links: AttachmentLinks
}

/** The realtime parts of one instance, wired: see ARCHITECTURE.md for how an event moves through them. */
export function createRealtime({ config, store, metrics, logger, links, presence: shared, broker: makeBroker = (consumers) => new LocalBroker(consumers) }: RealtimeDeps) {
  const closer = new Closer(metrics, logger)
  const slowConsumers = new SlowConsumers(config.SLOW_CONSUMER_BYTES, closer, metrics, logger)
  const hub = new Hub(metrics, slowConsumers, closer, links)
  // Where each event goes, named in one place; the hub is the room sockets' consumer.
  const consumers = new EventConsumers(logger)
  consumers.connectRoomSockets(hub)
  const broker = makeBroker(consumers)
  // In-memory presence announces through the in-process broker; Redis presence publishes itself.
  const presence = shared ?? new MemoryPresence((roomId, frame, except) => broker.publish(signalEvent(roomId, frame, except)))
  return {
    hub,
    broker,
    watches: new RoomWatches(broker),
    presence,
    closer,
    slowConsumers,
    tracker: new PresenceTracker(presence, hub, config.PRESENCE_GRACE_MS, logger),
    replays: new Replays(store, broker, hub, slowConsumers, config.RECOVERY_LIMIT, logger, links),
    limiter: new RateLimiter(config),
    consumers,
    /** Stops the timers (on shutdown). */
    stop() {
      slowConsumers.stop()
    },
  }
}
