import { Elysia } from 'elysia'
import type { ServerWebSocket } from 'bun'
import { AppError, badRequest } from '../../errors.ts'
import { publicHost } from '../../http.ts'
import type { Identity } from '../../identity.ts'
import type { Logger } from '../../logger.ts'
import type { Metrics } from '../../metrics.ts'
import type { Closer } from '../../realtime/closing.ts'
import { CloseCode, encodeErrorFrame } from '../../realtime/codec.ts'
import type { RateLimiter, SocketLimits } from '../../realtime/rate-limits.ts'
import { type StreamSocket, userTopic } from '../../realtime/session.ts'
import { type DirectHandlers, upgradeDirect } from '../chat/fast-path.ts'
import { admitConnection, offersChatProtocol, type ConnectionDeps } from '../chat/handshake.ts'
import type { InboxStreams } from './stream.ts'

/** Who a stream socket was admitted as, until it opens. */
interface Admitted {
  identity: Identity
  host: string
}
type InboxConnection = StreamSocket & { limits: SocketLimits }
const isConnection = (state: Admitted | InboxConnection): state is InboxConnection => 'socket' in state

/** The subprotocol a socket's client offered `chat` among is chosen back (a browser needs one). */
const CHAT_PROTOCOL = { 'sec-websocket-protocol': 'chat' }

export interface InboxSocketDeps extends ConnectionDeps {
  streams: InboxStreams
  limiter: RateLimiter
  closer: Closer
  metrics: Metrics
  logger: Logger
}

/**
 * `WS /ws/chat/inbox/`: the user stream. The same handshake rules as room sockets (identity, origin,
 * rates, sockets per user, 503 while live delivery is down); it only sends (stream.ts). A frame from
 * the client is answered with `chat.error` and counts against the user's message rate, so a client
 * cannot make it work for nothing.
 */
export const inboxSocketRoutes = (deps: InboxSocketDeps) => {
  const { streams, limiter, closer, metrics, logger, config } = deps
  // Straight from Bun, as the room sockets' (modules/chat/fast-path.ts): a user keeps this socket
  // open as long as the app is, so it should cost no more than its state.
  const handlers: DirectHandlers<Admitted | InboxConnection> = {
    open(socket) {
      const { identity, host } = socket.data.state
      const connection: InboxConnection = { identity, host, socket: socket as ServerWebSocket<unknown>, topic: userTopic(identity.userId), closing: false, limits: limiter.forSocket() }
      socket.data.state = connection
      streams.open(connection)
    },
    message(socket) {
      const connection = socket.data.state
      if (!isConnection(connection)) return
      if (limiter.socketMessage(connection.identity.userId, connection.limits) === 'flooding') {
        metrics.socketsClosed.labels('flooding').inc()
        return closer.close(connection, CloseCode.policy, 'sending too fast, repeatedly')
      }
      metrics.chatErrors.labels('unknown_type').inc()
      connection.socket.send(encodeErrorFrame('unknown_type', 'the inbox stream takes no frames; use the REST API (POST /chat/v1/room/{id}/read/ to mark a room read)'))
    },
    close(socket) {
      const connection = socket.data.state
      if (isConnection(connection)) streams.close(connection)
    },
  }
  // OpenAPI has no WebSocket operations: the protocol is the AsyncAPI document at /docs/asyncapi.json.
  return new Elysia({ name: 'inbox-stream' }).route(
    'WS',
    '/ws/chat/inbox/',
    async ({ request, server }) => {
      let admitted: Admitted
      try {
        admitted = { identity: await admitConnection(request, server, deps), host: publicHost(request, config.PUBLIC_URL) }
      } catch (error) {
        const reason = error instanceof AppError ? error.code : 'internal_error'
        metrics.handshakesRefused.inc({ reason })
        logger.info('handshake refused', { reason, path: '/ws/chat/inbox/' })
        throw error
      }
      const headers = offersChatProtocol(request.headers.get('sec-websocket-protocol')) ? CHAT_PROTOCOL : undefined
      if (!server || !upgradeDirect<Admitted | InboxConnection>(server, request, admitted, handlers, headers)) {
        throw badRequest('not_a_websocket', 'Expected a websocket connection.')
      }
    },
    { detail: { hide: true } },
  )
}
