import { Elysia } from 'elysia'
import type { ServerWebSocket } from 'bun'
import { AppError } from '../../errors.ts'
import { publicHost } from '../../http.ts'
import type { Identity } from '../../identity.ts'
import type { Logger } from '../../logger.ts'
import type { Metrics } from '../../metrics.ts'
import type { Closer } from '../../realtime/closing.ts'
import { CloseCode, encodeErrorFrame } from '../../realtime/codec.ts'
import type { RateLimiter, SocketLimits } from '../../realtime/rate-limits.ts'
import { type StreamSocket, userTopic } from '../../realtime/session.ts'
import { admitConnection, offersChatProtocol, type ConnectionDeps } from '../chat/handshake.ts'
import type { InboxStreams } from './stream.ts'

interface InboxSocketData {
  admitted?: { identity: Identity; host: string }
  connection?: StreamSocket & { limits: SocketLimits }
}
const socketData = (ws: { data: unknown }) => ws.data as InboxSocketData

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
  return new Elysia({ name: 'inbox-stream' }).ws('/ws/chat/inbox/', {
    // OpenAPI has no WebSocket operations: the protocol is the AsyncAPI document at /docs/asyncapi.json.
    detail: { hide: true },
    async upgrade(context) {
      const { request, server } = context
      try {
        const identity = await admitConnection(request, server, deps)
        if (offersChatProtocol(request.headers.get('sec-websocket-protocol'))) context.set.headers['sec-websocket-protocol'] = 'chat'
        Object.assign(context, { admitted: { identity, host: publicHost(request, config.PUBLIC_URL) } })
      } catch (error) {
        const reason = error instanceof AppError ? error.code : 'internal_error'
        metrics.handshakesRefused.inc({ reason })
        logger.info('handshake refused', { reason, path: '/ws/chat/inbox/' })
        throw error
      }
    },
    open(ws) {
      const data = socketData(ws)
      if (!data.admitted) return ws.close(1011, 'handshake state missing')
      const { identity, host } = data.admitted
      const connection = { identity, host, socket: ws.raw as ServerWebSocket<unknown>, topic: userTopic(identity.userId), closing: false, limits: limiter.forSocket() }
      data.connection = connection
      streams.open(connection)
    },
    message(ws) {
      const connection = socketData(ws).connection
      if (!connection) return
      if (limiter.socketMessage(connection.identity.userId, connection.limits) === 'flooding') {
        metrics.socketsClosed.labels('flooding').inc()
        return closer.close(connection, CloseCode.policy, 'sending too fast, repeatedly')
      }
      metrics.chatErrors.labels('unknown_type').inc()
      connection.socket.send(encodeErrorFrame('unknown_type', 'the inbox stream takes no frames; use the REST API (POST /chat/v1/room/{id}/read/ to mark a room read)'))
    },
    close(ws) {
      const connection = socketData(ws).connection
      if (connection) streams.close(connection)
    },
  })
}
