// The test page's inbox panel: the user's rooms with live unread counts, kept by the client
// library's inbox stream (`WS /ws/chat/inbox/` on top of `GET /chat/v1/inbox/`).
import type { ChatClient, ConnectionState, InboxRoom, InboxStream } from '../../client/src/index.ts'
import { $ } from './dom.ts'

export interface InboxDeps {
  client: ChatClient
  /** Why the page has no user yet ("Who you are" is incomplete), or null when it has one. */
  missingUser: () => string | null
  /** The user picked a room. */
  pick: (roomId: number) => void
  error: (text: string) => void
}

const SHOWN: Record<ConnectionState, string> = { connecting: 'connecting', open: 'connected', reconnecting: 'reconnecting', closed: 'off' }

/** What a room's last message shows: its text, or what it carries when it has none (사진, 파일), or that it was unsent. */
function preview(message: NonNullable<InboxRoom['last_message']>): string {
  if (message.deleted) return '삭제된 메시지입니다.'
  if (message.message !== '') return message.message
  const photos = message.attachments.filter((a) => a.kind === 'image').length
  if (photos === message.attachments.length && photos > 0) return photos === 1 ? '사진' : `사진 ${photos}장`
  return message.attachments.length > 0 ? `파일 ${message.attachments.length}개` : ''
}

function inboxItem(room: InboxRoom, pick: (roomId: number) => void): HTMLLIElement {
  const li = document.createElement('li')
  li.dataset.id = String(room.id)
  li.dataset.testid = 'inbox-room'
  const name = document.createElement('span')
  name.className = 'who'
  name.textContent = `#${room.id} ${room.name || room.kind}${room.last_message ? ` · ${preview(room.last_message)}` : ''}`
  const badge = document.createElement('span')
  badge.className = 'badge'
  badge.dataset.testid = 'inbox-unread'
  badge.textContent = String(room.unread_count)
  badge.hidden = room.unread_count === 0
  li.append(name, badge)
  li.addEventListener('click', () => pick(room.id))
  return li
}

/** Follows the inbox while toggled on. */
export function createInbox({ client, missingUser, pick, error }: InboxDeps) {
  let stream: InboxStream | null = null

  function setState(text: string) {
    $('inbox-state').textContent = text
    $<HTMLButtonElement>('inbox-open').textContent = stream ? 'Stop' : 'Follow inbox'
  }

  function render(rooms: readonly InboxRoom[], total: number) {
    $('inbox').replaceChildren(...rooms.map((room) => inboxItem(room, pick)))
    const badge = $('inbox-total')
    badge.textContent = String(total)
    badge.hidden = total === 0
  }

  function stop() {
    const current = stream
    stream = null
    current?.close()
    render([], 0)
    setState('off')
  }

  function start() {
    const missing = missingUser()
    if (missing) return error(`Cannot follow the inbox: ${missing}`)
    const current = client.inbox()
    stream = current
    const live = () => current === stream
    current.on('state', (state) => live() && setState(SHOWN[state]))
    // The stream is live; the inbox is fetched again (events may have been missed while away).
    current.on('ready', () => live() && setState('live'))
    current.on('rooms', (rooms) => live() && render(rooms, current.unreadCount))
    current.on('error', (e) => live() && error(`Inbox: ${e.message}`))
    current.on('stopped', (info) => {
      if (!live()) return
      error(`The inbox stream stopped: ${info.message}`)
      stop()
    })
    setState(SHOWN[current.state])
  }

  return {
    toggle() {
      if (stream) stop()
      else start()
    },
  }
}
