// The composer: sends through the room connection, typing notices, and what became of the sends
// the server would not take.
import { ChatSendError, type PendingMessage, type RoomConnection } from '../../client/src/index.ts'
import { $, showError } from './dom.ts'

export interface ComposerDeps {
  /** The page's room connection, while it has one. */
  room: () => RoomConnection | null
}

export class Composer {
  private readonly input = $<HTMLInputElement>('message')
  /** Errors already shown: one failure (the connection stopping) rejects every pending send. */
  private readonly reported = new WeakSet<Error>()

  constructor(private readonly deps: ComposerDeps) {
    $('composer').addEventListener('submit', (event) => {
      event.preventDefault()
      if (this.send(this.input.value)) this.input.value = ''
    })
    this.input.addEventListener('input', () => this.deps.room()?.typing())
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
    // The pending row comes and goes with the connection's `pending` event; only a refusal is shown here.
    room.send(text).catch((error: unknown) => {
      // `closed`: the page closed the connection; the message stays in storage for the next one.
      if (!(error instanceof Error) || this.reported.has(error) || (error instanceof ChatSendError && error.code === 'closed')) return
      this.reported.add(error)
      showError(`Message not sent: ${error.message}`)
    })
    return true
  }
}
