// What the page knows of the room shown beyond its messages: its name, the post it is about, the
// deal's state and slow mode (from room detail, then each chat.room.updated, never moved back by an
// older one), and whether it takes this user's messages: not once archived (the deal closed), once
// a member of a direct room left it, while this user is muted (until the mute's end), or ever
// again once banned. The header shows the first; the composer is turned off for the second.
import { isSystemMessage, type Message, type ModerationStanding } from '../../client/src/index.ts'
import type { Composer } from './composer.ts'
import { locale, t } from './labels.ts'
import type { HeaderRoom, RoomHeader } from './room-header.ts'

/** The longest wait a timer takes (about 24 days): a mute ending later is read again with the room. */
const LONGEST_TIMER_MS = 2 ** 31 - 1

/** When a mute ends, as the page's language writes it: the time today, else the day and time. */
function endOf(iso: string): string {
  const end = new Date(iso)
  const today = end.toDateString() === new Date().toDateString()
  return end.toLocaleString(locale(), today ? { hour: 'numeric', minute: '2-digit' } : { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' })
}

/** Who left a direct room, by the system message the server put there (`{event: "left", user_id}`); null for any other message. */
function leaverOf(m: Message): string | null {
  return isSystemMessage(m) && m.data?.event === 'left' && typeof m.data.user_id === 'string' ? m.data.user_id : null
}

export class RoomContext {
  /** The room as shown, and the room version it is current to. */
  private room: HeaderRoom | null = null
  private version = -1
  /** A member left the room (a direct room): this user ('me'), or the other one ('peer'). */
  private left: 'me' | 'peer' | null = null
  /** This user's standing in the room (muted, and until when), and the timer that ends a mute. */
  private standing: ModerationStanding | null = null
  private muteTimer: ReturnType<typeof setTimeout> | undefined
  /** This user was banned from the room: the composer is gone. */
  private banned = false

  constructor(
    private readonly header: RoomHeader,
    private readonly composer: Composer,
    /** The page's own user id. */
    private readonly me: () => string,
  ) {}

  /**
   * A room opened (or its database replaced): its detail, and its newest messages, which tell
   * whether a member left. Back in the same room (`again`), a leave seen before still holds.
   */
  open(detail: HeaderRoom & { version: number; chat_messages: readonly Message[]; moderation: ModerationStanding }, again: boolean) {
    if (!again) this.left = null
    this.banned = false
    this.moderation(detail.moderation)
    for (const m of detail.chat_messages) this.noteLeaver(m)
    this.room = null
    this.show(detail, detail.version)
  }

  /**
   * The room's name, data and status as they were at `version`, unless what is shown is later
   * already (a replay repeats changes that room detail had).
   */
  changed(room: Pick<HeaderRoom, 'name' | 'data' | 'status' | 'slow_mode_seconds'>, version: number) {
    if (this.room) this.show({ ...this.room, name: room.name, data: room.data, status: room.status, slow_mode_seconds: room.slow_mode_seconds }, version)
  }

  /** This user's standing: muted (until its end, when it has one), or not. */
  moderation(standing: ModerationStanding) {
    this.standing = standing
    clearTimeout(this.muteTimer)
    const left = standing.muted_until === null ? 0 : Date.parse(standing.muted_until) - Date.now()
    if (standing.muted && left > 0 && left <= LONGEST_TIMER_MS) this.muteTimer = setTimeout(() => this.moderation({ ...standing, muted: false, muted_until: null }), left)
    this.showReadOnly()
  }

  /** This user was banned from the room (after `clear()`): it takes nothing from them again. */
  ban() {
    this.banned = true
    this.showReadOnly()
  }

  /** A message of the room: the one saying that a member left closes it. */
  received(m: Message) {
    if (!this.noteLeaver(m)) return
    this.showReadOnly()
  }

  /** The server refused a write because the room takes no more (archived, or left, before this page heard of it). */
  refused(code: string) {
    if (code === 'room_archived' && this.room && this.room.status !== 'archived') {
      // Until chat.room.updated (or the next room detail) says more.
      this.room = { ...this.room, status: 'archived' }
      this.header.show(this.room)
    }
    if (code === 'peer_left') this.left ??= 'peer'
    this.showReadOnly()
  }

  /** No room is shown. */
  clear() {
    this.room = null
    this.version = -1
    this.left = null
    this.banned = false
    this.standing = null
    clearTimeout(this.muteTimer)
    this.header.clear()
    this.composer.readOnly(null)
  }

  private show(room: HeaderRoom, version: number) {
    if (this.room && version <= this.version) return
    // The room socket's summaries name no peer (they go to both members): the one from detail stays.
    this.room = { id: room.id, kind: room.kind, name: room.name, data: room.data, status: room.status, slow_mode_seconds: room.slow_mode_seconds, peer: room.peer ?? this.room?.peer ?? null }
    this.version = version
    this.header.show(this.room)
    this.showReadOnly()
  }

  /** Notes a system message saying that a member left; true if it was one. */
  private noteLeaver(m: Message): boolean {
    const leaver = leaverOf(m)
    if (leaver !== null) this.left = leaver === this.me() ? 'me' : 'peer'
    return leaver !== null
  }

  /** Turns the composer off, saying why, while the room takes no messages from this user (and hides it once banned). */
  private showReadOnly() {
    const closed = this.banned ? 'bannedNotice' : this.room?.status === 'archived' ? 'archivedNotice' : this.left === 'peer' ? 'peerLeftNotice' : this.left === 'me' ? 'youLeftNotice' : null
    if (closed) return this.composer.readOnly(() => t(closed), this.banned)
    const muted = this.standing?.muted ? this.standing : null
    this.composer.readOnly(muted && (() => (muted.muted_until ? t('mutedUntil', endOf(muted.muted_until)) : t('mutedNotice'))))
  }
}
