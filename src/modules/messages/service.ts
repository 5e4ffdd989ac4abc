import { notFound, unavailable } from '../../errors.ts'
import type { Identity } from '../../identity.ts'
import type { Metrics } from '../../metrics.ts'
import type { Broker } from '../../realtime/broker.ts'
import { messageEvent } from '../../realtime/events.ts'
import type { AppendResult, MessageRow, Store } from '../../store/store.ts'
import type { HistoryQuery } from './model.ts'

/** Storing and reading messages; a message stored is published to its room. */
export class MessageService {
  /** Rooms are never deleted, so a room seen once need not be looked up again. */
  private readonly knownRooms = new Set<number>()

  constructor(
    private readonly store: Store,
    private readonly broker: Broker,
    private readonly metrics: Metrics,
  ) {}

  /** Stores a message from `sender`; 404 for an unknown room. Resolves once committed. */
  async send(sender: Identity, roomId: number, text: string, clientMsgId: string | null): Promise<AppendResult> {
    await this.requireRoom(roomId)
    if (!this.broker.available) throw unavailable('broker_unavailable', 'Live delivery is down for a moment; the message was not stored. Send it again shortly.')
    return this.record(sender, roomId, text, clientMsgId)
  }

  /** False while messages could be stored but not delivered live: sends are refused then. */
  get live(): boolean {
    return this.broker.available
  }

  /**
   * Stores a message to a room known to exist (a socket's own room) and, once committed, publishes
   * it to the room (a repeat of a client_msg_id is not published again). Appends resolve in commit
   * order, so messages are published in the order they were committed.
   */
  async record(sender: Identity, roomId: number, text: string, clientMsgId: string | null): Promise<AppendResult> {
    const result = await this.store.appendMessage({
      roomId,
      userId: sender.userId,
      email: sender.email,
      nickname: sender.nickname,
      profileUrl: sender.profileUrl,
      body: text,
      clientMsgId,
      createdAt: Date.now(),
    })
    if (!result.duplicate) {
      this.metrics.messagesStored.inc()
      this.broker.publish(messageEvent(result.message))
    }
    return result
  }

  async history(roomId: number, query: HistoryQuery): Promise<MessageRow[]> {
    await this.requireRoom(roomId)
    return this.store.listMessages(roomId, query)
  }

  /** Throws 404 unless the room exists. */
  async requireRoom(roomId: number): Promise<void> {
    if (this.knownRooms.has(roomId)) return
    if (!(await this.store.getRoom(roomId))) throw notFound('room_not_found', `There is no room ${roomId}.`)
    this.knownRooms.add(roomId)
  }
}
