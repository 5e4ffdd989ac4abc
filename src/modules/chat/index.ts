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

/** What a chat socket keeps: the handshake until it opens, then its session. */
type ChatSocketState = Handshake | Session

const isSession = (state: ChatSocketState): state is Session => 'seq' in state

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
  const handlers: DirectHandlers<ChatSocketState> = {
    open(socket) {
      const handshake = socket.data.state as Handshake
      const session = openSession(socket as ServerWebSocket<unknown>, handshake.identity, handshake.room.id, hub.topicOf(handshake.room.id), handshake.blocked)
      // From now on the socket keeps its session; the handshake can go.
      socket.data.state = session
      logger.debug('socket opened', { room: session.roomId, user: session.identity.userId })
      chat.open(session, handshake)
    },
    message: (socket, raw) => chat.rawFrame(socket.data.state as Session, raw),
    close(socket, code) {
      const state = socket.data.state
      if (isSession(state)) chat.close(state, code)
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
      if (!server || !upgradeDirect<ChatSocketState>(server, request, handshake, handlers, headers)) {
        throw badRequest('not_a_websocket', 'Expected a websocket connection.')
      }
    },
    { params: roomParamsSchema, detail: { hide: true } },
  )
}
