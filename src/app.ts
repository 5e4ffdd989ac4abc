import { Elysia, ValidationError } from 'elysia'
import { AbuseLimits } from './abuse-limits.ts'
import { AppError, badRequest, fieldErrors, forbidden, moderated, notFound, problemResponse, roomClosed, unavailable, unprocessable } from './errors.ts'
import type { Logger } from './logger.ts'
import { docsRoutes } from './docs/index.ts'
import { createGatewayGuard } from './gateway.ts'
import { checkBodyDepth, refuseLongChunkedBody } from './json-body.ts'
import type { TestPage } from './web/index.ts'
import { version } from './version.ts'
import { opsRoutes } from './modules/ops/index.ts'
import { messageRoutes } from './modules/messages/index.ts'
import { changeRules, MessageService } from './modules/messages/service.ts'
import { roomRoutes } from './modules/rooms/index.ts'
import { RoomService } from './modules/rooms/service.ts'
import { RoomAccess } from './modules/rooms/access.ts'
import { blockRoutes, memberRoutes } from './modules/members/index.ts'
import { BlockService, MemberService } from './modules/members/service.ts'
import { createCallers, Profiles } from './caller.ts'
import { readRoutes } from './modules/reads/index.ts'
import { inboxRoutes } from './modules/inbox/index.ts'
import { RoomHiding } from './modules/inbox/hide.ts'
import { postRoutes } from './modules/posts/index.ts'
import { PostService } from './modules/posts/service.ts'
import { meRoutes } from './modules/me/index.ts'
import { InboxService } from './modules/inbox/service.ts'
import { inboxSocketRoutes } from './modules/inbox/socket.ts'
import { InboxStreams } from './modules/inbox/stream.ts'
import { ReadService } from './modules/reads/service.ts'
import { reportRoutes } from './modules/reports/index.ts'
import { moderationRoutes } from './modules/moderation/index.ts'
import { ModerationService } from './modules/moderation/service.ts'
import { Screening } from './modules/moderation/screening.ts'
import { deadLetterRoutes } from './modules/dead-letters/index.ts'
import { DeadLetterService } from './modules/dead-letters/service.ts'
import { ReportService } from './modules/reports/service.ts'
import { chatRoutes } from './modules/chat/index.ts'
import { ChatService } from './modules/chat/service.ts'
import { createRealtime, type RealtimeDeps } from './realtime/index.ts'
import { isRedisOutage } from './realtime/redis-connection.ts'
import { Files } from './modules/uploads/files.ts'
import { uploadRoutes } from './modules/uploads/index.ts'
import { FORM_FRAMING_BYTES, UPLOADS_PATH } from './uploads/request-limits.ts'
import { UploadService } from './modules/uploads/service.ts'
import { storageProblemOf, storageProblemText } from './store/storage-problem.ts'
import { isStorageOutage, NotAMemberError, RoomClosedError, SanctionedError, SlowModeError, UnstorableTextError } from './store/store.ts'

export interface AppDeps extends Omit<RealtimeDeps, 'links'> {
  /** Uploaded files; by default the storage UPLOADS names. */
  files?: Files
  /** The test page, when TEST_PAGE asks for it (see `loadTestPage`). */
  testPage?: TestPage
}

/** Maps any error a route throws to problem+json; unexpected ones are logged and hidden. */
function toAppError(code: string | number, error: unknown, logger: Logger): AppError {
  if (error instanceof AppError) return error
  // Thrown by a body parser (a chunked body past its limit): Elysia hands it on as a parse error.
  if (code === 'PARSE' && (error as { cause?: unknown }).cause instanceof AppError) return (error as { cause: AppError }).cause
  if (error instanceof ValidationError) {
    const errors = fieldErrors(error.all.map((e) => ({ path: 'path' in e && typeof e.path === 'string' ? e.path.split(/[./]/).filter(Boolean) : [], message: e.summary ?? e.message ?? 'invalid' })))
    if (error.type === 'body') return unprocessable('The request body is invalid.', errors)
    return badRequest(`invalid_${error.type}`, `The request ${error.type} is invalid.`, errors)
  }
  if (code === 'PARSE') return badRequest('invalid_body', 'The request body could not be parsed; send JSON.')
  if (code === 'NOT_FOUND') return notFound('not_found', 'No such route.')
  // Membership checked again where the write commits: removed since the route admitted the caller.
  if (error instanceof NotAMemberError) return forbidden('not_a_member', `Only members may use room ${error.roomId}.`)
  // Checked where the write commits: archived, or left by one of a direct room's two.
  if (error instanceof RoomClosedError) return roomClosed(error)
  // Checked where the write commits too: muted or banned there, or sooner than slow mode allows.
  if (error instanceof SanctionedError || error instanceof SlowModeError) return moderated(error, Date.now())
  if (error instanceof UnstorableTextError) return unprocessable('The request has text that cannot be stored.', [{ path: error.field, message: error.message }])
  const problem = storageProblemOf(error)
  if (problem) {
    logger.warn('storage cannot write', { code: problem, err: error instanceof Error ? error : new Error(String(error)) })
    // 507 Insufficient Storage for a full disk; the others are 503 like an outage, with their code.
    return problem === 'storage_full' ? new AppError(507, problem, 'Insufficient Storage', storageProblemText[problem]) : unavailable(problem, storageProblemText[problem])
  }
  if (isStorageOutage(error)) {
    logger.warn('storage unavailable', { err: error instanceof Error ? error : new Error(String(error)) })
    return unavailable('storage_unavailable', 'The database cannot be reached right now; try again shortly.')
  }
  // Redis away (the presence a room list or detail shows): like the broker's outage, a 503.
  if (isRedisOutage(error)) {
    logger.warn('redis unavailable', { err: error as Error })
    return unavailable('presence_unavailable', 'Who is online cannot be read right now; try again shortly.')
  }
  logger.error('unhandled error', { err: error instanceof Error ? error : new Error(String(error)) })
  return new AppError(500, 'internal_error', 'Internal Server Error', 'Something went wrong; it has been logged.')
}

/**
 * Builds the whole application from its dependencies. It never listens, so tests reuse it. Returns
 * the Elysia app (routes, sockets) beside the parts its owner feeds and stops (server.ts): the hub
 * (every socket, room and stream), the presence tracker, the broker, presence, the profile cache,
 * the event consumers, and whether it is stopping.
 */
export function createApp(deps: AppDeps) {
  const { config, store, logger, metrics, testPage } = deps
  const files = deps.files ?? Files.open(config)
  const { links } = files
  const realtime = createRealtime({ ...deps, links })
  const { hub, broker, presence, limiter } = realtime
  const abuse = new AbuseLimits(config)
  const lifecycle = { stopping: false }
  const guard = createGatewayGuard(config, logger, metrics, config.TEST_PAGE === 'public' && testPage ? testPage.serves : undefined)
  const access = new RoomAccess(store)
  const profiles = new Profiles(store.membership, logger)
  const callers = createCallers(config, profiles)
  const screening = new Screening(store, config.CONTACT_GUARD, config.FILTER_REFRESH_MS, logger)
  const rooms = new RoomService(store, access, presence, abuse, broker, config.MAX_ROOM_MEMBERS, links, screening)
  const messages = new MessageService(store, access, broker, metrics, realtime.consumers, changeRules(config), screening)
  const moderation = new ModerationService(store, access, broker, screening, links)
  const members = new MemberService(store, access, broker, abuse, config.MAX_ROOM_MEMBERS)
  const blocks = new BlockService(store, broker)
  const reads = new ReadService(store, access, broker)
  const inbox = new InboxService(store, presence, links)
  const reports = new ReportService(store, access, abuse)
  const deadLetters = new DeadLetterService(store, links)
  const uploads = new UploadService(store, files, config, logger)
  const streams = new InboxStreams({ hub, store, inbox, broker, watches: realtime.watches, logger, liveRooms: config.INBOX_LIVE_ROOMS, roomParticipants: config.INBOX_ROOM_PARTICIPANTS, links })
  realtime.consumers.connectUserStreams(streams)
  const chat = new ChatService({ config, hub, broker, watches: realtime.watches, presence: realtime.tracker, replays: realtime.replays, messages, access, reads, limiter, closer: realtime.closer, metrics, logger, links })

  const app = new Elysia({
    // Bun reads no more of a body than this, past uploads' own limit (the route answers 413 first;
    // Bun would cut the connection): a larger one, declared or chunked, is answered 413 unread. Other routes take MAX_BODY_BYTES: the gate refuses a larger declared
    // length unread, and a chunked body is read no further than that (below).
    // Elysia's Bun adapter turns reusePort on: a second server on this port would then start without
    // an error and the kernel would split connections (and chat) between two processes.
    serve: { development: false, maxRequestBodySize: Math.max(config.MAX_BODY_BYTES, config.MAX_UPLOAD_BYTES + 2 * FORM_FRAMING_BYTES), reusePort: config.REUSE_PORT },
    // The router finds the path right after "http://<host>", where the gate reads it too (see
    // request-target.ts); Elysia's default skips 11 characters and misroutes Hosts under 4.
    handler: { standardHostname: false },
    websocket: {
      maxPayloadLength: config.MAX_PAYLOAD_BYTES,
      // Bun pings idle sockets and closes those that stay silent: half-open connections end.
      idleTimeout: config.WS_IDLE_TIMEOUT,
      sendPings: true,
      perMessageDeflate: false,
      // Slow readers are closed with 1013 well before this (slow-consumers.ts); past it Bun closes instead of dropping.
      backpressureLimit: Math.max(16 * 1024 * 1024, 4 * config.SLOW_CONSUMER_BYTES),
      closeOnBackpressureLimit: true,
    },
  })
    .onRequest(({ request, server }) => guard(request, server))
    .onError(({ code, error }) => problemResponse(toAppError(code, error, logger)))
    // A chunked body (no length for the gate to check) is measured before any route reads it.
    .onRequest(({ request }) => refuseLongChunkedBody(request, config.MAX_BODY_BYTES, UPLOADS_PATH))
    // Between parsing and validation: input nested too deep is refused before validation walks it.
    .onTransform({ as: 'global' }, ({ body }) => checkBodyDepth(body))
    .onStart(({ server }) => {
      if (server) hub.attach(server)
    })
    .use(docsRoutes(version))
    .use(testPage ? testPage.routes : new Elysia())
    .use(opsRoutes(store, broker, metrics, { shuttingDown: () => lifecycle.stopping }, logger))
    .use(roomRoutes(rooms, callers, config))
    .use(messageRoutes(messages, callers, config.MAX_MESSAGE_LENGTH, config.ROOM_DATA_BYTES, metrics, limiter, links))
    .use(memberRoutes(members, callers, config))
    .use(blockRoutes(blocks, callers))
    .use(readRoutes(reads, callers))
    .use(inboxRoutes(inbox, new RoomHiding(store, access, broker, messages), callers, config))
    .use(postRoutes(new PostService(store, rooms, messages, broker), callers, config))
    .use(meRoutes(callers))
    .use(reportRoutes(reports, callers, config))
    .use(moderationRoutes(moderation, callers))
    .use(deadLetterRoutes(deadLetters, callers))
    .use(uploadRoutes(uploads, files, callers, config.MAX_UPLOAD_BYTES, logger))
    .use(chatRoutes({ config, hub, broker, store, access, profiles, abuse, chat, metrics, logger }))
    .use(inboxSocketRoutes({ config, hub, broker, profiles, abuse, streams, limiter, closer: realtime.closer, metrics, logger }))
    .onStop(() => {
      limiter.close()
      abuse.close()
      realtime.stop()
    })

  return { app, files, hub, tracker: realtime.tracker, broker, presence, profiles, lifecycle, consumers: realtime.consumers }
}
