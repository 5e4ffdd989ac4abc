import { type Clock, realClock } from '../clock.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Connection } from './session.ts'

/**
 * How long a socket the server closes may take to read what was queued before its close frame.
 * Bun's close() sends the frame after whatever is queued and cannot then be hurried: a peer that
 * does not read would keep the connection, and its queue, for as long as it likes.
 */
export const CLOSE_GRACE_MS = 3000
const POLL_MS = 100

/**
 * Closes sockets from the server's side, so that close means close: the socket stops getting room
 * events, gets its close frame once its queue has drained, and is cut (the peer sees the connection
 * end without a close frame, its queue released) if it has not drained within CLOSE_GRACE_MS.
 */
export class Closer {
  constructor(
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    private readonly graceMs = CLOSE_GRACE_MS,
    private readonly clock: Clock = realClock,
  ) {}

  close(connection: Connection, code: number, reason: string): void {
    if (connection.closing) return
    connection.closing = true
    if (connection.topic !== null) connection.socket.unsubscribe(connection.topic)
    this.finish(connection, code, reason, this.clock.now())
  }

  private finish(connection: Connection, code: number, reason: string, since: number) {
    const socket = connection.socket
    if (socket.readyState !== 1) return
    const queued = socket.getBufferedAmount()
    if (queued === 0) return socket.close(code, reason)
    if (this.clock.now() - since < this.graceMs) {
      this.clock.setTimeout(() => this.finish(connection, code, reason, since), POLL_MS)
      return
    }
    this.metrics.socketsTerminated.inc()
    this.metrics.terminatedQueuedBytes.inc(queued)
    this.logger.info('cutting a socket that did not read its queue before closing', { topic: connection.topic, user: connection.identity.userId, code, queued })
    socket.terminate()
  }
}
