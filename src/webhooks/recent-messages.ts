import type { MessageRow } from '../store/store.ts'

/**
 * At most this many messages are kept per room: a room whose webhooks fall this far behind (its
 * receiver is down) starts a new run, and is read from the database until its cursor reaches it.
 */
const PER_ROOM = 500
/** At most this many messages are kept in all (a pass sends at most 200 of a room; the rest waits to be read back). */
const TOTAL = 20_000

/** A room as a webhook pass read it from the database: its cursor, its newest message and its version. */
export interface RoomPosition {
  /** The newest message sent (0: none). */
  after: number
  /** The room's newest message (null: none). */
  newest: number | null
  /** The room's version. */
  version: number
}

/**
 * The messages this instance committed lately, per room, so that a webhook pass sends them from
 * memory instead of reading them back (the read was a fifth of the server's CPU with webhooks on).
 *
 * Memory is used only where the database's own counters prove it holds exactly what a read would
 * return. Every stored message and every change moves its room's version by one, so a run of
 * messages whose creation versions follow one another by one had nothing else happen between them:
 * no message stored elsewhere, no edit, unsend, reaction or room event. If the run holds the room's
 * cursor and its newest message, and the room's version is still that newest message's, nothing
 * changed since either: the run is the room's messages after the cursor, in their latest form.
 * Anything else (a message committed on another instance, a change, a run cut short) is read from
 * the database as before.
 */
export class RecentMessages {
  private readonly rooms = new Map<number, MessageRow[]>()
  private held = 0

  /** A message committed here (or a change: it ends the room's run, since the change is newer than its rows). */
  committed(message: MessageRow): void {
    const run = this.rooms.get(message.roomId)
    const fresh = message.version === message.createdVersion
    const last = run?.at(-1)
    if (run && fresh && last && message.createdVersion === last.createdVersion + 1 && run.length < PER_ROOM) {
      run.push(message)
      this.held++
      return
    }
    // A new run: when too much is held, the rooms whose runs began first are forgotten first.
    this.forget(message.roomId)
    if (!fresh) return
    this.rooms.set(message.roomId, [message])
    this.held++
    while (this.held > TOTAL) this.forget(this.rooms.keys().next().value!)
  }

  /**
   * The room's messages after `after` up to `newest`, at most `limit`, when this run holds exactly
   * them in their latest form as of the position read (see the class); null when it cannot say.
   * Messages before the cursor are forgotten (it only moves forward).
   */
  since(roomId: number, { after, newest, version }: RoomPosition, limit: number): MessageRow[] | null {
    const run = this.rooms.get(roomId)
    if (!run) return null
    const anchor = run.findIndex((m) => m.id === after)
    if (anchor < 0) return null
    if (anchor > 0) {
      run.splice(0, anchor)
      this.held -= anchor
    }
    const end = run.findIndex((m) => m.id === newest)
    if (end < 0 || run[end]!.createdVersion !== version) return null
    return run.slice(1, Math.min(end + 1, 1 + limit))
  }

  private forget(roomId: number) {
    this.held -= this.rooms.get(roomId)?.length ?? 0
    this.rooms.delete(roomId)
  }
}
