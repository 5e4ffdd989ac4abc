import { Elysia } from 'elysia'
import type { ServerWebSocket } from 'bun'
import { AppError } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import type { Metrics } from '../../metrics.ts'
import { openSession, type Session } from '../../realtime/session.ts'
import { roomParamsSchema } from '../shared-model.ts'
import { adopt, type DirectHandlers } from './fast-path.ts'
import { admitHandshake, offersChatProtocol, type Handshake, type HandshakeDeps } from './handshake.ts'
import type { ChatService } from './service.ts'

/** Per-socket state lives in the socket's own data object, which is stable across events. */
interface ChatSocketData {
  handshake?: Handshake
  session?: Session
}
const socketData = (ws: { data: unknown }) => ws.data as ChatSocketData

export interface ChatRouteDeps extends HandshakeDeps {
  chat: ChatService
  metrics: Metrics
  logger: Logger
}

/**
 * `WS /ws/chat/{room_id}/chat/`: refusals happen before the upgrade, as problem+json
 * (handshake.ts); an open socket's events go to the chat service (service.ts).
 */
export const chatRoutes = (deps: ChatRouteDeps) => {
  const { chat, hub, metrics, logger } = deps
  const direct: DirectHandlers<Session> = {
    message: (socket, raw) => chat.rawFrame(socket.data.kept, raw),
    close: (socket, code) => chat.close(socket.data.kept, code),
  }
  return new Elysia({ name: 'chat' }).ws('/ws/chat/:room_id/chat/', {
    params: roomParamsSchema,
    // OpenAPI has no WebSocket operations: the protocol is the AsyncAPI document at /docs/asyncapi.json.
    detail: { hide: true },
    async upgrade(context) {
      const { request, params, server } = context
      try {
        const handshake = await admitHandshake(request, params.room_id ?? '', server, deps)
        // A browser that offers subprotocols (say `chat, bearer.<token>` to a gateway) needs one
        // chosen back; `chat` is this protocol. The gateway strips the token before it gets here.
        if (offersChatProtocol(request.headers.get('sec-websocket-protocol'))) context.set.headers['sec-websocket-protocol'] = 'chat'
        // The context is copied into the socket's data at upgrade; the handshake travels with it.
        Object.assign(context, { handshake })
      } catch (error) {
        const reason = error instanceof AppError ? error.code : 'internal_error'
        metrics.handshakesRefused.inc({ reason })
        logger.info('handshake refused', { reason, path: new URL(request.url).pathname })
        throw error
      }
    },
    open(ws) {
      const handshake = socketData(ws).handshake
      if (!handshake) return ws.close(1011, 'handshake state missing')
      const session = openSession(ws.raw as ServerWebSocket<unknown>, handshake.identity, handshake.room.id, hub.topicOf(handshake.room.id), handshake.blocked)
      if (!adopt(ws, session, direct)) socketData(ws).session = session
      logger.debug('socket opened', { room: session.roomId, user: session.identity.userId })
      chat.open(session, handshake)
    },
    // These two serve only if `adopt` could not take the socket (Elysia has parsed the JSON here).
    message(ws, data) {
      const session = socketData(ws).session
      if (session) chat.frame(session, data)
    },
    close(ws, code) {
      const session = socketData(ws).session
      if (session) chat.close(session, code)
    },
  })
}
