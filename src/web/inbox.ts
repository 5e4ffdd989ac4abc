// The test page's inbox panel: the user's rooms with live unread counts, kept by the client
// library's inbox stream (`WS /ws/chat/inbox/` on top of `GET /chat/v1/inbox/`). Each room's menu
// hides it (숨기기: until a newer message) or, for a direct room, leaves it (나가기, once confirmed);
// either way its entry goes at once.
import type { ChatClient, ConnectionState, InboxRoom, InboxStream } from '../../client/src/index.ts'
import { $ } from './dom.ts'
import { labelled, onLanguageChange, t } from './labels.ts'

export interface InboxDeps {
  client: ChatClient
  /** Why the page has no user yet ("Who you are" is incomplete), or null when it has one. */
  missingUser: () => string | null
  /** The user picked a room. */
  pick: (roomId: number) => void
  error: (text: string) => void
}

const SHOWN = { connecting: 'connecting', open: 'connected', reconnecting: 'reconnecting', closed: 'inboxOff' } as const satisfies Record<ConnectionState, string>

/** What a room's last message shows: its text, or what it carries when it has none (사진, 파일), or that it was unsent. */
function preview(message: NonNullable<InboxRoom['last_message']>): string {
  if (message.deleted) return t('unsent')
  if (message.message !== '') return message.message
  const photos = message.attachments.filter((a) => a.kind === 'image').length
  if (photos === message.attachments.length && photos > 0) return photos === 1 ? t('photo') : t('photos', photos)
  return message.attachments.length > 0 ? t('files', message.attachments.length) : ''
}

/** A room as the list names it: the other member of a direct room, else its name; the post's title after. */
function roomTitle(room: InboxRoom): string {
  const name = room.kind === 'direct' && room.peer ? (room.peer.nickname ?? room.peer.user_id) : room.name || t(room.kind)
  const post = typeof room.data?.title === 'string' && room.data.title ? ` (${room.data.title})` : ''
  return `#${room.id} ${name}${post}`
}

/** What the user may do with a room from the list. */
interface EntryActions {
  pick: (roomId: number) => void
  hide: (roomId: number) => void
  leave: (roomId: number) => void
}

function button(key: 'hide' | 'leave' | 'cancel', testid: string, run: () => void): HTMLButtonElement {
  const b = labelled(document.createElement('button'), key)
  b.type = 'button'
  b.className = 'small'
  b.dataset.testid = testid
  b.addEventListener('click', run)
  return b
}

function inboxItem(room: InboxRoom, actions: EntryActions): HTMLLIElement {
  const li = document.createElement('li')
  li.dataset.id = String(room.id)
  li.dataset.testid = 'inbox-room'
  li.dataset.status = room.status
  const name = document.createElement('span')
  name.className = 'who'
  name.textContent = `${roomTitle(room)}${room.last_message ? ` · ${preview(room.last_message)}` : ''}`
  const badge = document.createElement('span')
  badge.className = 'badge'
  badge.dataset.testid = 'inbox-unread'
  badge.textContent = String(room.unread_count)
  badge.hidden = room.unread_count === 0
  // The menu: 숨기기, and in a direct room 나가기, which asks first (the other member is told, and the room closes).
  const menu = document.createElement('div')
  menu.className = 'inbox-menu'
  menu.dataset.testid = 'inbox-actions'
  menu.hidden = true
  const confirm = document.createElement('div')
  confirm.className = 'inbox-confirm'
  confirm.dataset.testid = 'inbox-leave-question'
  confirm.hidden = true
  const question = labelled(document.createElement('span'), 'leaveQuestion')
  confirm.append(
    question,
    button('leave', 'inbox-leave-confirm', () => actions.leave(room.id)),
    button('cancel', 'inbox-leave-cancel', () => {
      confirm.hidden = true
      menu.hidden = false
    }),
  )
  menu.append(button('hide', 'inbox-hide', () => actions.hide(room.id)))
  if (room.kind === 'direct')
    menu.append(
      button('leave', 'inbox-leave', () => {
        menu.hidden = true
        confirm.hidden = false
      }),
    )
  const toggle = document.createElement('button')
  toggle.type = 'button'
  toggle.className = 'menu-toggle'
  toggle.dataset.testid = 'inbox-menu'
  toggle.setAttribute('aria-label', room.kind === 'direct' ? `${t('hide')} / ${t('leave')}` : t('hide'))
  toggle.textContent = '⋯'
  toggle.addEventListener('click', () => {
    const open = menu.hidden && confirm.hidden
    menu.hidden = !open
    confirm.hidden = true
  })
  // Only a tap on the room itself opens it; its menu's buttons do what they say.
  for (const part of [toggle, menu, confirm]) part.addEventListener('click', (event) => event.stopPropagation())
  li.append(name, badge, toggle, menu, confirm)
  li.addEventListener('click', () => actions.pick(room.id))
  return li
}

/** Follows the inbox while toggled on. */
export function createInbox({ client, missingUser, pick, error }: InboxDeps) {
  let stream: InboxStream | null = null
  let state: keyof typeof SHOWN | 'live' = 'closed'
  let rooms: readonly InboxRoom[] = []
  /** Rooms being hidden or left: their entries are gone already, whatever the list says until the server answers. */
  const going = new Set<number>()

  function setState(next: typeof state) {
    state = next
    $('inbox-state').textContent = t(next === 'live' ? 'inboxLive' : SHOWN[next])
    $<HTMLButtonElement>('inbox-open').textContent = t(stream ? 'stopInbox' : 'followInbox')
  }

  function render() {
    const shown = rooms.filter((room) => !going.has(room.id))
    $('inbox').replaceChildren(...shown.map((room) => inboxItem(room, { pick, hide: (id) => remove(id, false), leave: (id) => remove(id, true) })))
    const total = shown.reduce((sum, room) => sum + room.unread_count, 0)
    const badge = $('inbox-total')
    badge.textContent = String(total)
    badge.hidden = total === 0
  }

  /** Hides a room (`leave`: leaves it): its entry goes now, and comes back if the server refuses. */
  function remove(roomId: number, leave: boolean) {
    const current = stream
    if (!current) return
    going.add(roomId)
    render()
    ;(leave ? current.leave(roomId) : current.hide(roomId)).then(
      () => going.delete(roomId),
      (e: unknown) => {
        going.delete(roomId)
        if (current !== stream) return
        error(t(leave ? 'couldNotLeaveChat' : 'couldNotHide', e instanceof Error ? e.message : String(e)))
        render()
      },
    )
  }

  function stop() {
    const current = stream
    stream = null
    current?.close()
    rooms = []
    render()
    setState('closed')
  }

  function start() {
    const missing = missingUser()
    if (missing) return error(t('cannotFollowInbox', missing))
    const current = client.inbox()
    stream = current
    const live = () => current === stream
    current.on('state', (next) => live() && setState(next))
    // The stream is live; the inbox is fetched again (events may have been missed while away).
    current.on('ready', () => live() && setState('live'))
    current.on('rooms', (next) => {
      if (!live()) return
      rooms = next
      render()
    })
    current.on('error', (e) => live() && error(t('inboxError', e.message)))
    current.on('stopped', (info) => {
      if (!live()) return
      error(t('inboxStopped', info.message))
      stop()
    })
    setState(current.state)
  }

  onLanguageChange(() => {
    setState(state)
    render()
  })
  setState('closed')

  return {
    toggle() {
      if (stream) stop()
      else start()
    },
  }
}
