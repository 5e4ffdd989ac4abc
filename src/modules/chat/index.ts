import { Elysia } from 'elysia'
import type { ServerWebSocket } from 'bun'
import { AppError, badRequest } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import type { Metrics } from '../../metrics.ts'
import { openSession, type Session } from '../../realtime/session.ts'
import { roomParamsSchema } from '../shared-model.ts'
import { type DirectHandlers, upgradeDirect } from './fast-path.ts'
import { admitHandshake, offersChatProtocol, type Handshake, type HandshakeDeps } from './handshake.ts'
import type { ChatService } from './service.ts'

/**
 * A chat socket's data: until it opens, the handshake (as `state`) beside the callbacks; once open,
 * its session, whose prototype is the callbacks (see `openSession`), and nothing else.
 */
type ChatSocketData = { state: Handshake } | Session

const isSession = (data: ChatSocketData): data is Session => 'seq' in data

/** The subprotocol a socket's client offered `chat` among is chosen back (a browser needs one). */
const CHAT_PROTOCOL = { 'sec-websocket-protocol': 'chat' }

export interface ChatRouteDeps extends HandshakeDeps {
  chat: ChatService
  metrics: Metrics
  logger: Logger
}

/**
 * `WS /ws/chat/{room_id}/chat/`: refusals happen before the upgrade, as problem+json
 * (handshake.ts); an open socket's events go to the chat service (service.ts), straight from Bun
 * (fast-path.ts).
 */
export const chatRoutes = (deps: ChatRouteDeps) => {
  const { chat, hub, metrics, logger } = deps
  const handlers: DirectHandlers<Handshake> = {
    open(socket) {
      const handshake = socket.data.state
      const session = openSession(socket as ServerWebSocket<unknown>, handshake.identity, handshake.room.id, hub.topicOf(handshake.room.id), handshake.blocked, handlers)
      // From now on the socket's data is the session, the callbacks found on its prototype: no
      // object of its own per socket (48 B), and the handshake can go.
      ;(socket as ServerWebSocket<ChatSocketData>).data = session
      logger.debug('socket opened', { room: session.roomId, user: session.identity.userId })
      chat.open(session, handshake)
    },
    message: (socket, raw) => chat.rawFrame(socket.data as unknown as Session, raw),
    close(socket, code) {
      const data = socket.data as ChatSocketData
      if (isSession(data)) chat.close(data, code)
    },
  }
  // OpenAPI has no WebSocket operations: the protocol is the AsyncAPI document at /docs/asyncapi.json.
  return new Elysia({ name: 'chat' }).route(
    'WS',
    '/ws/chat/:room_id/chat/',
    async ({ request, params, server }) => {
      let handshake: Handshake
      try {
        handshake = await admitHandshake(request, params.room_id ?? '', server, deps)
      } catch (error) {
        const reason = error instanceof AppError ? error.code : 'internal_error'
        metrics.handshakesRefused.inc({ reason })
        logger.info('handshake refused', { reason, path: new URL(request.url).pathname })
        throw error
      }
      // A browser that offers subprotocols (say `chat, bearer.<token>` to a gateway) needs one
      // chosen back; `chat` is this protocol. The gateway strips the token before it gets here.
      const headers = offersChatProtocol(request.headers.get('sec-websocket-protocol')) ? CHAT_PROTOCOL : undefined
      if (!server || !upgradeDirect(server, request, handshake, handlers, headers)) {
        throw badRequest('not_a_websocket', 'Expected a websocket connection.')
      }
    },
    { params: roomParamsSchema, detail: { hide: true } },
  )
}
