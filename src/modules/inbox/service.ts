import { requireIdentity, type Caller } from '../../caller.ts'
import { badRequest } from '../../errors.ts'
import { toMessageDto, type AttachmentLinks } from '../../realtime/codec.ts'
import type { Presence } from '../../realtime/presence.ts'
import type { InboxPage, InboxRow } from '../../store/membership.ts'
import type { MessageRow, Store } from '../../store/store.ts'
import type { Identity } from '../../identity.ts'
import { peerOf, roomSummary, toMemberDto, type Viewer } from '../rooms/service.ts'
import type { InboxDto, InboxQuery, InboxRoom } from './model.ts'

/** How far back a preview looks for a message from someone the user has not blocked. */
const PREVIEW_LOOKBACK = 50

/** Where the next page starts: the first page's moment and where the last page ended. */
type Position = Omit<InboxPage, 'limit'>

/** The cursor is opaque to clients: the position, as base64url JSON. */
function encodeCursor({ asOfId, asOfAt, after }: Position): string {
  return Buffer.from(JSON.stringify([asOfId, asOfAt, after?.at ?? 0, after?.roomId ?? 0])).toString('base64url')
}

function decodeCursor(cursor: string): Position {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString())
    if (Array.isArray(value) && value.length === 4 && value.every((n) => Number.isSafeInteger(n) && n >= 0)) {
      const [asOfId, asOfAt, at, roomId] = value as [number, number, number, number]
      return { asOfId, asOfAt, after: roomId > 0 ? { at, roomId } : null }
    }
  } catch {
    // falls through to the refusal
  }
  throw badRequest('invalid_cursor', 'cursor must be a next_cursor the server gave.', [{ path: 'cursor', message: 'not a cursor from this server' }])
}

/**
 * A user's conversations, latest activity first. Every page reads as of the first page's moment
 * (the newest message then, and the time): a room's activity as of a fixed moment only grows, and
 * each page starts strictly below where the last ended, so paging never repeats a room and, as
 * messages keep arriving, never skips one (newer activity waits for the next first page, or
 * arrives on the user stream).
 */
export class InboxService {
  constructor(
    private readonly store: Store,
    private readonly presence: Presence,
    private readonly links: AttachmentLinks,
  ) {}

  async page(caller: Caller, query: InboxQuery, host: string): Promise<InboxDto> {
    const { identity } = requireIdentity(caller)
    const position: Position = query.cursor ? decodeCursor(query.cursor) : { asOfId: await this.store.membership.newestMessageId(), asOfAt: Date.now(), after: null }
    const rows = await this.store.membership.inbox(identity.userId, { ...position, limit: query.limit, postId: query.post_id })
    const last = rows.at(-1)
    return {
      rooms: await this.entries(identity, rows, host),
      next_cursor: last && rows.length === query.limit ? encodeCursor({ ...position, after: { at: last.activityAt, roomId: last.room.id } }) : null,
    }
  }

  /** One room of the user's inbox as it is now, their own entry with `identity`'s profile; null when it is not (or no longer) theirs. */
  async entry(identity: Identity, roomId: number, host: string): Promise<InboxRoom | null> {
    const rows = await this.store.membership.inbox(identity.userId, { asOfId: Number.MAX_SAFE_INTEGER, asOfAt: Number.MAX_SAFE_INTEGER, after: null, limit: 1, onlyRoom: roomId })
    return (await this.entries(identity, rows, host))[0] ?? null
  }

  /** The newest message before `message` in its room from someone not blocked, looking back a little way; undefined when there is none. */
  private async previewBefore(message: MessageRow, blocked: ReadonlySet<string>): Promise<MessageRow | undefined> {
    const earlier = await this.store.listMessages(message.roomId, { before: message.id, limit: PREVIEW_LOOKBACK })
    return earlier.findLast((m) => !blocked.has(m.userId))
  }

  private async entries(identity: Identity, rows: InboxRow[], host: string): Promise<InboxRoom[]> {
    const { membership } = this.store
    const { userId } = identity
    const viewer: Viewer = { userId, service: false, identity }
    const roomIds = rows.map((r) => r.room.id)
    const withMembers = rows.filter((r) => r.room.kind !== 'open').map((r) => r.room.id)
    const direct = rows.filter((r) => r.room.kind === 'direct').map((r) => r.room.id)
    const [messages, online, counts, membersOf, blocks] = await Promise.all([
      this.store.messagesByIds(rows.flatMap((r) => (r.lastMessageId === null ? [] : [r.lastMessageId]))),
      this.presence.counts(roomIds),
      membership.memberCounts(withMembers),
      membership.membersOfRooms(direct),
      membership.blocksOf(userId),
    ])
    const blocked = new Set(blocks.map((b) => b.userId))
    const byId = new Map<number, MessageRow | undefined>(messages.map((m) => [m.id, m]))
    // A blocked user's words never show in the blocker's inbox: the preview is the newest message from anyone else.
    const hidden = messages.filter((m) => blocked.has(m.userId))
    const previews = await Promise.all(hidden.map((m) => this.previewBefore(m, blocked)))
    for (const [i, m] of hidden.entries()) byId.set(m.id, previews[i])
    return rows.map((row, i) => {
      const message = row.lastMessageId === null ? undefined : byId.get(row.lastMessageId)
      const members = membersOf.get(row.room.id) ?? []
      return {
        ...roomSummary(row.room, host, online[i] ?? 0, row.room.kind === 'open' ? null : (counts.get(row.room.id) ?? 0), peerOf(row.room, members, viewer)),
        last_message: message ? toMessageDto(message, this.links) : null,
        unread_count: row.unreadCount,
        last_read_id: row.lastReadId,
        members: members.map((m) => toMemberDto(m, viewer)),
      }
    })
  }
}
