import { requireIdentity, type Caller } from '../../caller.ts'
import { conflict, notFound } from '../../errors.ts'
import type { Broker } from '../../realtime/broker.ts'
import { userEvent } from '../../realtime/events.ts'
import type { Store } from '../../store/store.ts'
import type { MessageService } from '../messages/service.ts'
import type { RoomAccess } from '../rooms/access.ts'

/**
 * Hiding a room from one's inbox (나가기), and leaving a direct room. A hidden room leaves the
 * user's list, badge and streams until a newer message arrives (their streams still follow it, and
 * a client that misses the room fetches it again on that message). Leaving a direct room also ends
 * it: the other member hears a system message (`{event: "left", user_id}`), and neither can send
 * there any more (409 `peer_left`).
 */
export class RoomHiding {
  constructor(
    private readonly store: Store,
    private readonly access: RoomAccess,
    private readonly broker: Broker,
    private readonly messages: MessageService,
  ) {}

  /** `DELETE /chat/v1/inbox/{room_id}/[?leave=true]`: 404 for a room not in the caller's inbox. */
  async hide(roomId: number, leave: boolean, caller: Caller): Promise<void> {
    const { identity } = requireIdentity(caller)
    const { room } = await this.access.admit(roomId, caller)
    if (leave) {
      if (room.kind !== 'direct') throw conflict('not_a_direct_room', "Only a direct room is left this way; a private room's members leave with DELETE /chat/v1/room/{id}/members/{user_id}/.")
      const left = await this.store.leaveDirectRoom(roomId, identity.userId, Date.now())
      if (left === 'absent') throw notFound('not_in_inbox', 'This room is not in your inbox.')
      if (left === 'left') await this.messages.recordSystem(roomId, { text: `${identity.nickname}님이 대화방을 나갔습니다.`, data: { event: 'left', user_id: identity.userId }, silent: false })
      this.broker.publish(userEvent(identity.userId, { type: 'removed', room: roomId }))
      return
    }
    const hidden = await this.store.hideRoom(roomId, identity.userId)
    if (hidden === 'absent') throw notFound('not_in_inbox', 'This room is not in your inbox.')
    this.broker.publish(userEvent(identity.userId, { type: 'hidden', room: roomId, through: hidden.through }))
  }
}
