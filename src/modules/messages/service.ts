import type { Caller, IdentifiedCaller } from '../../caller.ts'
import { forbidden, unavailable } from '../../errors.ts'
import type { Identity } from '../../identity.ts'
import type { Metrics } from '../../metrics.ts'
import type { Broker } from '../../realtime/broker.ts'
import type { EventConsumers } from '../../realtime/consumers.ts'
import { messageEvent, userEvent } from '../../realtime/events.ts'
import type { AppendResult, MessageRow, Store } from '../../store/store.ts'
import type { RoomAccess } from '../rooms/access.ts'
import type { HistoryQuery } from './model.ts'

/** Storing and reading messages; a message stored is published to its room. */
export class MessageService {
  constructor(
    private readonly store: Store,
    private readonly access: RoomAccess,
    private readonly broker: Broker,
    private readonly metrics: Metrics,
    /** The instance's consumers, told of each message once it has committed, before it is published. */
    private readonly consumers: Pick<EventConsumers, 'committed'> = { committed() {} },
  ) {}

  /**
   * Stores a message from the caller: 404 for an unknown room, 403 for a room the caller may not
   * use (`not_a_member`) or a direct room whose pair blocked each other (`blocked`). Resolves once
   * committed. Membership is checked again where the message commits (NotAMemberError): a removal
   * answered before then wins.
   */
  async send(caller: IdentifiedCaller, roomId: number, text: string, clientMsgId: string | null): Promise<AppendResult> {
    // Most sends go to open rooms this instance has seen: nothing to look up, nothing to wait for.
    let open = this.access.knownOpen(roomId)
    if (!open) {
      const { room } = await this.access.admit(roomId, caller)
      if (await this.access.blocked(room)) throw forbidden('blocked', 'One of the two people in this direct room has blocked the other; messages cannot be sent here.')
      open = room.kind === 'open'
    }
    if (!this.broker.available) throw unavailable('broker_unavailable', 'Live delivery is down for a moment; the message was not stored. Send it again shortly.')
    const result = await this.record(caller.identity, roomId, text, clientMsgId, caller.service)
    if (open) this.tookPart(caller.identity.userId, roomId)
    return result
  }

  /** False while messages could be stored but not delivered live: sends are refused then. */
  get live(): boolean {
    return this.broker.available
  }

  /**
   * Stores a message to a room known to exist (a socket's own room) and, once committed, publishes
   * it to the room (a repeat of a client_msg_id is not published again). Appends resolve in commit
   * order, so messages are published in the order they were committed. The store refuses a sender
   * who is not a member of a private or direct room at commit (NotAMemberError), unless the app's
   * backend sends it (`viaService`).
   */
  async record(sender: Identity, roomId: number, text: string, clientMsgId: string | null, viaService = false): Promise<AppendResult> {
    const result = await this.store.appendMessage({
      roomId,
      userId: sender.userId,
      email: sender.email,
      nickname: sender.nickname,
      profileUrl: sender.profileUrl,
      body: text,
      clientMsgId,
      createdAt: Date.now(),
      viaService,
    })
    if (!result.duplicate) {
      this.metrics.messagesStored.inc()
      this.consumers.committed(result.message)
      this.broker.publish(messageEvent(result.message))
    }
    return result
  }

  /**
   * The user sent to an open room, which is in their inbox from then on: their streams hear of it
   * (and ignore it when they follow the room already).
   */
  tookPart(userId: string, roomId: number): void {
    this.broker.publish(userEvent(userId, { type: 'room', room: roomId }))
  }

  /** A page of the room's messages, for a caller who may read it. */
  async history(roomId: number, query: HistoryQuery, caller: Caller): Promise<MessageRow[]> {
    await this.access.admit(roomId, caller)
    return this.store.listMessages(roomId, query)
  }
}
