import type { ChatSendError } from './errors.ts'
import type { Message } from './types.ts'
import type { Upload } from './uploads.ts'

/** Where pending sends are kept across page loads: `localStorage` fits, and so does an async store. */
export interface OutboxStorage {
  getItem(key: string): string | null | Promise<string | null>
  setItem(key: string, value: string): void | Promise<void>
  removeItem(key: string): void | Promise<void>
}

/** A message handed to `send()` that the server has not acknowledged yet. */
export interface PendingMessage {
  /** Sent with every attempt: the server stores the message once however often it arrives. */
  readonly client_msg_id: string
  readonly message: string
  /** The id of the message it answers, if it is a reply. */
  readonly reply_to?: number
  /** The files it carries, in order: each with its upload once stored (sent as `attachments`). */
  readonly files?: readonly PendingFile[]
}

/** A file of a pending message: what it is, and its upload once the server stored it (null until then). */
export interface PendingFile {
  readonly name: string
  readonly size: number
  readonly content_type: string
  readonly upload: Upload | null
}

/** Whether every file of a message is uploaded: only then may it be sent, or kept in storage. */
export const uploaded = (p: PendingMessage) => p.files?.every((f) => f.upload) ?? true

interface Entry extends PendingMessage {
  files?: readonly PendingFile[]
  /** The `send()` promise waiting for it; none for entries restored from storage. */
  settle?: { resolve(message: Message): void; reject(error: ChatSendError): void }
}

/**
 * The room's pending sends, oldest first, mirrored into a storage once its key is known (see
 * `open`): until then they are kept in memory only. Entries leave when the server echoes their
 * `client_msg_id`, or when they are given up on.
 */
export class Outbox {
  private entries: Entry[] = []
  /** Storage writes in order, whatever the storage's own timing. */
  private writing: Promise<void> = Promise.resolve()
  /** Where the entries are kept; null until `open`, and nothing is read or written before. */
  private key: string | null = null

  constructor(
    private readonly storage: OutboxStorage | undefined,
    private readonly failed: (error: Error) => void,
    /** The pending list changed: restored, added to, acknowledged, given up on. */
    private readonly changed: () => void,
  ) {}

  /**
   * Keeps the entries under `key` from now on: what an earlier page left there goes first, then
   * what was queued meanwhile. If the read fails, nothing is written there.
   */
  async open(key: string): Promise<void> {
    if (!this.storage) return
    const saved = await this.storage.getItem(key)
    const restored = saved ? (JSON.parse(saved) as PendingMessage[]) : []
    this.key = key
    const known = new Set(this.entries.map((e) => e.client_msg_id))
    this.entries.unshift(...restored.filter((e) => !known.has(e.client_msg_id)).map(pendingOf))
    if (this.entries.length > 0) this.save()
    if (restored.length > 0) this.changed()
  }

  get pending(): readonly PendingMessage[] {
    return this.entries.map(pendingOf)
  }

  get head(): PendingMessage | undefined {
    return this.entries[0]
  }

  /** Queues a message; the promise settles when the server stores it or it is given up on. */
  add(pending: PendingMessage): Promise<Message> {
    return new Promise((resolve, reject) => {
      this.entries.push({ ...pending, settle: { resolve, reject } })
      this.save()
      this.changed()
    })
  }

  /** The files of a pending message are stored as `uploads` (in their order): it may go out now. */
  uploaded(clientMsgId: string, uploads: readonly Upload[]): void {
    const entry = this.entries.find((e) => e.client_msg_id === clientMsgId)
    if (!entry?.files) return
    entry.files = entry.files.map((file, i) => ({ ...file, upload: uploads[i] ?? null }))
    this.save()
    this.changed()
  }

  /** The server stored the message with this `client_msg_id`: true if it was pending here. */
  acknowledge(message: Message): boolean {
    const entry = this.take(message.client_msg_id)
    entry?.settle?.resolve(message)
    return entry !== undefined
  }

  /** Gives up on one message. */
  reject(clientMsgId: string, error: ChatSendError): void {
    this.take(clientMsgId)?.settle?.reject(error)
  }

  /** Gives up on every message; `keep` leaves them in storage for the next page or connection. */
  rejectAll(error: ChatSendError, keep: boolean): void {
    const entries = this.entries
    if (entries.length === 0) return
    this.entries = []
    if (!keep) this.save()
    this.changed()
    for (const entry of entries) entry.settle?.reject(error)
  }

  private take(clientMsgId: string | null): Entry | undefined {
    const index = this.entries.findIndex((e) => e.client_msg_id === clientMsgId)
    if (index === -1) return undefined
    const [entry] = this.entries.splice(index, 1)
    this.save()
    this.changed()
    return entry
  }

  private save(): void {
    const { storage, key } = this
    if (!storage || key === null) return
    // A message whose files are still uploading is not kept: after a reload its files are gone.
    const kept = this.entries.filter(uploaded)
    const text = kept.length === 0 ? null : JSON.stringify(kept.map(pendingOf))
    this.writing = this.writing.then(() => (text === null ? storage.removeItem(key) : storage.setItem(key, text))).catch((error: unknown) => this.failed(error instanceof Error ? error : new Error(String(error))))
  }
}

/** What is kept of a send: its id, its text, what it answers, its files. */
const pendingOf = ({ client_msg_id, message, reply_to, files }: PendingMessage): PendingMessage => ({ client_msg_id, message, ...(reply_to === undefined ? {} : { reply_to }), ...(files ? { files } : {}) })
