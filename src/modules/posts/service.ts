import { requireService, type Caller } from '../../caller.ts'
import { unavailable } from '../../errors.ts'
import type { Broker } from '../../realtime/broker.ts'
import type { Store } from '../../store/store.ts'
import type { MessageService } from '../messages/service.ts'
import type { PostEventBody } from '../rooms/model.ts'
import type { RoomService } from '../rooms/service.ts'

/** Rooms archived in one transaction: their row locks are held that long (a post has few rooms; a big one many). */
const ARCHIVE_BATCH = 100

/**
 * Events about a post, for every room about it (open, private, direct): "예약중", "거래완료", a post
 * taken down. The rooms are found by `post_id` (an index), archived first when asked (each in its
 * room's order, under its lock, so a send that commits after it is refused), then each gets the
 * system message, group-committed with whatever else is being sent.
 */
export class PostService {
  constructor(
    private readonly store: Store,
    private readonly rooms: RoomService,
    private readonly messages: MessageService,
    private readonly broker: Broker,
  ) {}

  /** `POST /chat/v1/posts/{post_id}/messages/` (service call): the rooms that got the message. */
  async event(postId: number, body: PostEventBody, host: string, caller: Caller): Promise<{ rooms: number[] }> {
    requireService(caller, 'send to every room about a post')
    if (!this.broker.available) throw unavailable('broker_unavailable', 'Live delivery is down for a moment; nothing was stored. Try again shortly.')
    const ids = await this.store.roomIdsOfPost(postId)
    if (body.status !== undefined) {
      for (let i = 0; i < ids.length; i += ARCHIVE_BATCH) await this.rooms.change(ids.slice(i, i + ARCHIVE_BATCH), { status: body.status }, null, host)
    }
    const system = { text: body.message, data: body.data ?? null, silent: body.silent ?? false }
    await Promise.all(ids.map((roomId) => this.messages.recordSystem(roomId, system)))
    return { rooms: ids }
  }
}
