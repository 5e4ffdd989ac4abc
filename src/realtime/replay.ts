import type { Logger } from '../logger.ts'
import type { Store } from '../store/store.ts'
import type { Broker } from './broker.ts'
import { encodeMessageFrame, encodeRecoveredFrame } from './codec.ts'
import type { Hub } from './hub.ts'
import type { Session } from './session.ts'
import type { SlowConsumers } from './slow-consumers.ts'

/**
 * Recovery after a reconnect with since=: the socket's live frames wait (hub.hold) while the
 * messages it missed are read and sent, then `chat.recovered`, then what waited (without what the
 * replay sent) and live delivery: no gap and no duplicate.
 *
 * With several instances a message may be committed, and read by the replay, before it reaches this
 * instance live. So the socket stays held until this instance has delivered the room up to what the
 * replay saw committed; what arrives meanwhile the backlog drops as already sent.
 */
export class Replays {
  constructor(
    private readonly store: Pick<Store, 'recover'>,
    private readonly broker: Pick<Broker, 'whenDelivered'>,
    private readonly hub: Hub,
    private readonly slowConsumers: SlowConsumers,
    private readonly limit: number,
    private readonly logger: Logger,
  ) {}

  /** Holds the socket's live frames from now; call before its room's events can reach it. */
  begin(session: Session): void {
    this.hub.hold(session)
  }

  /**
   * Sends what the socket missed after `since`, then makes it live. Never throws: a failed read is
   * reported to the client through `failed`, and the socket goes live anyway.
   */
  async run(session: Session, since: number, epoch: string, failed: (session: Session) => void): Promise<void> {
    let lastId = since
    try {
      const { messages, truncated, lastSeq } = await this.store.recover(session.roomId, since, this.limit)
      for (const row of messages) session.socket.send(encodeMessageFrame(row))
      lastId = messages.at(-1)?.id ?? since
      session.socket.send(encodeRecoveredFrame(messages.length, truncated, epoch))
      this.slowConsumers.check(session)
      const seen = Math.max(messages.at(-1)?.seq ?? 0, lastSeq ?? 0)
      if (seen > 0) await this.broker.whenDelivered(session.roomId, seen)
    } catch (err) {
      this.logger.error('replay failed', { room: session.roomId, user: session.identity.userId, err })
      failed(session)
    }
    this.hub.release(session, lastId)
  }
}
