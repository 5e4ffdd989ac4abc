import type { Logger } from '../../logger.ts'
import type { Broker, RoomWatches } from '../../realtime/broker.ts'
import { CloseCode, toMessageDto, type AttachmentLinks } from '../../realtime/codec.ts'
import type { MessageEvent, RealtimeEvent, UserChange, UserRoomChange } from '../../realtime/events.ts'
import type { Hub } from '../../realtime/hub.ts'
import type { StreamSocket } from '../../realtime/session.ts'
import type { RoomReadState } from '../../store/membership.ts'
import type { Store } from '../../store/store.ts'
import type { InboxFrame } from './model.ts'
import type { InboxService } from './service.ts'
import { RoomUnread } from './unread.ts'

/** Something that waits while a room's state is read: a message of the room, a message edited or unsent, or a change of the user's. */
type Waiting = { message: MessageEvent['message'] } | { changed: MessageEvent['message'] } | { change: UserRoomChange }
type BlockChange = Extract<UserChange, { type: 'block' }>

/** Everything this instance keeps for one user's streams: their sockets (in the hub) share it. */
interface UserStream {
  readonly userId: string
  /** The rooms followed live, with their unread counts. */
  readonly rooms: Map<number, RoomUnread>
  /** Rooms whose state is being read: what arrives for them meanwhile waits here. */
  readonly reading: Map<number, Waiting[]>
  /** Rooms held (watched through the broker) for this stream. */
  readonly held: Set<number>
  /** The user's rooms not followed (crowded, or past the limit), with their last known unread count. */
  readonly others: Map<number, number>
  /** Changes that arrived before the stream was live. */
  readonly early: UserRoomChange[]
  /**
   * Users the user has blocked: their messages are counted but never shown here. Null while the
   * blocks are read; changes that arrive meanwhile wait in `blockChanges`.
   */
  blocked: Set<string> | null
  readonly blockChanges: BlockChange[]
  /** Rooms whose removal the stream told at the room's evict, before the user's own `removed` change came. */
  readonly evicted: Set<number>
  live: boolean
  ended: boolean
}

export interface InboxStreamsDeps {
  /** Holds the stream sockets: counts them, sends to them, closes them. */
  hub: Hub
  store: Store
  inbox: InboxService
  broker: Broker
  watches: RoomWatches
  logger: Logger
  /** Most rooms one stream follows live (the most recently active). */
  liveRooms: number
  /** Open rooms with more participants are not followed live. */
  roomParticipants: number
  /** Signs the URLs of messages' attachments. */
  links: AttachmentLinks
}

const encode = (frame: InboxFrame) => JSON.stringify(frame)

/**
 * A message as `inbox.message` frames: the message is encoded once, however many streams get it
 * (only the unread count differs between them). The same fields as `encode` would write.
 */
function encodedMessage(message: MessageEvent['message'], links: AttachmentLinks) {
  let json: string | undefined
  return {
    frame(roomId: number, unread: number): string {
      json ??= JSON.stringify(toMessageDto(message, links))
      return `{"type":"inbox.message","room":${roomId},"message":${json},"unread_count":${unread}}`
    },
  }
}

/**
 * Users' streams (`WS /ws/chat/inbox/`) on this instance. A stream follows the user's rooms through
 * the same room events as room sockets (the broker watches each room while anyone here needs it),
 * and the user's own changes through their user channel. Unread counts start from the store and
 * are kept exact from there by `RoomUnread`; a room's state is read only after its events flow
 * here, and what arrives meanwhile waits, so nothing is counted twice or missed.
 *
 * Per message, the work is one frame per stream following the room. Open rooms with more than
 * `roomParticipants` participants and rooms beyond a stream's `liveRooms` newest are not followed:
 * their counts show on the next inbox fetch, and the user's own markers there still arrive.
 */
export class InboxStreams {
  private readonly streams = new Map<string, UserStream>()
  /** Per room, the streams following it. */
  private readonly followers = new Map<number, Set<UserStream>>()

  constructor(private readonly deps: InboxStreamsDeps) {}

  /** A stream socket opened (after the handshake admitted it): the user's first here starts their stream. */
  open(connection: StreamSocket): void {
    const { userId } = connection.identity
    const first = this.deps.hub.openStream(connection)
    // Closed as it registered (shutting down): nothing to start.
    if (connection.closing) return
    const existing = this.streams.get(userId)
    if (!first && existing) {
      // Subscribed just now, in the same turn: ready first, then everything published from now on.
      if (existing.live) connection.socket.send(this.readyFrame(existing))
      return
    }
    const stream: UserStream = { userId, rooms: new Map(), reading: new Map(), held: new Set(), others: new Map(), early: [], blocked: null, blockChanges: [], evicted: new Set(), live: false, ended: false }
    this.streams.set(userId, stream)
    this.start(stream).catch((err: unknown) => {
      this.deps.logger.warn('a user stream could not start; closing it', { user: userId, err })
      this.closeAll(stream, CloseCode.tryAgainLater, 'the inbox could not be followed; reconnect')
    })
  }

  /** A stream socket closed: the user's last here ends their stream. */
  close(connection: StreamSocket): void {
    if (!this.deps.hub.closeStream(connection)) return
    const stream = this.streams.get(connection.identity.userId)
    if (stream) this.end(stream)
  }

  /** An event the broker delivered: a room's message, or a change of a user's. */
  deliver(event: RealtimeEvent): void {
    if (event.kind === 'message') {
      const followers = this.followers.get(event.room)
      if (!followers) return
      if (event.change) {
        // Reactions change nothing an inbox shows.
        if (event.change.type !== 'reaction') for (const stream of followers) this.messageChanged(stream, event.room, event.message)
        return
      }
      const encoded = encodedMessage(event.message, this.deps.links)
      for (const stream of followers) this.message(stream, event.room, event.message, true, encoded)
    } else if (event.kind === 'control' && event.evict !== undefined) {
      this.evicted(event.room, event.evict)
    } else if (event.kind === 'control' && event.frame !== undefined) {
      // The room itself changed (name, data, status): its entry shows the new summary.
      const followers = this.followers.get(event.room)
      if (!followers) return
      const { room } = JSON.parse(event.frame) as { room: unknown }
      const frame = JSON.stringify({ type: 'inbox.room.updated', room })
      for (const stream of followers) this.sendText(stream, frame)
    } else if (event.kind === 'user') {
      const stream = this.streams.get(event.user)
      if (!stream) return
      if (event.change.type === 'block') this.blockChanged(stream, event.change)
      else if (stream.live) this.change(stream, event.change)
      else stream.early.push(event.change)
    }
  }

  /**
   * The user was removed from the room (or banned from it), in the room's order: nothing the room
   * commits after it reaches their stream. The user's own `removed` change comes on their channel,
   * which is not ordered with the room's, and may come late (or never, if the instance that removed
   * them died before telling): the stream stops following the room here, and tells it once.
   */
  private evicted(roomId: number, userId: string) {
    const stream = this.streams.get(userId)
    if (!stream || !this.followers.get(roomId)?.has(stream)) return
    this.unfollow(stream, roomId)
    stream.others.delete(roomId)
    if (!stream.live) return
    stream.evicted.add(roomId)
    this.send(stream, { type: 'inbox.removed', room: roomId })
  }

  /** The user blocked or unblocked someone (on any device): applied at once, before anything else is told. */
  private blockChanged(stream: UserStream, change: BlockChange) {
    if (!stream.blocked) return void stream.blockChanges.push(change)
    if (change.blocked) stream.blocked.add(change.user)
    else stream.blocked.delete(change.user)
  }

  /** Follows the rooms the user has (as many as allowed), reads their state, then goes live. */
  private async start(stream: UserStream) {
    const { store, broker } = this.deps
    await broker.watchUser(stream.userId, () => this.closeAll(stream, CloseCode.tryAgainLater, 'inbox events may have been missed; reconnect and fetch the inbox'))
    // Read once the user's changes flow here: a block made later arrives as a change, applied after.
    stream.blocked = new Set((await store.membership.blocksOf(stream.userId)).map((b) => b.userId))
    for (const change of stream.blockChanges.splice(0)) this.blockChanged(stream, change)
    const followed = await this.choose(await store.membership.readStates(stream.userId))
    if (stream.ended) return
    for (const roomId of followed) stream.reading.set(roomId, [])
    await Promise.all(followed.map((roomId) => this.follow(stream, roomId)))
    // Read only now that the rooms' events flow here: whatever commits later arrives as an event.
    const states = await store.membership.readStates(stream.userId)
    if (stream.ended) return
    const byRoom = new Map(states.map((s) => [s.roomId, s]))
    for (const roomId of followed) {
      const state = byRoom.get(roomId)
      if (state) this.settle(stream, roomId, state, false)
      else this.unfollow(stream, roomId) // left meanwhile; its removal waits in `early`
    }
    for (const state of states) if (!stream.held.has(state.roomId)) stream.others.set(state.roomId, state.hidden ? 0 : state.unreadCount)
    stream.live = true
    for (const change of stream.early.splice(0)) this.change(stream, change)
    this.sendText(stream, this.readyFrame(stream))
  }

  /** The rooms to follow: not crowded open rooms, the most recently active first, up to the limit. */
  private async choose(states: RoomReadState[]): Promise<number[]> {
    const { store, liveRooms, roomParticipants } = this.deps
    const crowded = await store.membership.crowdedRooms(
      states.filter((s) => s.kind === 'open').map((s) => s.roomId),
      roomParticipants,
    )
    return states
      .filter((s) => !crowded.has(s.roomId))
      .sort((a, b) => b.countedUpTo - a.countedUpTo)
      .slice(0, liveRooms)
      .map((s) => s.roomId)
  }

  /** Holds the room for the stream; resolves once its events flow here. */
  private follow(stream: UserStream, roomId: number): Promise<void> {
    stream.held.add(roomId)
    let followers = this.followers.get(roomId)
    if (!followers) this.followers.set(roomId, (followers = new Set()))
    followers.add(stream)
    return this.deps.watches.hold(roomId)
  }

  private unfollow(stream: UserStream, roomId: number) {
    stream.rooms.delete(roomId)
    stream.reading.delete(roomId)
    if (!stream.held.delete(roomId)) return
    const followers = this.followers.get(roomId)
    followers?.delete(stream)
    if (followers?.size === 0) this.followers.delete(roomId)
    this.deps.watches.release(roomId)
  }

  /** The room's state was read: count from it, then take what waited (telling the client when `tell`). */
  private settle(stream: UserStream, roomId: number, state: RoomReadState, tell: boolean) {
    const waiting = stream.reading.get(roomId) ?? []
    stream.reading.delete(roomId)
    stream.rooms.set(roomId, new RoomUnread(state))
    for (const item of waiting) {
      if ('message' in item) this.message(stream, roomId, item.message, tell)
      else if ('changed' in item) this.messageChanged(stream, roomId, item.changed, tell)
      else this.change(stream, item.change, tell)
    }
  }

  /** A message of a followed room: counted, and told to the user's sockets. */
  private message(stream: UserStream, roomId: number, message: MessageEvent['message'], tell: boolean, encoded = encodedMessage(message, this.deps.links)) {
    const waiting = stream.reading.get(roomId)
    if (waiting) return void waiting.push({ message })
    // Created and unsent before it reached here (read back after a broker outage): nothing to count or show.
    if (message.deleted) return
    const room = stream.rooms.get(roomId)
    const own = message.userId === stream.userId
    if (!room?.message(message.id, own, !message.silent) || !tell) return
    // A message the user's hide covered, heard after it: counted, but the room stays out of sight.
    if (room.hidden) return
    // Counted (the badge is the room's count), but a blocked user's words never reach the blocker here.
    if (!own && stream.blocked?.has(message.userId)) return
    this.sendText(stream, encoded.frame(roomId, room.unread))
  }

  /**
   * A message of a followed room was edited or unsent: the client hears its new form with the room's
   * count. An unsent message may have been unread, and whether the count read from the store already
   * left it out cannot be told here, so the count is read again first (unsends are rare).
   */
  private messageChanged(stream: UserStream, roomId: number, message: MessageEvent['message'], tell = true) {
    const waiting = stream.reading.get(roomId)
    if (waiting) return void waiting.push({ changed: message })
    const room = stream.rooms.get(roomId)
    if (!room || !tell) return
    // A blocked user's words never reach the blocker here, changed or not.
    const shown = message.userId === stream.userId || !stream.blocked?.has(message.userId)
    const told = (unread: number) => shown && this.send(stream, { type: 'inbox.message.updated', room: roomId, message: toMessageDto(message, this.deps.links), unread_count: unread })
    if (message.deleted) this.reread(stream, roomId, (again) => told(again.unread))
    else told(room.unread)
  }

  /** A change of the user's, once the stream is live. */
  private change(stream: UserStream, change: UserRoomChange, tell = true) {
    const roomId = change.room
    const waiting = stream.reading.get(roomId)
    if (waiting && change.type !== 'removed') return void waiting.push({ change })
    if (change.type === 'removed') {
      stream.others.delete(roomId)
      this.unfollow(stream, roomId)
      // Told already when the room's evict came first.
      if (tell && !stream.evicted.delete(roomId)) this.send(stream, { type: 'inbox.removed', room: roomId })
      return
    }
    if (change.type === 'hidden') {
      // Still followed: a newer message brings it back (the client, missing it, fetches it then).
      // One heard before the hide arrived brought it back already: nothing to hide, nothing to tell.
      const hidden = stream.rooms.get(roomId)
      if (hidden && !hidden.hide(change.through)) return
      if (!hidden && stream.others.has(roomId)) stream.others.set(roomId, 0)
      if (tell) this.send(stream, { type: 'inbox.removed', room: roomId })
      return
    }
    const room = stream.rooms.get(roomId)
    if (change.type === 'room') {
      // Gained again: a removal told at its evict is over.
      stream.evicted.delete(roomId)
      if (!room) this.gain(stream, roomId)
      return
    }
    if (!room) {
      // A room not followed: one just taken part in (by reading it) is gained; in any other the
      // marker still shows, with the count the change carries.
      if (stream.others.has(roomId) || stream.rooms.size >= this.deps.liveRooms) {
        stream.others.set(roomId, change.unreadCount)
        this.send(stream, { type: 'inbox.read', room: roomId, last_read_id: change.lastReadId, unread_count: change.unreadCount })
      } else this.gain(stream, roomId, change)
      return
    }
    const verdict = room.read(change)
    if (verdict === 'stale') return this.reread(stream, roomId)
    if (verdict === 'changed' && tell) this.send(stream, { type: 'inbox.read', room: roomId, last_read_id: room.lastReadId, unread_count: room.unread })
  }

  /**
   * A room the user gained: followed (unless it is a crowded open room or the stream follows as
   * many as it may), announced as an inbox entry, then counted live.
   */
  private gain(stream: UserStream, roomId: number, read?: Extract<UserRoomChange, { type: 'read' }>) {
    const { store, inbox, logger, hub } = this.deps
    if (stream.ended) return
    const sockets = [...hub.streamsOf(stream.userId)]
    const host = sockets[0]?.host ?? ''
    // The user's own member entry shows the profile their newest socket forwarded.
    const identity = sockets.at(-1)?.identity
    if (!identity) return
    const run = async () => {
      const crowded = await store.membership.crowdedRooms([roomId], this.deps.roomParticipants)
      if (stream.ended) return
      if (crowded.has(roomId)) {
        const entry = await inbox.entry(identity, roomId, host)
        if (!entry || stream.ended) return
        stream.others.set(roomId, entry.unread_count)
        return this.send(stream, { type: 'inbox.room', room: entry })
      }
      stream.reading.set(roomId, [])
      await this.follow(stream, roomId)
      const entry = await inbox.entry(identity, roomId, host)
      const [state] = await store.membership.readStates(stream.userId, roomId)
      if (stream.ended || !stream.reading.has(roomId)) return // gone meanwhile
      if (!entry || !state) return this.unfollow(stream, roomId)
      const room = new RoomUnread(state)
      this.send(stream, { type: 'inbox.room', room: { ...entry, unread_count: room.unread, last_read_id: room.lastReadId } })
      this.settle(stream, roomId, state, true)
    }
    run().catch((err: unknown) => {
      logger.warn('following a room the user gained failed', { user: stream.userId, room: roomId, err })
      this.unfollow(stream, roomId)
      if (read) this.send(stream, { type: 'inbox.read', room: roomId, last_read_id: read.lastReadId, unread_count: read.unreadCount })
    })
  }

  /**
   * Reads a followed room's state again (a count arrived older than what the stream heard since, or
   * an unsent message may have been counted), then tells the client (`inbox.read` unless `told` says otherwise).
   */
  private reread(stream: UserStream, roomId: number, told?: (room: RoomUnread) => void) {
    stream.reading.set(roomId, [])
    stream.rooms.delete(roomId)
    this.deps.store.membership
      .readStates(stream.userId, roomId)
      .then(([state]) => {
        if (stream.ended || !stream.reading.has(roomId)) return
        if (!state) return this.unfollow(stream, roomId)
        this.settle(stream, roomId, state, true)
        const room = stream.rooms.get(roomId)
        if (!room) return
        if (told) told(room)
        else this.send(stream, { type: 'inbox.read', room: roomId, last_read_id: room.lastReadId, unread_count: room.unread })
      })
      .catch((err: unknown) => {
        this.deps.logger.warn('reading a room state again failed; closing the stream', { user: stream.userId, room: roomId, err })
        this.closeAll(stream, CloseCode.tryAgainLater, 'the inbox could not be followed; reconnect')
      })
  }

  /** `inbox.ready`, with the badge as this stream knows it (counts of rooms not followed as last heard). */
  private readyFrame(stream: UserStream): string {
    let total = 0
    let rooms = 0
    for (const n of [...[...stream.rooms.values()].map((r) => r.shown), ...stream.others.values()]) {
      total += n
      if (n > 0) rooms++
    }
    return encode({ type: 'inbox.ready', unread: { total, rooms } })
  }

  private send(stream: UserStream, frame: InboxFrame) {
    this.sendText(stream, encode(frame))
  }

  /** To the user's stream sockets here, while this stream is theirs (an ended one's late work reaches no newer stream). */
  private sendText(stream: UserStream, text: string) {
    if (!stream.ended) this.deps.hub.sendToStreams(stream.userId, text)
  }

  private closeAll(stream: UserStream, code: number, reason: string) {
    if (!stream.ended) this.deps.hub.closeStreams(stream.userId, code, reason)
  }

  /** The user's last stream socket here closed: let go of everything it followed. */
  private end(stream: UserStream) {
    stream.ended = true
    if (this.streams.get(stream.userId) === stream) this.streams.delete(stream.userId)
    for (const roomId of [...stream.held]) this.unfollow(stream, roomId)
    this.deps.broker.unwatchUser(stream.userId)
  }
}
