import { Emitter } from './emitter.ts'
import type { Transport } from './http.ts'
import type { ChatApi } from './rest.ts'
import { ReconnectingSocket, type ConnectionState, type ReconnectOptions, type StopInfo } from './socket.ts'
import type { InboxMessageFrame, InboxReadFrame, InboxReadyFrame, InboxRemovedFrame, InboxRoom, InboxRoomFrame, InboxServerFrame } from './types.ts'

/** How the inbox stream loads its rooms. */
export interface InboxOptions {
  /** Rooms fetched after each `inbox.ready` (1–100, default 50): the newest by activity. */
  limit?: number
  /** Only the rooms about this post (a seller's chats about one post): the fetch is filtered, and frames of other rooms are ignored. */
  postId?: number
}

/** The events of the inbox stream and their payloads. */
export interface InboxEvents {
  state: ConnectionState
  /** `inbox.ready`: the stream is live (after every connect); the rooms are fetched next. */
  ready: InboxReadyFrame
  message: InboxMessageFrame
  /** A message of one of the rooms was edited or unsent (with the room's count after it). */
  updated: InboxUpdatedFrame
  read: InboxReadFrame
  room: InboxRoomFrame
  removed: InboxRemovedFrame
  /** A room's name, data or status changed (its entry shows them). */
  roomUpdated: InboxRoomUpdatedFrame
  /** The rooms changed: after a fetch, or a frame applied to them. */
  rooms: readonly InboxRoom[]
  error: Error
  stopped: StopInfo
  frame: InboxServerFrame
}

/** `inbox.message.updated`: a message edited or unsent, with the room's unread count after it. */
export type InboxUpdatedFrame = Extract<InboxServerFrame, { type: 'inbox.message.updated' }>

/** `inbox.room.updated`: a room's name, data or status changed. */
export type InboxRoomUpdatedFrame = Extract<InboxServerFrame, { type: 'inbox.room.updated' }>

type ChangeFrame = InboxMessageFrame | InboxUpdatedFrame | InboxReadFrame | InboxRoomFrame | InboxRemovedFrame | InboxRoomUpdatedFrame

const activity = (room: InboxRoom) => Date.parse(room.last_message?.created_at ?? room.created_at)

/**
 * The user stream (`WS /ws/chat/inbox/`) and the rooms it keeps current. The stream keeps no
 * history, so after every `inbox.ready` the inbox is fetched again and the frames that arrive
 * meanwhile are applied on top, as the protocol asks; reconnects and credentials as for rooms.
 */
export class InboxStream extends Emitter<InboxEvents> {
  private readonly socket: ReconnectingSocket
  private readonly entries = new Map<number, InboxRoom>()
  /** Frames that arrived while the inbox was being fetched; null when no fetch is under way. */
  private early: ChangeFrame[] | null = null
  private generation = 0
  /** With `postId`: rooms known to be about another post, whose frames change nothing here. */
  private readonly others = new Set<number>()

  constructor(
    transport: Transport,
    private readonly api: ChatApi,
    private readonly options: InboxOptions & { reconnect?: ReconnectOptions } = {},
  ) {
    super()
    this.socket = new ReconnectingSocket(
      transport,
      {
        target: () => ({ path: '/ws/chat/inbox/' }),
        probePath: '/chat/v1/unread/',
        opened: () => {},
        frame: (frame) => this.frame(frame as InboxServerFrame),
        dropped: () => {},
        state: (state) => this.emit('state', state),
        stopped: (info) => this.emit('stopped', info),
        error: (error) => this.emit('error', error),
      },
      options.reconnect,
    )
    this.socket.start()
  }

  get state(): ConnectionState {
    return this.socket.state
  }

  /** The loaded rooms, latest activity first. */
  get rooms(): readonly InboxRoom[] {
    return [...this.entries.values()].sort((a, b) => activity(b) - activity(a) || b.id - a.id)
  }

  /** Unread messages over the loaded rooms. */
  get unreadCount(): number {
    let total = 0
    for (const room of this.entries.values()) total += room.unread_count
    return total
  }

  /**
   * Hides a room until a newer message arrives in it (나가기): its entry leaves at once (the
   * server's `inbox.removed`, which follows, changes nothing more). Throws `ChatApiError`.
   */
  hide(roomId: number): Promise<void> {
    return this.remove(roomId, {})
  }

  /** Leaves a direct room for good (the other member is told, and no one can send there any more), and hides it as `hide` does. */
  leave(roomId: number): Promise<void> {
    return this.remove(roomId, { leave: true })
  }

  /** Ends the stream. */
  close(): void {
    this.socket.close()
  }

  private async remove(roomId: number, query: { leave?: boolean }): Promise<void> {
    const entry = this.entries.get(roomId)
    await this.api.hideRoom(roomId, query)
    // Unless a fetch since (a newer message brought the room back) put another entry in its place.
    if (this.entries.get(roomId) === entry) this.entries.delete(roomId)
    this.emit('rooms', this.rooms)
  }

  private frame(frame: InboxServerFrame): void {
    this.emit('frame', frame)
    switch (frame.type) {
      case 'inbox.ready':
        this.emit('ready', frame)
        return this.load()
      case 'chat.error':
        return this.emit('error', new Error(`the inbox stream refused a frame (${frame.code}): ${frame.message}`))
      case 'inbox.message':
        this.emit('message', frame)
        return this.change(frame)
      case 'inbox.message.updated':
        this.emit('updated', frame)
        return this.change(frame)
      case 'inbox.read':
        this.emit('read', frame)
        return this.change(frame)
      case 'inbox.room':
        this.emit('room', frame)
        return this.change(frame)
      case 'inbox.removed':
        this.emit('removed', frame)
        return this.change(frame)
      case 'inbox.room.updated':
        this.emit('roomUpdated', frame)
        return this.change(frame)
      default: {
        const unknown: never = frame
        return void unknown
      }
    }
  }

  private change(frame: ChangeFrame): void {
    if (this.early) return void this.early.push(frame)
    // A message in a room beyond the loaded page: that room is now the newest, so fetch again.
    if (!this.apply(frame)) return this.load((frame as InboxMessageFrame).room)
    this.emit('rooms', this.rooms)
  }

  /** Fetches the first page (again because of a message in room `asked`) and applies what arrived meanwhile. */
  private load(asked?: number): void {
    const generation = ++this.generation
    const { postId } = this.options
    this.early ??= []
    this.api.inbox({ limit: this.options.limit ?? 50, post_id: postId }).then(
      (page) => {
        if (generation !== this.generation) return
        this.entries.clear()
        for (const room of page.rooms) this.entries.set(room.id, room)
        // Its newest message would have put it first: missing from the filtered page, it is about another post.
        if (asked !== undefined && postId !== undefined && !this.entries.has(asked)) this.others.add(asked)
        this.settle()
      },
      (error: unknown) => {
        if (generation !== this.generation) return
        this.emit('error', error instanceof Error ? error : new Error(String(error)))
        this.settle()
      },
    )
  }

  private settle(): void {
    const early = this.early ?? []
    this.early = null
    for (const frame of early) this.apply(frame)
    this.emit('rooms', this.rooms)
  }

  /** Applies a frame to the loaded rooms; false for a message in a room not loaded. */
  private apply(frame: ChangeFrame): boolean {
    const { postId } = this.options
    if (frame.type === 'inbox.room') {
      if (postId === undefined || frame.room.post_id === postId) this.entries.set(frame.room.id, frame.room)
      else this.others.add(frame.room.id)
    }
    if (frame.type === 'inbox.removed') this.entries.delete(frame.room)
    if (frame.type === 'inbox.room' || frame.type === 'inbox.removed') return true
    if (frame.type === 'inbox.room.updated') {
      const entry = this.entries.get(frame.room.id)
      // The summary is the room's as a service call sees it: the entry keeps its own peer and counts.
      if (entry) Object.assign(entry, { name: frame.room.name, status: frame.room.status, data: frame.room.data, member_count: frame.room.member_count })
      return true
    }
    const entry = this.entries.get(frame.room)
    if (!entry) return frame.type !== 'inbox.message' || this.others.has(frame.room)
    if (frame.type === 'inbox.read') Object.assign(entry, { last_read_id: frame.last_read_id, unread_count: frame.unread_count })
    // The room's last message shows its new form; the count may have dropped (an unsent unread message).
    else if (frame.type === 'inbox.message.updated') Object.assign(entry, { unread_count: frame.unread_count, ...(entry.last_message?.id === frame.message.id ? { last_message: frame.message } : {}) })
    // A message the fetch already had (the protocol's rule: not above the room's last message) changes nothing.
    else if (frame.message.id > (entry.last_message?.id ?? 0)) Object.assign(entry, { last_message: frame.message, unread_count: frame.unread_count })
    return true
  }
}
