import { notFound } from '../../errors.ts'
import type { Identity } from '../../identity.ts'
import type { AppendResult, MessageRow, Store } from '../../store/store.ts'
import type { HistoryQuery } from './model.ts'

/** Storing and reading messages; live delivery follows from the store's commit listener. */
export class MessageService {
  /** Rooms are never deleted, so a room seen once need not be looked up again. */
  private readonly knownRooms = new Set<number>()

  constructor(private readonly store: Store) {}

  /** Stores a message from `sender`; 404 for an unknown room. Resolves once committed. */
  async send(sender: Identity, roomId: number, text: string, clientMsgId: string | null): Promise<AppendResult> {
    await this.requireRoom(roomId)
    return this.record(sender, roomId, text, clientMsgId)
  }

  /** Stores a message to a room known to exist (a socket's own room). Resolves once committed. */
  record(sender: Identity, roomId: number, text: string, clientMsgId: string | null): Promise<AppendResult> {
    return this.store.appendMessage({
      roomId,
      userId: sender.userId,
      email: sender.email,
      nickname: sender.nickname,
      profileUrl: sender.profileUrl,
      body: text,
      clientMsgId,
      createdAt: Date.now(),
    })
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
