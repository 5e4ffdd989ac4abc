import { notFound } from '../../errors.ts'
import { toMessageDto } from '../../realtime/protocol.ts'
import type { Hub } from '../../realtime/hub.ts'
import type { RoomRow, Store } from '../../store/store.ts'
import type { CreateRoomBody, RoomDetail, RoomSummary } from './model.ts'

/** Messages a room detail carries. */
export const DETAIL_MESSAGES = 50

/** Room listing, creation and detail, with live presence from the hub. */
export class RoomService {
  constructor(
    private readonly store: Store,
    private readonly hub: Hub,
  ) {}

  /** Creates the room, or returns the existing one for the same `post_id`. */
  async create(body: CreateRoomBody, host: string): Promise<{ room: RoomDetail; created: boolean }> {
    const { room, created } = await this.store.createRoom({ name: body.name, postId: body.post_id ?? null })
    return { room: await this.detailOf(room, host), created }
  }

  async list(page: { limit: number; after?: number }, host: string): Promise<RoomSummary[]> {
    const rows = await this.store.listRooms(page)
    return rows.map((row) => this.summaryOf(row, host))
  }

  async detail(roomId: number, host: string): Promise<RoomDetail> {
    return this.detailOf(await this.require(roomId), host)
  }

  /** The room, or a 404 problem. */
  async require(roomId: number): Promise<RoomRow> {
    const room = await this.store.getRoom(roomId)
    if (!room) throw notFound('room_not_found', `There is no room ${roomId}.`)
    return room
  }

  private summaryOf(room: RoomRow, host: string): RoomSummary {
    return {
      id: room.id,
      name: room.name,
      post_id: room.postId,
      chat_url: `${host}/ws/chat/${room.id}/chat/`,
      created_at: new Date(room.createdAt).toISOString(),
      online_count: this.hub.onlineCount(room.id),
    }
  }

  private async detailOf(room: RoomRow, host: string): Promise<RoomDetail> {
    const recent = await this.store.listMessages(room.id, { limit: DETAIL_MESSAGES })
    return {
      ...this.summaryOf(room, host),
      online_users: this.hub.onlineUsers(room.id),
      chat_messages: recent.map(toMessageDto),
    }
  }
}
