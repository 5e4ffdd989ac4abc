import type { RoomReadState } from '../../store/membership.ts'
import type { UserChange } from '../../realtime/events.ts'

/** How many ids of messages heard live a room's count keeps beside it. */
const KEPT = 256

type ReadChange = Extract<UserChange, { type: 'read' }>

/**
 * One user's unread count in one room, kept exact from what a stream hears. It is a count from the
 * store, exact for the messages up to `countedUpTo`, plus the ids of later messages heard live from
 * others. Messages of a room commit in id order, so those ids are exactly the ones the count missed.
 *
 * A marker moved elsewhere arrives with a new count and the id it covered up to: the live ids after
 * that id are added to it, so a read and a message racing on their way here give the same answer in
 * either order. The newest KEPT ids are kept; a count older than those cannot be completed here, and
 * `read` answers `stale` (the stream reads the room's state again).
 */
export class RoomUnread {
  lastReadId: number
  /** Hidden by the user (나가기): out of the badge until a message newer than `hiddenThrough` arrives. */
  hidden: boolean
  /** The newest message a hide covered: one up to it heard late (its event and the hide's travel apart) leaves the room hidden. */
  private hiddenThrough: number
  /** Unread among the messages up to `countedUpTo`. */
  private counted: number
  private countedUpTo: number
  /** Ids after `countedUpTo` heard live from others, ascending (all after the marker). */
  private live: number[] = []
  /** The newest message heard that counts for nothing (silent), so that a copy of it is not told twice. */
  private silentUpTo = 0

  constructor(state: Pick<RoomReadState, 'lastReadId' | 'unreadCount' | 'countedUpTo'> & { hidden?: boolean }) {
    this.lastReadId = state.lastReadId
    this.hidden = state.hidden ?? false
    this.counted = state.unreadCount
    this.countedUpTo = Math.max(state.countedUpTo, state.lastReadId)
    this.hiddenThrough = this.hidden ? this.countedUpTo : 0
  }

  get unread(): number {
    return this.counted + this.live.length
  }

  /**
   * The user hid the room through message `through`; false when a newer message was heard already
   * (or counted: the store had it), which brought the room back before the hide arrived: it stays.
   */
  hide(through: number): boolean {
    this.hiddenThrough = Math.max(this.hiddenThrough, through)
    if (Math.max(this.countedUpTo, this.live.at(-1) ?? 0, this.silentUpTo) > through) return false
    this.hidden = true
    return true
  }

  /** What the badge counts of this room: nothing while it is hidden. */
  get shown(): number {
    return this.hidden ? 0 : this.unread
  }

  /**
   * A message of the room; false when it was already heard. The user's own moves the marker to it;
   * one that does not `count` (a silent system message) is heard but not counted. Any newer than
   * the hide brings a hidden room back.
   */
  message(id: number, own: boolean, counts = true): boolean {
    if (id <= this.countedUpTo || id <= (this.live.at(-1) ?? 0) || id <= this.silentUpTo) return false
    if (id > this.hiddenThrough) this.hidden = false
    if (!counts) {
      this.silentUpTo = id
      return true
    }
    if (own) {
      // Sending moves the sender's marker to the message: nothing before it is unread.
      this.lastReadId = id
      this.counted = 0
      this.countedUpTo = id
      this.live = []
      return true
    }
    this.live.push(id)
    if (this.live.length > 2 * KEPT) {
      const folded = this.live.splice(0, this.live.length - KEPT)
      this.counted += folded.length
      this.countedUpTo = folded.at(-1)!
    }
    return true
  }

  /** The user's marker moved (on any device): `changed`, `same` (nothing new here), or `stale`. */
  read(change: Pick<ReadChange, 'lastReadId' | 'unreadCount' | 'countedUpTo'>): 'changed' | 'same' | 'stale' {
    if (change.lastReadId <= this.lastReadId) return 'same' // a marker only moves forward: this is older news
    if (change.countedUpTo < this.countedUpTo) return 'stale'
    this.lastReadId = change.lastReadId
    this.counted = change.unreadCount
    this.countedUpTo = change.countedUpTo
    this.live = this.live.filter((id) => id > change.countedUpTo)
    return 'changed'
  }
}
