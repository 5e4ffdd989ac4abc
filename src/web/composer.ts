// The composer: sends through the room connection (a reply with the quoted line above the input,
// an edit of one's own message in place), typing notices, and what became of the sends the
// server would not take.
import { ChatSendError, type Message, type PendingMessage, type RoomConnection } from '../../client/src/index.ts'
import { $, showError } from './dom.ts'
import { quoteLine } from './message-item.ts'

export interface ComposerDeps {
  /** The page's room connection, while it has one. */
  room: () => RoomConnection | null
}

export class Composer {
  private readonly input = $<HTMLInputElement>('message')
  /** Errors already shown: one failure (the connection stopping) rejects every pending send. */
  private readonly reported = new WeakSet<Error>()
  /** What the next submit does besides sending: answer a message, or edit one. */
  private mode: { reply: Message } | { edit: Message } | null = null

  constructor(private readonly deps: ComposerDeps) {
    $('composer').addEventListener('submit', (event) => {
      event.preventDefault()
      if (this.send(this.input.value)) this.input.value = ''
    })
    this.input.addEventListener('input', () => this.deps.room()?.typing())
    $('composer-cancel').addEventListener('click', () => this.cancel())
  }

  /** The next message answers `m`: its quote shows above the input. */
  replyTo(m: Message) {
    if (this.mode && 'edit' in this.mode) this.input.value = ''
    this.mode = { reply: m }
    this.showContext(`${m.nickname}에게 답장`, m)
  }

  /** The input holds `m`'s text; the next submit edits it. */
  edit(m: Message) {
    this.mode = { edit: m }
    this.input.value = m.message
    this.showContext('메시지 편집', null)
  }

  /** Back to a plain message (an edit's text is cleared). */
  cancel() {
    if (this.mode && 'edit' in this.mode) this.input.value = ''
    this.mode = null
    $('composer-context').hidden = true
  }

  private showContext(title: string, quoted: Message | null) {
    const strong = document.createElement('strong')
    strong.textContent = title
    const quote = quoted ? [quoteLine({ id: quoted.id, user_id: quoted.user_id, nickname: quoted.nickname, message: quoted.message })] : []
    $('composer-context-text').replaceChildren(strong, ...quote)
    $('composer-context').hidden = false
    this.input.focus()
  }

  /**
   * On while the page is in a room, whatever the connection's state: a message sent while it is
   * down waits in the outbox and goes out when it is back.
   */
  enable(on: boolean) {
    this.input.disabled = !on
    $<HTMLButtonElement>('send').disabled = !on
  }

  /** A message the server refused for good (sent from this page, or left by an earlier one). */
  failed({ pending, error }: { pending: PendingMessage; error: ChatSendError }) {
    this.reported.add(error)
    showError(`Not sent (${error.code}), “${pending.message.slice(0, 40)}”: ${error.message}`)
  }

  /** Sends `text`; false if there is nothing to send or no room to send it to. */
  private send(text: string): boolean {
    const room = this.deps.room()
    if (!room || !text.trim()) return false
    const mode = this.mode
    this.cancel()
    if (mode && 'edit' in mode) {
      // The list redraws the message from the room's `change`; only a refusal is shown here.
      room.edit(mode.edit.id, text).catch((error: unknown) => showError(`편집하지 못했습니다: ${error instanceof Error ? error.message : String(error)}`))
      return true
    }
    // The pending row comes and goes with the connection's `pending` event; only a refusal is shown here.
    room.send(mode ? { text, replyTo: mode.reply.id } : text).catch((error: unknown) => {
      // `closed`: the page closed the connection; the message stays in storage for the next one.
      if (!(error instanceof Error) || this.reported.has(error) || (error instanceof ChatSendError && error.code === 'closed')) return
      this.reported.add(error)
      showError(`Message not sent: ${error.message}`)
    })
    return true
  }
}
