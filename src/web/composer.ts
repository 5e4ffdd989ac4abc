// The composer: sends through the room connection (a reply with the quoted line above the input,
// an edit of one's own message in place, photos and files picked, pasted or dropped), typing
// notices, and what became of the sends the server would not take.
import { ChatApiError, ChatSendError, type FileProgress, type Message, type PendingMessage, type RoomConnection } from '../../client/src/index.ts'
import { filesSummary } from './attachments.ts'
import { $, showError } from './dom.ts'
import { quoteLine } from './message-item.ts'
import { UploadTray } from './upload-tray.ts'

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
  private readonly tray = new UploadTray($('upload-tray'))

  constructor(private readonly deps: ComposerDeps) {
    $('composer').addEventListener('submit', (event) => {
      event.preventDefault()
      if (this.send(this.input.value)) this.input.value = ''
    })
    this.input.addEventListener('input', () => this.deps.room()?.typing())
    $('composer-cancel').addEventListener('click', () => this.cancel())
    this.takeFiles()
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
    const quote = quoted ? [quoteLine({ id: quoted.id, user_id: quoted.user_id ?? '', nickname: quoted.nickname, message: quoted.message })] : []
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
    $<HTMLButtonElement>('attach').disabled = !on
  }

  /** A message the server refused for good (sent from this page, or left by an earlier one). */
  failed({ pending, error }: { pending: PendingMessage; error: ChatSendError }) {
    if (this.reported.has(error)) return
    this.reported.add(error)
    const what = pending.message ? `“${pending.message.slice(0, 40)}”` : filesSummary(pending.files ?? [])
    showError(`전송 실패 (${error.code}), ${what}: ${failureText(error)}`)
  }

  /** Sends `text` and the files picked; false if there is nothing to send or no room to send it to. */
  private send(text: string): boolean {
    const room = this.deps.room()
    const mode = this.mode
    const editing = mode !== null && 'edit' in mode
    if (!room || (!text.trim() && (editing || !this.tray.hasDrafts))) return false
    this.cancel()
    if (mode && 'edit' in mode) {
      // The list redraws the message from the room's `change`; only a refusal is shown here.
      room.edit(mode.edit.id, text).catch((error: unknown) => showError(`편집하지 못했습니다: ${error instanceof Error ? error.message : String(error)}`))
      return true
    }
    const clientMsgId = newClientMsgId()
    const files = this.tray.take(clientMsgId)
    // The pending row comes and goes with the connection's `pending` event; the files' chips show
    // their progress until the message is stored; only a refusal is shown besides.
    room.send({ text, clientMsgId, ...(mode ? { replyTo: mode.reply.id } : {}), ...(files.length ? { files } : {}) }).then(
      () => this.tray.sent(clientMsgId),
      (error: unknown) => {
        this.tray.failed(clientMsgId, failureText(error))
        // `closed`: the page closed the connection; a message without files stays in storage for the next one.
        if (!(error instanceof Error) || this.reported.has(error) || (error instanceof ChatSendError && error.code === 'closed')) return
        this.reported.add(error)
        showError(`전송 실패: ${failureText(error)}`)
      },
    )
    return true
  }
}

/** Why a send failed, in the page's words: an upload's refusal by its status, anything else as it says. */
function failureText(error: unknown): string {
  const cause = error instanceof ChatSendError && error.code === 'upload_failed' ? error.cause : error
  if (cause instanceof ChatApiError) {
    if (cause.status === 413) return '파일이 너무 큽니다'
    if (cause.status === 415) return '보낼 수 없는 형식입니다'
    if (cause.status === 429) return '오늘 올릴 수 있는 용량을 넘었습니다'
  }
  if (error instanceof ChatSendError && error.code === 'closed') return '연결을 끊었습니다'
  if (cause instanceof TypeError) return '서버에 닿지 못했습니다'
  return cause instanceof Error ? cause.message : String(cause)
}

/** A message's `client_msg_id`, chosen here so that its files' chips can follow it. */
function newClientMsgId(): string {
  return typeof crypto.randomUUID === 'function' ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
}
