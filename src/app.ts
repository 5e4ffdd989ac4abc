import { Elysia, ValidationError } from 'elysia'
import { AbuseLimits } from './abuse-limits.ts'
import type { Config } from './config.ts'
import { AppError, badRequest, fieldErrors, notFound, problemResponse, unavailable, unprocessable } from './errors.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'
import { docsRoutes } from './docs/index.ts'
import { createGatewayGuard } from './gateway.ts'
import { checkBodyDepth } from './json-body.ts'
import type { TestPage } from './web/index.ts'
import { version } from './version.ts'
import { opsRoutes } from './modules/ops/index.ts'
import { messageRoutes } from './modules/messages/index.ts'
import { MessageService } from './modules/messages/service.ts'
import { roomRoutes } from './modules/rooms/index.ts'
import { RoomService } from './modules/rooms/service.ts'
import { chatSocket } from './realtime/chat-socket.ts'
import { LocalBroker, type Broker, type DeliverySink } from './realtime/broker.ts'
import { Hub } from './realtime/hub.ts'
import { RateLimiter } from './realtime/limits.ts'
import { MemoryPresence, type Presence } from './realtime/presence.ts'
import { isStorageOutage, UnstorableTextError, type Store } from './store/store.ts'

export interface AppDeps {
  config: Config
  store: Store
  logger: Logger
  metrics: Metrics
  /** Who is in which room; in memory unless instances share Redis. */
  presence?: Presence
  /** Carries room events between instances; in process unless instances share Redis. */
  broker?: (sink: DeliverySink) => Broker
  /** The test page, when TEST_PAGE asks for it (see `loadTestPage`). */
  testPage?: TestPage
}

/** Maps any error a route throws to problem+json; unexpected ones are logged and hidden. */
function toAppError(code: string | number, error: unknown, logger: Logger): AppError {
  if (error instanceof AppError) return error
  if (error instanceof ValidationError) {
    const errors = fieldErrors(error.all.map((e) => ({ path: 'path' in e && typeof e.path === 'string' ? e.path.split(/[./]/).filter(Boolean) : [], message: e.summary ?? e.message ?? 'invalid' })))
    if (error.type === 'body') return unprocessable('The request body is invalid.', errors)
    return badRequest(`invalid_${error.type}`, `The request ${error.type} is invalid.`, errors)
  }
  if (code === 'PARSE') return badRequest('invalid_body', 'The request body could not be parsed; send JSON.')
  if (code === 'NOT_FOUND') return notFound('not_found', 'No such route.')
  if (error instanceof UnstorableTextError) return unprocessable('The request has text that cannot be stored.', [{ path: error.field, message: error.message }])
  if (isStorageOutage(error)) {
    logger.warn('storage unavailable', { err: error instanceof Error ? error : new Error(String(error)) })
    return unavailable('storage_unavailable', 'The database cannot be reached right now; try again shortly.')
  }
  logger.error('unhandled error', { err: error instanceof Error ? error : new Error(String(error)) })
  return new AppError(500, 'internal_error', 'Internal Server Error', 'Something went wrong; it has been logged.')
}

/** Builds the whole application from its dependencies. It never listens, so tests reuse it. */
export function createApp({ config, store, logger, metrics, presence: sharedPresence, broker: makeBroker = (sink) => new LocalBroker(sink), testPage }: AppDeps) {
  // In-memory presence announces joins and leaves through the broker (created below, used later).
  const presence = sharedPresence ?? new MemoryPresence((roomId, frame, except) => broker.publishEvent(roomId, frame, except))
  const hub = new Hub(presence, metrics, logger, config.SLOW_CONSUMER_BYTES, config.PRESENCE_GRACE_MS)
  const limiter = new RateLimiter(config)
  const abuse = new AbuseLimits(config)
  const broker = makeBroker(hub)
  hub.connect(broker)
  store.onCommit((rows) => {
    metrics.messagesStored.inc(rows.length)
    broker.publishMessages(rows)
  })
  const lifecycle = { stopping: false }
  const guard = createGatewayGuard(config, logger, metrics, config.TEST_PAGE === 'public' && testPage ? testPage.serves : undefined)
  const rooms = new RoomService(store, presence, abuse)
  const messages = new MessageService(store, broker)

  const app = new Elysia({
    // Bun reads no more of a body than this: a larger one, declared or chunked, is answered 413 unread.
    serve: { development: false, maxRequestBodySize: config.MAX_BODY_BYTES },
    // The router finds the path right after "http://<host>", where the gate reads it too (see
    // request-target.ts); Elysia's default skips 11 characters and misroutes Hosts under 4.
    handler: { standardHostname: false },
    websocket: {
      maxPayloadLength: config.MAX_PAYLOAD_BYTES,
      // Bun pings idle sockets and closes those that stay silent: half-open connections end.
      idleTimeout: config.WS_IDLE_TIMEOUT,
      sendPings: true,
      perMessageDeflate: false,
      // The hub closes slow readers with 1013 well before this; past it Bun closes instead of dropping.
      backpressureLimit: Math.max(16 * 1024 * 1024, 4 * config.SLOW_CONSUMER_BYTES),
      closeOnBackpressureLimit: true,
    },
  })
    .onRequest(({ request, server }) => guard(request, server))
    .onError(({ code, error }) => problemResponse(toAppError(code, error, logger)))
    // Between parsing and validation: input nested too deep is refused before validation walks it.
    .onTransform({ as: 'global' }, ({ body }) => checkBodyDepth(body))
    .onStart(({ server }) => {
      if (server) hub.attach(server)
    })
    .use(docsRoutes(version))
    .use(testPage ? testPage.routes : new Elysia())
    .use(opsRoutes(store, broker, metrics, { shuttingDown: () => lifecycle.stopping }, logger))
    .use(roomRoutes(rooms, config))
    .use(messageRoutes(messages, config.MAX_MESSAGE_LENGTH, metrics, limiter))
    .use(chatSocket({ config, hub, store, messages, logger, metrics, limiter, abuse, broker }))
    .onStop(() => {
      limiter.close()
      abuse.close()
    })

  return Object.assign(app, { hub, broker, presence, lifecycle })
}

