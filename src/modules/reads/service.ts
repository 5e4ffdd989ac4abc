import { requireIdentity, type Caller } from '../../caller.ts'
import type { Broker } from '../../realtime/broker.ts'
import { readEvent, userEvent } from '../../realtime/events.ts'
import { NotAMemberError, type Store } from '../../store/store.ts'
import type { RoomAccess } from '../rooms/access.ts'
import type { ReadMarkerDto, UnreadDto } from './model.ts'

/**
 * Read markers: each member's (and each open-room participant's) newest message read. A marker
 * only moves forward and never past the room's newest message; sending moves the sender's (the
 * stores do that with the message). When one moves, the room hears `chat.read` on every instance.
 */
export class ReadService {
  constructor(
    private readonly store: Store,
    private readonly access: RoomAccess,
    private readonly broker: Broker,
  ) {}

  /** `POST /room/{id}/read/`: for a caller who may use the room. */
  async mark(caller: Caller, roomId: number, lastReadId: number): Promise<ReadMarkerDto> {
    const { identity } = requireIdentity(caller)
    await this.access.admit(roomId, caller)
    return this.move(roomId, identity.userId, lastReadId)
  }

  /**
   * Moves the marker of a user already admitted to the room (a socket's own, say). Membership is
   * checked again in the marker's own transaction: NotAMemberError when it is gone since.
   */
  async move(roomId: number, userId: string, lastReadId: number): Promise<ReadMarkerDto> {
    const marker = await this.store.membership.markRead(roomId, userId, lastReadId)
    if (!marker) throw new NotAMemberError(roomId, userId)
    // A first marker in an open room puts the room in the user's inbox.
    if (marker.joined && !marker.moved) this.broker.publish(userEvent(userId, { type: 'room', room: roomId }))
    if (marker.moved) {
      this.broker.publish(readEvent(roomId, userId, marker.lastReadId))
      // The user's streams, on every instance, hear where it is and what is left unread.
      this.broker.publish(userEvent(userId, { type: 'read', room: roomId, lastReadId: marker.lastReadId, unreadCount: marker.unreadCount, countedUpTo: marker.countedUpTo }))
    }
    return { room: roomId, last_read_id: marker.lastReadId, unread_count: marker.unreadCount }
  }

  /** `GET /unread/`: the badge. */
  async unread(caller: Caller): Promise<UnreadDto> {
    return this.store.membership.unreadTotal(requireIdentity(caller).identity.userId)
  }
}
