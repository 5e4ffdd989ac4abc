// The test page's DOM helpers: every string that comes from a user goes in as text, never HTML.

import type { Member, Message, PendingMessage, RoomSummary } from '../../client/src/index.ts'
import { t } from './labels.ts'

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

/** Shows an error above the composer (the three newest). */
export function showError(text: string) {
  const p = document.createElement('p')
  p.textContent = text
  const box = $('errors')
  box.append(p)
  while (box.childElementCount > 3) box.firstElementChild?.remove()
}

/** Whose picture and initial a row shows. */
type Sender = Pick<Message, 'nickname' | 'profile_picture_url'>

/** The sender's picture, or their initial when there is none or it does not load. */
export function avatar(m: Sender): HTMLElement {
  const url = m.profile_picture_url
  if (url && (url.startsWith('/') || /^https?:\/\//i.test(url))) {
    const img = document.createElement('img')
    img.className = 'avatar'
    img.alt = ''
    img.src = url
    img.addEventListener('error', () => img.replaceWith(initials(m)), { once: true })
    return img
  }
  return initials(m)
}
function initials(m: Sender): HTMLElement {
  const span = document.createElement('span')
  span.className = 'avatar'
  span.textContent = [...m.nickname][0]?.toUpperCase() ?? '?'
  return span
}

/** A message's name line (the name, then `after`) and text: the body holding both, its `meta` and `text`. */
export function messageBody(nickname: string, after: string, message: string): { body: HTMLDivElement; meta: HTMLDivElement; text: HTMLDivElement } {
  const body = document.createElement('div')
  body.className = 'body'
  const meta = document.createElement('div')
  meta.className = 'meta'
  const who = document.createElement('strong')
  who.textContent = nickname
  meta.append(who, after)
  const text = document.createElement('div')
  text.className = 'text'
  text.textContent = message
  body.append(meta, text)
  return { body, meta, text }
}

/**
 * A message the server has not acknowledged yet, as a list item: shown apart (`pending`, and not
 * a `message`) until the server stores it and the stored message takes its place.
 */
export function pendingItem(p: PendingMessage, sender: Sender, quote: HTMLElement | null): HTMLLIElement {
  const li = document.createElement('li')
  li.className = 'pending'
  li.dataset.testid = 'pending'
  li.dataset.clientMsgId = p.client_msg_id
  const { body, text } = messageBody(sender.nickname, t('sending'), p.message)
  if (quote) body.insertBefore(quote, text)
  li.append(avatar(sender), body)
  return li
}

/** A room of the list: id, name (direct rooms usually have none), post, kind, members, who is online, and whether its deal is closed. */
export function roomItem(r: RoomSummary): HTMLLIElement {
  const li = document.createElement('li')
  li.dataset.id = String(r.id)
  li.dataset.kind = r.kind
  li.dataset.status = r.status
  const name = r.name || (r.kind === 'direct' ? t('directRoomName') : '')
  const parts = [`#${r.id} ${name}${r.post_id === null ? '' : ` (${t('aboutPost', r.post_id)})`}`, t(r.kind)]
  if (r.member_count !== null) parts.push(t('memberCount', r.member_count))
  parts.push(t('onlineCount', r.online_count))
  if (r.status === 'archived') parts.push(t('sold'))
  li.textContent = parts.join(' · ')
  return li
}

/** A small button that runs `run`. */
function smallButton(label: string, testid: string, run: () => void): HTMLButtonElement {
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'small'
  button.dataset.testid = testid
  button.textContent = label
  button.addEventListener('click', run)
  return button
}

/**
 * Asks before `run` (the page opens no dialogs): `question` at the end of `box`, with a button
 * saying `yes` (`<testid>-confirm`) and 취소 (`<testid>-cancel`); one question per box at a time.
 */
export function askFirst(box: HTMLElement, question: string, yes: string, testid: string, run: () => void) {
  box.querySelector(':scope > .confirm')?.remove()
  const confirm = document.createElement('div')
  confirm.className = 'confirm'
  confirm.dataset.testid = `${testid}-question`
  const text = document.createElement('span')
  text.textContent = question
  confirm.append(
    text,
    smallButton(yes, `${testid}-confirm`, () => {
      confirm.remove()
      run()
    }),
    smallButton(t('cancel'), `${testid}-cancel`, () => confirm.remove()),
  )
  box.append(confirm)
  // Below a message's menu it may fall past the list's bottom edge.
  confirm.scrollIntoView({ block: 'nearest' })
}

/** A button a member row offers (remove, leave, block, and a moderator's mute and ban); with a `question`, asked first. */
export interface MemberAction {
  label: string
  testid: string
  question?: string
  run: () => void
}

/** A member as a list item: nickname (the user id when the server never saw one), role (and a mute), actions. */
export function memberItem(m: Member, mine: boolean, actions: MemberAction[], muted = false): HTMLLIElement {
  const li = document.createElement('li')
  li.className = mine ? 'member mine' : 'member'
  li.dataset.userId = m.user_id
  li.dataset.role = m.role
  li.title = m.user_id
  const who = document.createElement('span')
  who.className = 'who'
  who.textContent = m.nickname ?? m.user_id
  const role = document.createElement('span')
  role.className = 'role'
  role.textContent = mine ? t('roleAndYou', t(m.role)) : t(m.role)
  li.append(who, role)
  if (muted) {
    const badge = document.createElement('span')
    badge.className = 'muted-badge'
    badge.dataset.testid = 'member-muted'
    badge.textContent = t('mutedMember')
    li.append(badge)
  }
  for (const action of actions) {
    const { label, testid, question, run } = action
    li.append(smallButton(label, testid, question ? () => askFirst(li, question, label, testid, run) : run))
  }
  return li
}
