// The test page's inbox panel: the user's rooms with live unread counts, from the user stream
// (`WS /ws/chat/inbox/`) on top of `GET /chat/v1/inbox/`, as the AsyncAPI document says to.
import { $, type Message, type RoomSummary } from './dom.ts'

export interface InboxEntry extends RoomSummary {
  created_at: string
  last_message: Message | null
  unread_count: number
  last_read_id: number
}
type InboxFrame =
  | { type: 'inbox.ready'; unread: { total: number; rooms: number } }
  | { type: 'inbox.message'; room: number; message: Message; unread_count: number }
  | { type: 'inbox.read'; room: number; last_read_id: number; unread_count: number }
  | { type: 'inbox.room'; room: InboxEntry }
  | { type: 'inbox.removed'; room: number }
  | { type: 'chat.error'; code: string; message: string }

export interface InboxDeps {
  api: <T>(path: string) => Promise<T>
  /** The identity query of the "Who you are" fields; null while they are incomplete. */
  identity: () => URLSearchParams | null
  /** The user picked a room. */
  pick: (roomId: number) => void
  error: (text: string) => void
}

const activity = (e: InboxEntry) => Date.parse(e.last_message?.created_at ?? e.created_at)

/** Follows the inbox while `start`ed: reconnects with backoff, and fetches the inbox after each `inbox.ready`. */
export function createInbox({ api, identity, pick, error }: InboxDeps) {
  const entries = new Map<number, InboxEntry>()
  let socket: WebSocket | null = null
  let wanted = false
  let retry = 0
  let timer: ReturnType<typeof setTimeout> | undefined
  /** Frames that arrived while the inbox was being fetched: applied on top of it. */
  let early: InboxFrame[] | null = null

  function setState(text: string) {
    $('inbox-state').textContent = text
    $<HTMLButtonElement>('inbox-open').textContent = wanted ? 'Stop' : 'Follow inbox'
  }

  function render() {
    const sorted = [...entries.values()].sort((a, b) => activity(b) - activity(a) || b.id - a.id)
    let total = 0
    $('inbox').replaceChildren(
      ...sorted.map((e) => {
        total += e.unread_count
        const li = document.createElement('li')
        li.dataset.id = String(e.id)
        li.dataset.testid = 'inbox-room'
        const name = document.createElement('span')
        name.className = 'who'
        name.textContent = `#${e.id} ${e.name || e.kind}${e.last_message ? ` · ${e.last_message.message}` : ''}`
        const badge = document.createElement('span')
        badge.className = 'badge'
        badge.dataset.testid = 'inbox-unread'
        badge.textContent = String(e.unread_count)
        badge.hidden = e.unread_count === 0
        li.append(name, badge)
        li.addEventListener('click', () => pick(e.id))
        return li
      }),
    )
    const badge = $('inbox-total')
    badge.textContent = String(total)
    badge.hidden = total === 0
  }

  function apply(frame: InboxFrame) {
    if (frame.type === 'inbox.room') entries.set(frame.room.id, frame.room)
    else if (frame.type === 'inbox.removed') entries.delete(frame.room)
    else if (frame.type === 'inbox.message' || frame.type === 'inbox.read') {
      const entry = entries.get(frame.room)
      if (!entry) return
      if (frame.type === 'inbox.read') Object.assign(entry, { unread_count: frame.unread_count, last_read_id: frame.last_read_id })
      // A message the fetch already had changes nothing.
      else if (frame.message.id > (entry.last_message?.id ?? 0)) Object.assign(entry, { last_message: frame.message, unread_count: frame.unread_count })
    }
  }

  async function fetchInbox() {
    early = []
    try {
      const page = await api<{ rooms: InboxEntry[] }>('/chat/v1/inbox/?limit=50')
      entries.clear()
      for (const e of page.rooms) entries.set(e.id, e)
      for (const frame of early) apply(frame)
    } catch (e) {
      error(`Could not fetch the inbox: ${(e as Error).message}`)
    } finally {
      early = null
      render()
    }
  }

  function onFrame(frame: InboxFrame) {
    if (frame.type === 'inbox.ready') {
      setState('live')
      return void fetchInbox()
    }
    if (frame.type === 'chat.error') return error(`The inbox stream refused a frame: ${frame.message}`)
    if (early) early.push(frame)
    else {
      apply(frame)
      render()
    }
  }

  function open() {
    const query = identity()
    if (!query) {
      wanted = false
      setState('off')
      return error('User id, nickname and email are required to follow the inbox.')
    }
    setState(retry ? 'reconnecting' : 'connecting')
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/chat/inbox/?${query}`)
    socket = ws
    ws.addEventListener('open', () => (retry = 0))
    ws.addEventListener('message', (event) => onFrame(JSON.parse(String(event.data)) as InboxFrame))
    ws.addEventListener('close', (event) => {
      if (socket !== ws) return
      socket = null
      if (!wanted) return setState('off')
      if (event.code === 1008) {
        wanted = false
        setState('off')
        return error(`The inbox stream was closed: ${event.reason || 'policy violation'}`)
      }
      // Events may have been missed while closed: the next inbox.ready fetches the inbox again.
      const delay = Math.min(10_000, 500 * 2 ** retry++)
      setState(`reconnecting in ${Math.round(delay / 100) / 10} s`)
      timer = setTimeout(open, delay)
    })
  }

  return {
    toggle() {
      clearTimeout(timer)
      wanted = !wanted
      if (wanted) return open()
      const ws = socket
      socket = null
      ws?.close(1000, 'bye')
      entries.clear()
      render()
      setState('off')
    },
  }
}
