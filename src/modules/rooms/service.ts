import type { AbuseLimits, Requester } from '../../abuse-limits.ts'
import { notFound, tooMany } from '../../errors.ts'
import { toMessageDto } from '../../realtime/codec.ts'
import type { Presence } from '../../realtime/presence.ts'
import type { RoomRow, Store } from '../../store/store.ts'
import type { CreateRoomBody, RoomDetail, RoomSummary } from './model.ts'

/** Messages a room detail carries. */
const DETAIL_MESSAGES = 50

/** Room listing, creation and detail, with who is online from presence. */
export class RoomService {
  constructor(
    private readonly store: Store,
    private readonly presence: Presence,
    private readonly limits: AbuseLimits,
  ) {}

  /**
   * Creates the room, or returns the existing one for the same `post_id`. Only a room that is
   * really new counts toward the requester's creation limit (429 past it).
   */
  async create(body: CreateRoomBody, host: string, requester: Requester): Promise<{ room: RoomDetail; created: boolean }> {
    const postId = body.post_id ?? null
    const existing = postId === null ? undefined : await this.store.roomByPostId(postId)
    if (existing) return { room: await this.detailOf(existing, host), created: false }
    const wait = this.limits.roomCreation(requester)
    if (wait > 0) throw tooMany('too_many_rooms', 'Too many rooms created from here lately; wait and try again.', wait)
    const { room, created } = await this.store.createRoom({ name: body.name, postId })
    return { room: await this.detailOf(room, host), created }
  }

  async list(page: { limit: number; after?: number }, host: string): Promise<RoomSummary[]> {
    const rows = await this.store.listRooms(page)
    const counts = await this.presence.counts(rows.map((row) => row.id))
    return rows.map((row, i) => this.summaryOf(row, host, counts[i] ?? 0))
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

  private summaryOf(room: RoomRow, host: string, onlineCount: number): RoomSummary {
    return {
      id: room.id,
      name: room.name,
      post_id: room.postId,
      chat_url: `${host}/ws/chat/${room.id}/chat/`,
      created_at: new Date(room.createdAt).toISOString(),
      online_count: onlineCount,
    }
  }

  private async detailOf(room: RoomRow, host: string): Promise<RoomDetail> {
    const [recent, online, epoch] = await Promise.all([this.store.listMessages(room.id, { limit: DETAIL_MESSAGES }), this.presence.online(room.id), this.store.epoch()])
    return {
      ...this.summaryOf(room, host, online.length),
      epoch,
      online_users: online,
      chat_messages: recent.map(toMessageDto),
    }
  }
}
