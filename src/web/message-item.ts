// A stored message as a list item: its quote (a reply), photos and files, text (or that it was
// unsent), the contact guard's warning under it, reactions, and its menu (답장, reactions, on one's
// own 편집 and 전송 취소, and for a moderator on others' 삭제, 10분 채팅 금지 and 내보내기); a system
// message as a line of its own. Text goes in as text.
import { isSystemMessage, type ContactKind, type Message, type ReplyTo, type SystemMessage } from '../../client/src/index.ts'
import { attachmentsView } from './attachments.ts'
import { askFirst, avatar, messageBody } from './dom.ts'
import { locale, t } from './labels.ts'
import type { ModerationAction } from './moderation.ts'

/** What a message's menu and reactions do. */
export interface MessageActions {
  reply(m: Message): void
  edit(m: Message): void
  unsend(m: Message): void
  react(m: Message, emoji: string, add: boolean): void
  /** What this user, if a moderator, may do to another's message and its sender (none otherwise). */
  moderate(m: Message): ModerationAction[]
}

/** The reactions the menu offers. */
const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🙏']

/** A button of the message's menu or reactions. */
function button(label: string, testid: string, run: () => void): HTMLButtonElement {
  const b = document.createElement('button')
  b.type = 'button'
  b.textContent = label
  b.dataset.testid = testid
  b.addEventListener('click', run)
  return b
}

/** The quoted line of a reply: who, and what they wrote (cut by the server; "" once unsent). */
export function quoteLine(q: ReplyTo): HTMLDivElement {
  const div = document.createElement('div')
  div.className = 'quote'
  div.dataset.testid = 'quote'
  const who = document.createElement('strong')
  who.textContent = q.nickname
  div.append(who, ` ${q.message || t('unsent')}`)
  return div
}

/**
 * A message the app's backend put in the room (거래가 완료되었어요, OOO님이 대화방을 나갔습니다): a
 * centred line, without a name, picture or menu, never anyone's own.
 */
function systemItem(m: SystemMessage): HTMLLIElement {
  const li = document.createElement('li')
  li.className = `system${m.deleted ? ' unsent' : ''}`
  li.dataset.id = String(m.id)
  li.dataset.testid = 'system-message'
  if (typeof m.data?.event === 'string') li.dataset.event = m.data.event
  const text = document.createElement('span')
  text.className = 'text system-text'
  text.textContent = m.deleted ? t('unsent') : m.message
  li.title = new Date(m.created_at).toLocaleString(locale())
  li.append(text)
  return li
}

/**
 * The contact guard's warning under a message that shares a phone number, an account, a KakaoTalk
 * id, an outside link…: the others see it, never its sender.
 */
function contactWarning(kinds: readonly ContactKind[]): HTMLDivElement {
  const div = document.createElement('div')
  div.className = 'contact-warning'
  div.dataset.testid = 'contact-warning'
  div.dataset.kinds = kinds.join(' ')
  div.setAttribute('role', 'note')
  const title = document.createElement('strong')
  title.textContent = t('contactWarning')
  const detail = document.createElement('span')
  detail.textContent = t('contactWarningDetail')
  div.append(title, detail)
  return div
}

/**
 * A message as a list item; `me` is the page's user id (their own are `mine`, with edit and
 * unsend); `notice`: what the contact guard found in it, if it warned about it.
 */
export function messageItem(m: Message, me: string, actions: MessageActions, notice?: readonly ContactKind[]): HTMLLIElement {
  if (isSystemMessage(m)) return systemItem(m)
  const mine = m.user_id === me
  const li = document.createElement('li')
  li.className = `message${mine ? ' mine' : ''}${m.deleted ? ' unsent' : ''}`
  li.dataset.id = String(m.id)
  li.dataset.user = m.user_id ?? ''
  const { body, meta, text } = messageBody(m.nickname, new Date(m.created_at).toLocaleTimeString(locale()), m.deleted ? t('unsent') : m.message)
  if (m.edited_at && !m.deleted) {
    const edited = document.createElement('span')
    edited.className = 'edited'
    edited.textContent = ` (${t('edited')})`
    meta.append(edited)
  }
  if (mine && !m.deleted) {
    // How many of the room's other members have not read it yet (filled in by the list).
    const unread = document.createElement('span')
    unread.className = 'unread-by'
    unread.dataset.testid = 'unread-by'
    meta.append(unread)
  }
  if (m.reply_to) body.insertBefore(quoteLine(m.reply_to), text)
  const files = m.deleted ? null : attachmentsView(m.attachments)
  if (files) body.insertBefore(files, text)
  if (!m.deleted) {
    if (notice) body.append(contactWarning(notice))
    body.append(reactionsRow(m, me, actions))
    meta.append(menu(m, me, actions, body))
  }
  li.append(avatar(m), body)
  return li
}

/** Each emoji with its count; the user's own are marked, and a tap adds or takes back theirs. */
function reactionsRow(m: Message, me: string, actions: MessageActions): HTMLDivElement {
  const row = document.createElement('div')
  row.className = 'reactions'
  for (const r of m.reactions) {
    const reacted = r.user_ids.includes(me)
    const b = button(`${r.emoji} ${r.count}`, 'reaction', () => actions.react(m, r.emoji, !reacted))
    b.dataset.emoji = r.emoji
    b.setAttribute('aria-pressed', String(reacted))
    row.append(b)
  }
  return row
}

/** The "⋯" toggle and the menu it opens (below the message, so it fits a phone's width). */
function menu(m: Message, me: string, actions: MessageActions, body: HTMLElement): HTMLButtonElement {
  const panel = document.createElement('div')
  panel.className = 'menu'
  panel.dataset.testid = 'menu'
  panel.hidden = true
  const close = (run: () => void) => () => {
    panel.hidden = true
    run()
  }
  panel.append(
    button(
      t('reply'),
      'menu-reply',
      close(() => actions.reply(m)),
    ),
  )
  if (m.user_id === me)
    panel.append(
      button(
        t('edit'),
        'menu-edit',
        close(() => actions.edit(m)),
      ),
      button(
        t('unsend'),
        'menu-unsend',
        close(() => actions.unsend(m)),
      ),
    )
  for (const action of m.user_id === me ? [] : actions.moderate(m)) {
    const testid = `menu-${action.kind}`
    const { question, run } = action
    panel.append(button(action.label, testid, question ? () => askFirst(panel, question, action.label, testid, close(run)) : close(run)))
  }
  for (const emoji of QUICK_REACTIONS) {
    // Reactors are named for the first ten only: past them, a second tap adds again (which changes nothing).
    const reacted = m.reactions.some((r) => r.emoji === emoji && r.user_ids.includes(me))
    panel.append(
      button(
        emoji,
        'menu-react',
        close(() => actions.react(m, emoji, !reacted)),
      ),
    )
  }
  body.append(panel)
  const toggle = button('⋯', 'message-menu', () => {
    const open = panel.hidden
    for (const other of document.querySelectorAll<HTMLElement>('#messages .menu')) other.hidden = true
    panel.hidden = !open
  })
  toggle.className = 'menu-toggle'
  toggle.setAttribute('aria-label', t('messageMenu'))
  return toggle
}
