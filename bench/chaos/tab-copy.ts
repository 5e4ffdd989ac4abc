import type { MessageDto } from '../../src/realtime/codec.ts'
import { MessageCopy } from '../../test/support/message-copy.ts'
import type { Frame } from '../../test/support/socket.ts'
import { formOf } from './changes.ts'
import type { ReceivedFrame, RoomCopy } from './history.ts'

/**
 * A tab's copy of its room: the history a page load read, then every frame the tab hears applied
 * as test/support/message-copy.ts applies it, as a client of the contract would. Its `version` is
 * one up to which it holds every change: what a reconnect asks since_version=.
 */
export class TabCopy {
  private copy = new MessageCopy()
  /** client_msg_ids sent more than once over a socket: a repeat's answer comes outside the room's order. */
  private readonly repeated = new Set<string>()

  constructor(
    private readonly tab: string,
    private readonly room: number,
    private readonly userId: string,
  ) {}

  get version(): number {
    return this.copy.version
  }

  /** The copy itself, to draw changes from (not to change). */
  get messages(): MessageCopy {
    return this.copy
  }

  /** The newest message id it holds (0 when empty). */
  newestId(): number {
    let newest = 0
    for (const id of this.copy.messages.keys()) if (id > newest) newest = id
    return newest
  }

  /**
   * A page load: the room as read, `version` read before the history. What the history holds past
   * `version` the replay after it brings again, so it is not counted as held.
   */
  replace(version: number, messages: readonly MessageDto[]): void {
    this.copy = new MessageCopy()
    for (const m of messages) this.copy.messages.set(m.id, m)
    this.copy.version = version
  }

  /** The room read again after a truncated replay: each message kept in the newer of its two forms; the version stays. */
  merge(messages: readonly MessageDto[]): void {
    const version = this.copy.version
    for (const message of messages) this.copy.apply({ type: 'chat.message.updated', message })
    this.copy.version = version
  }

  /** A send went out again: its answer may come alone, ahead of the room's order. */
  repeatedSend(cmid: string): void {
    this.repeated.add(cmid)
  }

  /**
   * Applies a frame, except the answer to a repeated send that runs ahead of the room's order (its
   * version past the next): the broadcast, or the next replay, brings it in order.
   */
  apply(frame: Frame, kept: ReceivedFrame): void {
    const repeat = frame.type === 'chat.message' && kept.user_id === this.userId && kept.client_msg_id && this.repeated.has(kept.client_msg_id)
    if (repeat && (kept.version ?? 0) > this.copy.version + 1) return
    this.copy.apply(frame)
  }

  /** The copy as it stands, for the history. */
  snapshot(): RoomCopy {
    return { tab: this.tab, room: this.room, userId: this.userId, version: this.copy.version, messages: this.copy.list().map((m) => ({ id: m.id, ...formOf(m) })) }
  }
}
