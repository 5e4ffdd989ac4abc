// The message list of the test page: stored messages in id order, each in its latest form
// (edits, unsends and reactions redraw it, and the contact guard's warning under it), system
// messages and notices, and below them the messages still waiting for the server.
import type { ContactKind, Message, PendingMessage, ReplyTo } from '../../client/src/index.ts'
import { filesSummary } from './attachments.ts'
import { pendingItem } from './dom.ts'
import { t } from './labels.ts'
import { messageItem, quoteLine, type MessageActions } from './message-item.ts'

/** The items of stored messages, the users' and the system's. */
const STORED = 'li.message, li.system'

/** What the list asks of the page. */
export interface MessageListDeps {
  /** The page's own user id (their messages are marked `mine`). */
  me: () => string
  /** Whose name and picture a pending message shows. */
  sender: () => { nickname: string; profile_picture_url: string | null }
  /** How many of the room's other members have not read a message (the "1"); null when not counted. */
  unreadBy: (m: Pick<Message, 'id' | 'user_id'>) => number | null
  /** What a message's menu and reactions do. */
  actions: MessageActions
  /** The quote a pending reply shows, from the message it answers. */
  quoteOf: (id: number) => ReplyTo | null
  /** What the contact guard found in a message, if it warned about it. */
  noticeOf: (id: number) => readonly ContactKind[] | undefined
}

export class MessageList {
  /** The newest message shown: a reconnect resumes after it. */
  lastId = 0
  /** The oldest message shown: scrolling up pages before it. */
  oldestId = 0
  /** No older messages to page in. */
  historyDone = false
  private loadingOlder = false
  /** Counts resets: a page of older messages asked for before one belongs to what was shown then. */
  private generation = 0
  /** The messages shown, by id, as last drawn. */
  private readonly shown = new Map<number, Message>()
  /** The `client_msg_id`s of the messages shown: a pending message among them is stored already. */
  private readonly shownSends = new Set<string>()
  /** What each notice says, in the page's language. */
  private readonly notices = new WeakMap<HTMLElement, () => string>()
  /** The pending messages shown: drawn again in another language. */
  private pending: readonly PendingMessage[] = []

  constructor(
    readonly el: HTMLOListElement,
    private readonly deps: MessageListDeps,
  ) {}

  /** Starts over with `messages` (a room's newest, ascending). */
  reset(messages: readonly Message[], historyDone: boolean) {
    this.generation++
    this.el.replaceChildren()
    this.shown.clear()
    this.shownSends.clear()
    this.lastId = this.oldestId = 0
    this.historyDone = historyDone
    for (const m of messages) this.append(m)
    this.el.scrollTop = this.el.scrollHeight
  }

  /** Appends a live or replayed message, skipping one already shown. */
  append(m: Message) {
    if (!this.remember(m)) return
    const stick = this.nearBottom()
    const item = this.item(m)
    this.el.insertBefore(item, this.firstPending())
    this.renderUnreadBy(item)
    this.lastId = Math.max(this.lastId, m.id)
    if (!this.oldestId) this.oldestId = m.id
    if (stick) this.el.scrollTop = this.el.scrollHeight
  }

  /** Pages in the messages before the oldest shown (one page at a time) until there are none. */
  async loadOlder(fetchBefore: (id: number) => Promise<readonly Message[]>, pageSize: number) {
    if (this.loadingOlder || this.historyDone || !this.oldestId) return
    const generation = this.generation
    this.loadingOlder = true
    try {
      const older = await fetchBefore(this.oldestId)
      if (generation !== this.generation) return
      if (older.length < pageSize) this.historyDone = true
      this.prepend(older)
    } finally {
      this.loadingOlder = false
    }
  }

  /** Puts older history above what is shown, keeping the view where it was. */
  private prepend(older: readonly Message[]) {
    const before = this.el.scrollHeight
    const items = older.filter((m) => this.remember(m)).map((m) => this.item(m))
    this.el.prepend(...items)
    for (const item of items) this.renderUnreadBy(item)
    if (items[0]) this.oldestId = Number(items[0].dataset.id)
    this.el.scrollTop += this.el.scrollHeight - before
  }

  /**
   * Drops the messages up to `id`: a reconnect missed more than the server replays, so what is
   * shown after them does not follow on. Scrolling up pages the missed ones in.
   */
  dropThrough(id: number) {
    for (const item of this.el.querySelectorAll<HTMLElement>(`${STORED}, li.notice`)) {
      const messageId = item.classList.contains('notice') ? 0 : Number(item.dataset.id)
      if (messageId > id) break
      // Paged in again later, in its place.
      this.shown.delete(messageId)
      item.remove()
    }
    const first = this.el.querySelector<HTMLElement>(STORED)
    this.oldestId = first ? Number(first.dataset.id) : 0
    this.historyDone = false
  }

  /** The messages shown, oldest first: what a new connection holds, so that their changes apply. */
  messages(): Message[] {
    return [...this.shown.values()].sort((a, b) => a.id - b.id)
  }

  /** Draws a shown message again in its latest form (edited, unsent, reacted to, or what it quotes). */
  update(m: Message) {
    const old = this.el.querySelector<HTMLElement>(`:is(${STORED})[data-id="${m.id}"]`)
    if (!old || !this.shown.has(m.id)) return
    this.shown.set(m.id, m)
    const item = this.item(m)
    old.replaceWith(item)
    this.renderUnreadBy(item)
  }

  /** Draws a shown message again as it is (the contact guard warned about it). */
  redrawMessage(id: number) {
    const m = this.shown.get(id)
    if (m) this.update(m)
  }

  /** Draws everything shown again (the page's language changed), keeping the view where it was. */
  redraw() {
    const { scrollTop } = this.el
    for (const old of this.el.querySelectorAll<HTMLElement>(STORED)) {
      const m = this.shown.get(Number(old.dataset.id))
      if (!m) continue
      const item = this.item(m)
      old.replaceWith(item)
      this.renderUnreadBy(item)
    }
    for (const li of this.el.querySelectorAll<HTMLElement>('li.notice')) li.textContent = this.notices.get(li)?.() ?? li.textContent
    this.showPending(this.pending)
    this.el.scrollTop = scrollTop
  }

  /** A line between the messages (who joined, that the page left the room), in the page's language. */
  notice(says: () => string) {
    const li = document.createElement('li')
    li.className = 'notice'
    li.textContent = says()
    this.notices.set(li, says)
    const stick = this.nearBottom()
    this.el.insertBefore(li, this.firstPending())
    if (stick) this.el.scrollTop = this.el.scrollHeight
  }

  /**
   * Shows `pending` below the messages, in order, and nothing else as pending: a message leaves
   * once the server has stored it (or it is shown stored already, sent before a reload).
   */
  showPending(pending: readonly PendingMessage[]) {
    this.pending = pending
    const waiting = pending.filter((p) => !this.shownSends.has(p.client_msg_id))
    const stick = this.nearBottom()
    // Drawn afresh: a message's files go from uploading to uploaded.
    for (const li of this.el.querySelectorAll<HTMLElement>('li.pending')) li.remove()
    for (const p of waiting) this.el.append(this.pendingItem(p))
    if (stick) this.el.scrollTop = this.el.scrollHeight
  }

  /** Fills in every message's "1" again (members or their read markers changed). */
  refreshUnreadBy() {
    for (const item of this.el.querySelectorAll<HTMLElement>('li.message')) this.renderUnreadBy(item)
  }

  private nearBottom() {
    return this.el.scrollHeight - this.el.scrollTop - this.el.clientHeight < 80
  }

  private item(m: Message): HTMLLIElement {
    return messageItem(m, this.deps.me(), this.deps.actions, this.deps.noticeOf(m.id))
  }

  private pendingItem(p: PendingMessage): HTMLLIElement {
    const quote = p.reply_to === undefined ? null : this.deps.quoteOf(p.reply_to)
    const li = pendingItem(p, this.deps.sender(), quote && quoteLine(quote))
    if (p.files) {
      // Its files, in a few words: their thumbnails come with the stored message.
      const files = document.createElement('div')
      files.className = 'pending-files'
      files.dataset.testid = 'pending-files'
      files.textContent = `${filesSummary(p.files)}${p.files.every((f) => f.upload) ? '' : ` · ${t('uploading')}`}`
      li.querySelector('.text')?.before(files)
    }
    return li
  }

  private remember(m: Message): boolean {
    if (this.shown.has(m.id)) return false
    this.shown.set(m.id, m)
    if (m.client_msg_id) this.shownSends.add(m.client_msg_id)
    return true
  }

  private firstPending(): HTMLElement | null {
    return this.el.querySelector('li.pending')
  }

  private renderUnreadBy(item: HTMLElement) {
    const span = item.querySelector<HTMLElement>('.unread-by')
    if (!span) return
    const count = this.deps.unreadBy({ id: Number(item.dataset.id), user_id: item.dataset.user ?? '' })
    span.textContent = count ? String(count) : ''
  }
}
