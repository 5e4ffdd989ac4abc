import type { Message, MessageDeletedFrame, MessageFrame, MessageUpdatedFrame, Reaction, ReactionFrame } from './types.ts'

/**
 * The message of a `chat.message` frame as REST gives it: a frame leaves out the fields that hold
 * their defaults (a plain new message has none of them).
 */
export function messageOfFrame({ type: _type, ...frame }: MessageFrame): Message {
  return { kind: 'text', edited_at: null, deleted: false, reply_to: null, reactions: [], attachments: [], data: null, ...frame }
}

/**
 * A message the app's backend put in the room ("거래가 완료되었어요", or `{event: "left", user_id}`
 * when the other member left a direct room): no sender, its `data` the app's own, `silent: true`
 * when it does not count as unread. Shown as a line without a name.
 */
export type SystemMessage = Message & { kind: 'system'; user_id: null }

/** Whether a message is a system message rather than a user's. */
export const isSystemMessage = (m: Message): m is SystemMessage => m.kind === 'system'

/** A change of a message the room hears of. */
export type ChangeFrame = MessageUpdatedFrame | MessageDeletedFrame | ReactionFrame

/** How much of the answered message a reply quotes (the server's cut). */
const QUOTE_CHARACTERS = 100
/** How many of those who reacted a reaction names. */
const REACTORS_NAMED = 10

/**
 * The messages a room connection holds, each in the latest form it has heard of, and the highest
 * room version it has applied (a reconnect asks with `since_version=` for what came after it).
 * Every message carries the version of its latest change, so a change at or below it is one
 * already applied (heard twice, or older than a form read since): it is ignored, which makes
 * applying idempotent whatever the order of replays, REST answers and live frames.
 */
export class MessageStore {
  /** Held messages by id. */
  readonly messages = new Map<number, Message>()
  /** The highest room version applied; null before any. */
  version: number | null

  constructor(version: number | null = null) {
    this.version = version
  }

  /** A version the room has brought this client to (heard, replayed, or read with a message). */
  reached(version: number): void {
    if (this.version === null || version > this.version) this.version = version
  }

  /**
   * A message in a form read elsewhere (room detail, history, a REST answer) or heard again: held
   * unless a newer form is. Answers what it changed (empty when nothing), or null when it was not
   * held before (a new message to the store).
   */
  put(message: Message): Message[] | null {
    const held = this.messages.get(message.id)
    if (!held) {
      this.messages.set(message.id, message)
      return null
    }
    return held.version >= message.version ? [] : this.replace(held, message)
  }

  /** Applies a change frame; answers the held messages it changed (none for a message not held). */
  apply(frame: ChangeFrame): Message[] {
    this.reached(frame.version)
    const held = this.messages.get(frame.type === 'chat.message.updated' ? frame.message.id : frame.id)
    if (!held || held.version >= frame.version) return []
    const { version } = frame
    if (frame.type === 'chat.message.updated') return this.replace(held, { ...frame.message, version })
    if (frame.type === 'chat.message.deleted') return this.replace(held, { ...held, message: '', deleted: true, reactions: [], attachments: [], version })
    return this.replace(held, { ...held, reactions: react(held.reactions, frame), version })
  }

  /** Forgets everything (the database was replaced). */
  clear(version: number | null = null): void {
    this.messages.clear()
    this.version = version
  }

  /** Holds `next` instead of `held`, and the replies quoting it follow its text. */
  private replace(held: Message, next: Message): Message[] {
    this.messages.set(next.id, next)
    const changed = [next]
    if (next.message === held.message) return changed
    const quoted = next.deleted ? '' : Array.from(next.message).slice(0, QUOTE_CHARACTERS).join('')
    for (const m of this.messages.values()) {
      if (m.reply_to?.id !== next.id || m.reply_to.message === quoted) continue
      const reply = { ...m, reply_to: { ...m.reply_to, message: quoted } }
      this.messages.set(m.id, reply)
      changed.push(reply)
    }
    return changed
  }
}

/**
 * The reactions after one was added or taken back. Who reacted is named for the first ten only:
 * when one of them takes theirs back, the eleventh is not known here, and the list stays short
 * until the message is read again.
 */
function react(reactions: readonly Reaction[], { emoji, user_id, added }: ReactionFrame): Reaction[] {
  const found = reactions.find((r) => r.emoji === emoji)
  if (!found) return added ? [...reactions, { emoji, count: 1, user_ids: [user_id] }] : [...reactions]
  if (added && found.user_ids.includes(user_id)) return [...reactions]
  if (!added && found.count <= 1) return reactions.filter((r) => r !== found)
  const user_ids = added ? (found.user_ids.length < REACTORS_NAMED ? [...found.user_ids, user_id] : found.user_ids) : found.user_ids.filter((u) => u !== user_id)
  return reactions.map((r) => (r === found ? { emoji, count: found.count + (added ? 1 : -1), user_ids } : r))
}
