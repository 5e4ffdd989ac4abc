import { Elysia } from 'elysia'
import type { ServerWebSocket } from 'bun'
import type { Config } from '../config.ts'
import { AppError, badRequest, tooMany, unavailable } from '../errors.ts'
import type { AbuseLimits } from '../abuse-limits.ts'
import { clientAddress, originAllowed } from '../gateway.ts'
import { identityFromHandshake, type Identity } from '../identity.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { MessageService } from '../modules/messages/service.ts'
import { parseRoomId, roomParamsSchema } from '../modules/shared-model.ts'
import { UnstorableTextError, type Store } from '../store/store.ts'
import type { Broker } from './broker.ts'
import type { Hub, Session } from './hub.ts'
import type { RateLimiter } from './limits.ts'
import { CloseCode, type ChatErrorCode, encodeErrorFrame, encodeMessageFrame, encodeRecoveredFrame, encodeResetFrame, encodeTypingFrame, parseClientFrame } from './protocol.ts'

/** What the handshake established, carried from the upgrade to the open socket. */
interface Handshake {
  identity: Identity
  roomId: number
  since: number | null
  /** The storage epoch now. */
  epoch: string
  /** True when the client's epoch= names another epoch: its since= means nothing here. */
  reset: boolean
}

/** Per-socket state lives in the socket's own data object, which is stable across events. */
interface ChatSocketData {
  handshake?: Handshake
  session?: Session
}
const socketData = (ws: { data: unknown }) => ws.data as ChatSocketData

/** `epoch=`: as the server gave it in `chat.recovered` or room detail. */
function parseEpoch(raw: string | null): string | null {
  if (raw === null || raw === '') return null
  if (!/^[A-Za-z0-9-]{1,64}$/.test(raw)) throw badRequest('invalid_epoch', 'epoch must be the value the server gave in chat.recovered or room detail.', [{ path: 'epoch', message: 'must be 1–64 letters, digits or dashes' }])
  return raw
}

function parseSince(raw: string | null): number | null {
  if (raw === null || raw === '') return null
  if (!/^\d{1,15}$/.test(raw)) throw badRequest('invalid_since', 'since must be a message id (a non-negative integer).', [{ path: 'since', message: 'must be a non-negative integer' }])
  return Number(raw)
}

/** True when the client offers the `chat` subprotocol. */
const offersChatProtocol = (header: string | null) => header !== null && header.split(',').some((p) => p.trim() === 'chat')

export interface ChatSocketDeps {
  config: Config
  hub: Hub
  store: Store
  messages: MessageService
  logger: Logger
  metrics: Metrics
  limiter: RateLimiter
  abuse: AbuseLimits
  broker: Broker
}

/**
 * `/ws/chat/{room_id}/chat/`: a thin adapter between WebSocket frames and the services.
 * Refusals happen before the upgrade, as problem+json (400 identity, 404 room).
 */
export const chatSocket = ({ config, hub, store, messages, logger, metrics, limiter, abuse, broker }: ChatSocketDeps) => {
  function sendError(session: Session, code: ChatErrorCode, message: string) {
    metrics.chatErrors.labels(code).inc()
    session.socket.send(encodeErrorFrame(code, message))
  }

  /** Replays what a reconnecting socket missed, then makes it live with no gap and no duplicate. */
  async function replay(session: Session, since: number, epoch: string) {
    let lastId = since
    try {
      const { messages: missed, truncated } = await store.recover(session.roomId, since, config.RECOVERY_LIMIT)
      for (const row of missed) session.socket.send(encodeMessageFrame(row))
      const last = missed.at(-1)
      lastId = last?.id ?? since
      session.socket.send(encodeRecoveredFrame(missed.length, truncated, epoch))
      hub.closeIfSlow(session)
      // With several instances, some replayed messages may still be on their way here live: stay
      // in the backlog (which drops what was replayed) until this instance has delivered them.
      if (last?.seq !== undefined) await broker.whenDelivered(session.roomId, last.seq)
    } catch (err) {
      logger.error('replay failed', { room: session.roomId, user: session.identity.userId, err })
      sendError(session, 'store_failed', 'could not replay missed messages; fetch them over REST')
    }
    hub.endReplay(session, lastId)
  }

  const receivedOverWs = metrics.messagesReceived.labels('ws')

  async function send(session: Session, text: string, clientMsgId: string | null) {
    try {
      const { message, duplicate } = await messages.record(session.identity, session.roomId, text, clientMsgId)
      // A new message reaches everyone through the commit listener; a repeat is answered to its sender only.
      if (duplicate) session.socket.send(encodeMessageFrame(message))
    } catch (err) {
      // Text the store cannot keep as sent will not store on a second try either.
      if (err instanceof UnstorableTextError) return sendError(session, 'message_invalid', err.message)
      logger.error('storing a message failed', { room: session.roomId, user: session.identity.userId, err })
      sendError(session, 'store_failed', 'the message could not be stored; send it again')
    }
  }

  /** One parsed frame from a socket. */
  function onFrame(session: Session, data: unknown) {
    const parsed = parseClientFrame(data, config.MAX_MESSAGE_LENGTH)
    if (!parsed.ok) return sendError(session, parsed.code, parsed.message)
    const frame = parsed.frame
    if (frame.type === 'chat.message') {
      const verdict = limiter.socketMessage(session.identity.userId, session.limits)
      if (verdict === 'flooding') {
        metrics.socketsClosed.labels('flooding').inc()
        logger.info('closing a socket that keeps flooding', { room: session.roomId, user: session.identity.userId })
        return hub.close(session, CloseCode.policy, 'sending too fast, repeatedly')
      }
      if (verdict === 'limited') {
        return sendError(session, 'rate_limited', `slow down: at most ${config.RATE_LIMIT_PER_SECOND} messages a second (bursts of ${config.RATE_LIMIT_BURST}); this one was not stored`)
      }
      if (!messages.live) return sendError(session, 'unavailable', 'live delivery is down for a moment; the message was not stored, send it again shortly')
      receivedOverWs.inc()
      return void send(session, frame.message, frame.client_msg_id ?? null)
    }
    const now = Date.now()
    if (now - session.lastTypingAt < config.TYPING_INTERVAL_MS) return
    session.lastTypingAt = now
    // To the room's other sockets, on every instance; not back to this one.
    broker.publishEvent(session.roomId, encodeTypingFrame(session.identity.userId, session.identity.nickname), session.id)
  }

  /** One raw frame, straight from Bun. */
  function onRawFrame(session: Session, raw: string | Buffer) {
    if (typeof raw !== 'string') return sendError(session, 'binary_not_supported', 'binary frames are not supported; send JSON text')
    let data: unknown
    try {
      data = JSON.parse(raw)
    } catch {
      return sendError(session, 'invalid_json', 'frame is not valid JSON')
    }
    onFrame(session, data)
  }

  function onClose(session: Session, code: number) {
    hub.exit(session)
    logger.debug('socket closed', { room: session.roomId, user: session.identity.userId, code })
  }

  /**
   * Takes an open socket's events straight from Bun. Elysia 1.4 keeps, per socket, a copy of the
   * upgrade's request context (Request, headers, query…) and closures over it, and hands each frame
   * to `ws.data.message` after an async JSON parse and a new ElysiaWS wrapper with 13 bound
   * methods. That cost a tenth of the server's time under fan-out load and a third of an idle
   * socket's memory. Here the data keeps only the session and two direct handlers, so the rest can
   * be collected. Should a later Elysia not have this shape, nothing is changed and the route's own
   * `message` and `close` handlers below serve.
   */
  function adopt(ws: { raw: unknown }, session: Session) {
    const data = (ws.raw as ServerWebSocket<Record<string, unknown>>).data
    if (!data || typeof data.message !== 'function' || typeof data.close !== 'function') return
    for (const key of Object.keys(data)) if (key !== 'id' && key !== 'validator') Reflect.deleteProperty(data, key)
    data.session = session
    data.message = (_socket: unknown, raw: string | Buffer) => onRawFrame(session, raw)
    data.close = (_socket: unknown, code: number) => onClose(session, code)
  }

  return new Elysia({ name: 'chat-socket' }).ws('/ws/chat/:room_id/chat/', {
    params: roomParamsSchema,
    // OpenAPI has no WebSocket operations: the protocol is the AsyncAPI document at /docs/asyncapi.json.
    detail: { hide: true },
    async upgrade(context) {
      const { request, params, server } = context
      try {
        if (!originAllowed(request.headers.get('origin'), config.ALLOWED_ORIGINS)) {
          throw new AppError(403, 'origin_not_allowed', 'Forbidden', 'This origin may not open chat connections.')
        }
        const query = new URL(request.url).searchParams
        const identity = identityFromHandshake(request.headers, query, config.IDENTITY_SOURCES)
        // Every handshake is a presence change the room may hear of: limited per user and address.
        const wait = abuse.handshake({ userId: identity.userId, address: clientAddress(request, server, config) })
        if (wait > 0) throw tooMany('too_many_handshakes', 'Too many connection attempts; wait and reconnect.', wait)
        const roomId = parseRoomId(params.room_id ?? '')
        const since = parseSince(query.get('since'))
        const givenEpoch = parseEpoch(query.get('epoch'))
        await messages.requireRoom(roomId)
        const epoch = await store.epoch()
        if (!broker.available) throw unavailable('broker_unavailable', 'Live delivery is down for a moment; reconnect shortly.')
        if (hub.socketsOfUser(identity.userId) >= config.MAX_SOCKETS_PER_USER) {
          throw tooMany('too_many_sockets', `This user already has ${config.MAX_SOCKETS_PER_USER} open chat connections; close one first.`)
        }
        if (hub.socketsInRoom(roomId) >= config.MAX_SOCKETS_PER_ROOM) throw tooMany('room_full', 'This room has as many open connections as it can take; try again later.')
        // A browser that offers subprotocols (say `chat, bearer.<token>` to a gateway) needs one
        // chosen back; `chat` is this protocol. The gateway strips the token before it gets here.
        if (offersChatProtocol(request.headers.get('sec-websocket-protocol'))) context.set.headers['sec-websocket-protocol'] = 'chat'
        // The context is copied into the socket's data at upgrade; the handshake travels with it.
        const reset = givenEpoch !== null && givenEpoch !== epoch
        Object.assign(context, { handshake: { identity, roomId, since: reset ? null : since, epoch, reset } satisfies Handshake })
      } catch (error) {
        const reason = error instanceof AppError ? error.code : 'internal_error'
        metrics.handshakesRefused.inc({ reason })
        logger.info('handshake refused', { reason, path: new URL(request.url).pathname })
        throw error
      }
    },
    open(ws) {
      const data = socketData(ws)
      const handshake = data.handshake
      if (!handshake) return ws.close(1011, 'handshake state missing')
      const session: Session = {
        id: crypto.randomUUID(),
        identity: handshake.identity,
        roomId: handshake.roomId,
        socket: ws.raw as ServerWebSocket<unknown>,
        limits: limiter.forSocket(),
        slowSince: 0,
        backlog: null,
        lastTypingAt: 0,
        closing: false,
      }
      data.session = session
      adopt(ws, session)
      logger.debug('socket opened', { room: session.roomId, user: session.identity.userId })
      const { since, epoch } = handshake
      // Another epoch: the client's ids mean nothing here; it hears so before anything live.
      if (handshake.reset) session.socket.send(encodeResetFrame(epoch))
      const live = hub.enter(session)
      // With since=, live frames wait in the backlog from now; the replay starts once the room's
      // live events flow to this instance, so none can fall between the two.
      if (since === null) hub.subscribe(session)
      else hub.beginReplay(session)
      live
        .then(
          () => (since === null ? undefined : replay(session, since, epoch)),
          (err: unknown) => {
            // The room's events cannot reach this instance (the broker is away): say so and let
            // the client come back with since= rather than sit on a socket that hears nothing.
            metrics.watchFailures.inc()
            logger.warn('live delivery for a room could not be set up; closing the socket', { room: session.roomId, user: session.identity.userId, err })
            hub.close(session, CloseCode.tryAgainLater, 'live delivery unavailable; reconnect with since')
          },
        )
        .catch((err: unknown) => logger.error('opening a socket failed', { room: session.roomId, user: session.identity.userId, err }))
    },
    // These two serve only if `adopt` could not take the socket (Elysia has parsed JSON here).
    message(ws, data) {
      const session = socketData(ws).session
      if (session) onFrame(session, data)
    },
    close(ws, code) {
      const session = socketData(ws).session
      if (session) onClose(session, code)
    },
  })
}
