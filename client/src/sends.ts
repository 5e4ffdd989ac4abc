// What `room.send()` takes, what it refuses before anything goes out, and the frame a pending
// message goes out as.
import { ChatSendError } from './errors.ts'
import { uploaded, type PendingMessage } from './outbox.ts'
import type { RoomClientFrame } from './types.ts'
import { fileOf, type UploadSource } from './uploads.ts'

/** A message to send: its text, its files, and for a reply the id of the message it answers. */
export interface SendInput {
  /** The text; may be empty ("", the default) when the message carries files. */
  text?: string
  replyTo?: number
  /**
   * Photos and files (1–10), uploaded before the message goes out, one after another; the room's
   * `upload` event follows each. A message whose files are still uploading is not kept in
   * `storage`: a page reloaded meanwhile has lost it (its text too).
   */
  files?: readonly UploadSource[]
  /** 1–64 characters (a fresh UUID by default): names the message to the server, which stores it once, and in `pending`. */
  clientMsgId?: string
}

/** The most files a message carries (the server's limit). */
const MAX_FILES = 10

/** Why `input` cannot be sent, or null; `pending` are the sends not yet stored. */
export function sendRefusal({ text = '', replyTo, files = [], clientMsgId = '' }: SendInput, pending: readonly PendingMessage[], maxLength: number): ChatSendError | null {
  const invalid = (message: string) => new ChatSendError('invalid_field', message)
  if (clientMsgId.length < 1 || clientMsgId.length > 64) return invalid('clientMsgId is 1 to 64 characters')
  if (pending.some((p) => p.client_msg_id === clientMsgId)) return invalid('a message with this clientMsgId is already pending')
  if (replyTo !== undefined && !(Number.isSafeInteger(replyTo) && replyTo > 0)) return invalid('replyTo is the id of a message')
  if (files.length > MAX_FILES) return invalid(`a message carries at most ${MAX_FILES} files`)
  if (text.trim() === '' && files.length === 0) return new ChatSendError('message_empty', 'the message is empty')
  if (text.length > maxLength && [...text].length > maxLength) return new ChatSendError('message_too_long', `the message is longer than ${maxLength} characters`)
  return null
}

/** The pending message of a send: its files not uploaded yet. */
export function pendingOfSend({ text = '', replyTo, files = [] }: SendInput, clientMsgId: string): PendingMessage {
  const pending: PendingMessage = { client_msg_id: clientMsgId, message: text }
  return {
    ...pending,
    ...(replyTo === undefined ? {} : { reply_to: replyTo }),
    ...(files.length === 0 ? {} : { files: files.map((source) => ({ ...describe(source), upload: null })) }),
  }
}

const describe = (source: UploadSource) => {
  const { name, size, type } = fileOf(source)
  return { name, size, content_type: type }
}

/** The `chat.message` frame of a pending message, or null while its files are uploading. */
export function messageFrame(p: PendingMessage): RoomClientFrame | null {
  if (!uploaded(p)) return null
  const frame: RoomClientFrame = { type: 'chat.message', message: p.message, client_msg_id: p.client_msg_id }
  if (p.reply_to !== undefined) frame.reply_to = p.reply_to
  if (p.files) frame.attachments = p.files.map((f) => f.upload!.id)
  return frame
}

/** A fresh `client_msg_id`; pages served over plain http have no `crypto.randomUUID`. */
export function newId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
