import { withFrameDefaults, type MessageDto } from '../../src/realtime/codec.ts'
import type { Frame } from './socket.ts'

/**
 * A client's copy of a room's messages, kept from the frames it hears as the contract says a
 * client applies them (new, updated, deleted, reaction deltas by version), so a test can compare
 * it with what the server stores.
 */
export class MessageCopy {
  readonly messages = new Map<number, MessageDto>()
  /** The highest room version applied: what a reconnect gives as since_version=. */
  version = 0

  /** Applies one frame (others are ignored); a change older than what the copy holds changes nothing. */
  apply(frame: Frame): void {
    switch (frame.type) {
      case 'chat.message': {
        // A frame leaves out the fields that hold their defaults.
        const { type: _type, ...message } = frame as unknown as MessageDto & { type: string }
        this.put(withFrameDefaults(message))
        break
      }
      case 'chat.message.updated':
        this.put(frame.message as MessageDto)
        break
      case 'chat.message.deleted': {
        const had = this.messages.get(Number(frame.id))
        if (had && had.version < Number(frame.version)) this.put({ ...had, deleted: true, message: '', reactions: [], attachments: [], version: Number(frame.version) })
        break
      }
      case 'chat.reaction': {
        const had = this.messages.get(Number(frame.id))
        if (!had || had.version >= Number(frame.version)) break
        const emoji = String(frame.emoji)
        const user = String(frame.user_id)
        const reactions = had.reactions.map((r) => ({ ...r, user_ids: [...r.user_ids] }))
        const sum = reactions.find((r) => r.emoji === emoji)
        if (frame.added) {
          if (sum) {
            sum.count++
            if (sum.user_ids.length < 10) sum.user_ids.push(user)
          } else reactions.push({ emoji, count: 1, user_ids: [user] })
        } else if (sum) {
          sum.count--
          sum.user_ids = sum.user_ids.filter((u) => u !== user)
        }
        this.put({ ...had, reactions: reactions.filter((r) => r.count > 0), version: Number(frame.version) })
        break
      }
      case 'chat.recovered':
        if (typeof frame.version === 'number') this.version = Math.max(this.version, frame.version)
        break
    }
  }

  applyAll(frames: readonly Frame[]): this {
    for (const frame of frames) this.apply(frame)
    return this
  }

  /** The copy as a list in id order, as GET …/messages/ gives it. */
  list(): MessageDto[] {
    return [...this.messages.values()].sort((a, b) => a.id - b.id)
  }

  private put(message: MessageDto) {
    const had = this.messages.get(message.id)
    if (had && had.version >= message.version) return
    this.messages.set(message.id, message)
    this.version = Math.max(this.version, message.version)
    // Replies show an unsent original as unsent.
    if (message.deleted) for (const [id, m] of this.messages) if (m.reply_to?.id === message.id && m.reply_to.message !== '') this.messages.set(id, { ...m, reply_to: { ...m.reply_to, message: '' } })
  }
}
