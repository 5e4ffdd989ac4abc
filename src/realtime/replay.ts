import type { Logger } from '../logger.ts'
import type { Store } from '../store/store.ts'
import type { Broker } from './broker.ts'
import { encodeLatestFrame, encodeMessageFrame, encodeRecoveredFrame, encodeRoomUpdatedFrame, type AttachmentLinks } from './codec.ts'
import type { Hub } from './hub.ts'
import type { Session, Waiting } from './session.ts'
import type { SlowConsumers } from './slow-consumers.ts'

/**
 * Where a reconnecting client stands: the newest message id it has (`since=`, the seed's: new
 * messages only), or the room version it has (`since_version=`: every change after it).
 */
export type Since = { id: number } | { version: number }

type Replayed = (change: NonNullable<Waiting['change']>) => boolean

/**
 * Recovery after a reconnect with since= or since_version=: the socket's live frames wait
 * (hub.hold) while what it missed is read and sent, then `chat.recovered`, then what waited
 * (without what the replay sent) and live delivery: no gap and no duplicate.
 *
 * `since=` replays the messages after an id, each in its latest form. `since_version=` replays every
 * message changed after a version, once, in its latest form: `chat.message` for one the client
 * never had (created after its version), `chat.message.updated` or `chat.message.deleted` for one
 * it had; reactions come as the message's current `reactions`. After it the client's copy of every
 * message equals the server's.
 *
 * With several instances a change may be committed, and read by the replay, before it reaches this
 * instance live. So the socket stays held until this instance has delivered the room up to what the
 * replay saw committed; what arrives meanwhile the backlog drops as already sent.
 */
export class Replays {
  constructor(
    private readonly store: Pick<Store, 'recover' | 'changesAfter'>,
    private readonly broker: Pick<Broker, 'whenDelivered'>,
    private readonly hub: Hub,
    private readonly slowConsumers: SlowConsumers,
    private readonly limit: number,
    private readonly logger: Logger,
    private readonly links: AttachmentLinks,
  ) {}

  /** Holds the socket's live frames from now; call before its room's events can reach it. */
  begin(session: Session): void {
    this.hub.hold(session)
  }

  /**
   * Sends what the socket missed after `since`, then makes it live. Never throws: a failed read is
   * reported to the client through `failed`, and the socket goes live anyway.
   *
   * `admitted` asks whether the user may still use the room, after the read and before anything
   * is sent (false: it closed the socket, and nothing is sent). A removal or ban commits before
   * anything the room commits after it, so one that a read reached past shows in a check made
   * after the read: nothing committed after it reaches the socket.
   */
  async run(session: Session, since: Since, epoch: string, failed: (session: Session) => void, admitted: (session: Session) => Promise<boolean>): Promise<void> {
    let replayed: Replayed = () => false
    try {
      const replay = 'version' in since ? await this.changes(session.roomId, since.version, epoch) : await this.messages(session.roomId, since.id, epoch)
      if (!(await admitted(session))) return
      replayed = replay.send(session)
      this.slowConsumers.check(session)
      if (replay.seen > 0) await this.broker.whenDelivered(session.roomId, replay.seen)
    } catch (err) {
      this.logger.error('replay failed', { room: session.roomId, user: session.identity.userId, err })
      failed(session)
    }
    this.hub.release(session, replayed)
  }

  /** since=: the messages after the id, each as it is now; what waited is sent unless it is a creation or change already in them. */
  private async messages(roomId: number, since: number, epoch: string) {
    const { messages, truncated, version } = await this.store.recover(roomId, since, this.limit)
    const send = (session: Session): Replayed => {
      for (const row of messages) session.socket.send(encodeMessageFrame(row, this.links))
      session.socket.send(encodeRecoveredFrame(messages.length, truncated, epoch))
      const lastId = messages.at(-1)?.id ?? since
      const sentAt = new Map(messages.map((row) => [row.id, row.version]))
      return (change) => (change.created ? change.id <= lastId : change.version <= (sentAt.get(change.id) ?? 0))
    }
    return { seen: version, send }
  }

  /** since_version=: every message changed after the version, once; what waited is sent unless the replay covered its version. */
  private async changes(roomId: number, since: number, epoch: string) {
    const { messages, room, truncated, version } = await this.store.changesAfter(roomId, since, this.limit)
    const send = (session: Session): Replayed => {
      // The room itself as it is now, if it changed while the client was away (once, however often it did).
      if (room) session.socket.send(encodeRoomUpdatedFrame(room.summary, room.version))
      for (const row of messages) session.socket.send(encodeLatestFrame(row, row.createdVersion <= since, this.links))
      session.socket.send(encodeRecoveredFrame(messages.length, truncated, epoch, version))
      return (change) => change.version <= version
    }
    return { seen: version, send }
  }
}
