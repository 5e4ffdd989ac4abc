// The composer: sends through the room connection (a reply with the quoted line above the input,
// an edit of one's own message in place, photos and files picked, pasted or dropped), typing
// notices, and what became of the sends the server would not take. In a room that takes no more
// messages (its deal is closed, the other member left) or none from this user (muted) it is off,
// and says why; banned, it is gone. Under slow mode it counts down to the next send.
import { ChatApiError, ChatSendError, type FileProgress, type Message, type PendingMessage, type RoomConnection } from '../../client/src/index.ts'
import { filesSummary } from './attachments.ts'
import { $, showError } from './dom.ts'
import { onLanguageChange, t } from './labels.ts'
import { quoteLine } from './message-item.ts'
import { UploadTray } from './upload-tray.ts'

/** The refusals that say the room takes no more messages. */
const CLOSED_CODES = new Set(['room_archived', 'peer_left'])

export interface ComposerDeps {
  /** The page's room connection, while it has one. */
  room: () => RoomConnection | null
  /** The server refused a send because the room takes no more messages (`room_archived`, `peer_left`). */
  closed: (code: string) => void
}

export class Composer {
  private readonly input = $<HTMLInputElement>('message')
  /** Errors already shown: one failure (the connection stopping) rejects every pending send. */
  private readonly reported = new WeakSet<Error>()
  /** What the next submit does besides sending: answer a message, or edit one. */
  private mode: { reply: Message } | { edit: Message } | null = null
  /** What the line above the input says (whom the reply answers, or that it is an edit). */
  private context: { title: () => string; quoted: Message | null } | null = null
  private readonly tray = new UploadTray($('upload-tray'))
  /** The page is in a room. */
  private inRoom = false
  /** Why the room takes no messages from this user, in the page's language, or null while it does. */
  private readOnlyNotice: (() => string) | null = null
  /** When the next message may go (slow mode), ms since the epoch, and the countdown's timer. */
  private slowModeUntil = 0
  private countdown: ReturnType<typeof setInterval> | undefined

  constructor(private readonly deps: ComposerDeps) {
    $('composer').addEventListener('submit', (event) => {
      event.preventDefault()
      if (this.send(this.input.value)) this.input.value = ''
    })
    this.input.addEventListener('input', () => this.deps.room()?.typing())
    $('composer-cancel').addEventListener('click', () => this.cancel())
    this.takeFiles()
    onLanguageChange(() => {
      this.renderContext()
      this.renderNotice()
      this.renderCountdown()
    })
  }

  /** Files come with the paperclip, a paste (an image copied or a screenshot) or a drop on the chat. */
  private takeFiles() {
    const picker = $<HTMLInputElement>('file-input')
    $('attach').addEventListener('click', () => picker.click())
    picker.addEventListener('change', () => {
      this.attach(picker.files)
      picker.value = ''
    })
    document.addEventListener('paste', (event) => {
      const files = event.clipboardData?.files
      if (!files?.length || this.input.disabled) return
      // Text pastes as text; only files are taken from the clipboard.
      event.preventDefault()
      this.attach(files)
    })
    const chat = $('chat')
    const carriesFiles = (event: DragEvent) => event.dataTransfer?.types.includes('Files') === true && !this.input.disabled
    for (const type of ['dragenter', 'dragover'] as const) {
      chat.addEventListener(type, (event) => {
        if (!carriesFiles(event)) return
        event.preventDefault()
        if (event.dataTransfer) event.dataTransfer.dropEffect = 'copy'
        chat.classList.add('dropping')
      })
    }
    chat.addEventListener('dragleave', (event) => {
      if (!(event.relatedTarget instanceof Node && chat.contains(event.relatedTarget))) chat.classList.remove('dropping')
    })
    chat.addEventListener('drop', (event) => {
      chat.classList.remove('dropping')
      if (!carriesFiles(event)) return
      event.preventDefault()
      this.attach(event.dataTransfer?.files ?? null)
    })
  }

  private attach(files: FileList | null) {
    if (!files?.length) return
    this.tray.add(files)
    this.input.focus()
  }

  /** How far a file of a message on its way has uploaded. */
  progress(progress: FileProgress) {
    this.tray.progress(progress)
  }

  /** The next message answers `m`: its quote shows above the input. */
  replyTo(m: Message) {
    if (this.mode && 'edit' in this.mode) this.input.value = ''
    this.mode = { reply: m }
    this.showContext(() => t('replyTo', m.nickname), m)
  }

  /** The input holds `m`'s text; the next submit edits it. */
  edit(m: Message) {
    this.mode = { edit: m }
    this.input.value = m.message
    this.showContext(() => t('editing'), null)
  }

  /** Back to a plain message (an edit's text is cleared). */
  cancel() {
    if (this.mode && 'edit' in this.mode) this.input.value = ''
    this.mode = null
    this.context = null
    this.renderContext()
  }

  private showContext(title: () => string, quoted: Message | null) {
    this.context = { title, quoted }
    this.renderContext()
    this.input.focus()
  }

  private renderContext() {
    const context = this.context
    $('composer-context').hidden = context === null
    if (!context) return
    const strong = document.createElement('strong')
    strong.textContent = context.title()
    const { quoted } = context
    const quote = quoted ? [quoteLine({ id: quoted.id, user_id: quoted.user_id ?? '', nickname: quoted.nickname, message: quoted.message })] : []
    $('composer-context-text').replaceChildren(strong, ...quote)
  }

  /**
   * On while the page is in a room, whatever the connection's state: a message sent while it is
   * down waits in the outbox and goes out when it is back. Off in a room that takes no more.
   */
  enable(on: boolean) {
    this.inRoom = on
    const usable = on && this.readOnlyNotice === null
    this.input.disabled = !usable
    // Under slow mode the next message may be typed, not sent.
    $<HTMLButtonElement>('send').disabled = !usable || this.waiting()
    $<HTMLButtonElement>('attach').disabled = !usable
    this.renderCountdown()
  }

  /**
   * The room takes no messages from this user (and the composer says why: `notice`), or, with
   * null, takes them again. `gone`: for good (banned), the composer is not shown at all.
   */
  readOnly(notice: (() => string) | null, gone = false) {
    this.readOnlyNotice = notice
    $('composer').hidden = gone
    if (notice) this.cancel()
    this.renderNotice()
    this.enable(this.inRoom)
  }

  /** Slow mode: no message may go before `until` (ms since the epoch; 0: now); the composer counts down to it. */
  slowMode(until: number) {
    this.slowModeUntil = until
    clearInterval(this.countdown)
    this.countdown = undefined
    if (this.waiting()) {
      this.countdown = setInterval(() => {
        if (this.waiting()) return this.renderCountdown()
        clearInterval(this.countdown)
        this.countdown = undefined
        this.enable(this.inRoom)
      }, 250)
    }
    this.enable(this.inRoom)
  }

  private waiting(): boolean {
    return this.slowModeUntil > Date.now()
  }

  private renderNotice() {
    const line = $('composer-notice')
    line.hidden = this.readOnlyNotice === null
    line.textContent = this.readOnlyNotice?.() ?? ''
  }

  /** 슬로우 모드: 5초 후 보낼 수 있어요, while the page is in a room that takes this user's messages. */
  private renderCountdown() {
    const line = $('slow-mode-wait')
    const left = Math.ceil((this.slowModeUntil - Date.now()) / 1000)
    line.hidden = !(this.inRoom && this.readOnlyNotice === null && left > 0)
    line.textContent = line.hidden ? '' : t('slowModeWait', left)
  }

  /** A message the server refused for good (sent from this page, or left by an earlier one). */
  failed({ pending, error }: { pending: PendingMessage; error: ChatSendError }) {
    if (this.reported.has(error)) return
    this.reported.add(error)
    if (CLOSED_CODES.has(error.code)) this.deps.closed(error.code)
    const what = pending.message ? `“${pending.message.slice(0, 40)}”` : filesSummary(pending.files ?? [])
    showError(t('sendFailedAs', error.code, what, failureText(error)))
  }

  /** Sends `text` and the files picked; false if there is nothing to send or no room to send it to. */
  private send(text: string): boolean {
    const room = this.deps.room()
    const mode = this.mode
    const editing = mode !== null && 'edit' in mode
    if (!room || (!text.trim() && (editing || !this.tray.hasDrafts))) return false
    // The room takes no messages from this user: the notice above says so, and nothing goes out.
    // Under slow mode the words stay in the input until the countdown is over.
    if (this.readOnlyNotice || (this.waiting() && !editing)) return false
    this.cancel()
    if (mode && 'edit' in mode) {
      // The list redraws the message from the room's `change`; only a refusal is shown here.
      room.edit(mode.edit.id, text).catch((error: unknown) => showError(t('couldNotEdit', error instanceof Error ? error.message : String(error))))
      return true
    }
    const clientMsgId = newClientMsgId()
    const files = this.tray.take(clientMsgId)
    // The pending row comes and goes with the connection's `pending` event; the files' chips show
    // their progress until the message is stored; only a refusal is shown besides.
    room.send({ text, clientMsgId, ...(mode ? { replyTo: mode.reply.id } : {}), ...(files.length ? { files } : {}) }).then(
      () => this.tray.sent(clientMsgId),
      (error: unknown) => {
        this.tray.failed(clientMsgId, () => failureText(error))
        // `closed`: the page closed the connection; a message without files stays in storage for the next one.
        if (!(error instanceof Error) || this.reported.has(error) || (error instanceof ChatSendError && error.code === 'closed')) return
        this.reported.add(error)
        if (error instanceof ChatSendError && CLOSED_CODES.has(error.code)) this.deps.closed(error.code)
        showError(t('sendFailed', failureText(error)))
      },
    )
    return true
  }
}

/** Refusals of a send said in the page's words. */
const SEND_FAILURES = { closed: 'youDisconnected', muted: 'mutedNotice', banned: 'bannedNotice', filtered: 'filteredText' } as const

/** Why a send failed, in the page's words: an upload's refusal by its status, anything else as it says. */
function failureText(error: unknown): string {
  const cause = error instanceof ChatSendError && error.code === 'upload_failed' ? error.cause : error
  if (cause instanceof ChatApiError) {
    if (cause.status === 413) return t('fileTooLarge')
    if (cause.status === 415) return t('unsupportedType')
    if (cause.status === 429) return t('dailyQuota')
  }
  if (error instanceof ChatSendError && error.code in SEND_FAILURES) return t(SEND_FAILURES[error.code as keyof typeof SEND_FAILURES])
  if (cause instanceof TypeError) return t('unreachable')
  return cause instanceof Error ? cause.message : String(cause)
}

/** A message's `client_msg_id`, chosen here so that its files' chips can follow it. */
function newClientMsgId(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
}
