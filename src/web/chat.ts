// The chat test page: a small client of the REST API and the WebSocket protocol.
// Every string that comes from a user is rendered with textContent, never as HTML (dom.ts).
import { createInbox } from './inbox.ts'
import { $, memberItem, messageItem, roomItem, showError, type Member, type MemberAction, type Message, type RoomDetail, type RoomKind, type RoomSummary, type ServerFrame } from './dom.ts'

const fields = ['user_id', 'nickname', 'email', 'profile_url', 'room_id'] as const
const STORAGE_KEY = 'chat-gateway-test'
const PAGE = 50
/** The close code of a member removed from the room: the server will refuse them again, so no reconnect. */
const CLOSE_REMOVED = 4403

const list = $<HTMLOListElement>('messages')
const state = $<HTMLSpanElement>('state')
const composer = $<HTMLInputElement>('message')

let socket: WebSocket | null = null
let wanted = false // the user asked to be connected
let checking = false // the room is being asked whether it admits this user
let retry = 0
let retryTimer: ReturnType<typeof setTimeout> | undefined
let room = 0
let roomKind: RoomKind = 'open'
let lastId = 0 // newest message shown: reconnects ask for what came after it
let oldestId = 0 // oldest message shown: scrolling up pages before it
let historyDone = false
let loadingOlder = false
const shown = new Set<number>()
const typingUsers = new Map<string, { nickname: string; timer: ReturnType<typeof setTimeout> }>()
let lastTypingSent = 0
let members: Member[] = []
const blocked = new Set<string>() // users this user has blocked
let membersLoad = 0 // only the newest members request renders
let leaving = 0 // the room this user asked to leave: its 4403 close is their own doing
let markedId = 0 // the newest message this page has told the server it read
let markTimer: ReturnType<typeof setTimeout> | undefined

// ---- settings, remembered in localStorage ----
function loadSettings() {
  const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as Record<string, string>
  for (const f of fields) if (saved[f] !== undefined) $<HTMLInputElement>(f).value = saved[f]
}
function saveSettings() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(Object.fromEntries(fields.map((f) => [f, $<HTMLInputElement>(f).value.trim()]))))
}
const value = (f: (typeof fields)[number]) => $<HTMLInputElement>(f).value.trim()
const input = (id: string) => $<HTMLInputElement>(id).value.trim()

// ---- rendering ----
function setState(name: 'disconnected' | 'connecting' | 'connected' | 'reconnecting', detail = '') {
  state.className = `state state-${name}`
  state.textContent = detail ? `${name} ${detail}` : name
  const live = name === 'connected'
  composer.disabled = !live
  $<HTMLButtonElement>('send').disabled = !live
  $<HTMLButtonElement>('connect').disabled = wanted || checking
  $<HTMLButtonElement>('disconnect').disabled = !wanted
}

const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80

/** Appends live or replayed messages, in id order, skipping any already shown. */
function appendMessage(m: Message) {
  if (shown.has(m.id)) return
  const stick = nearBottom()
  shown.add(m.id)
  const item = messageItem(m, m.user_id === value('user_id'))
  list.append(item)
  renderUnreadBy(item)
  lastId = Math.max(lastId, m.id)
  if (!oldestId) oldestId = m.id
  if (stick) list.scrollTop = list.scrollHeight
}

/** Puts older history above what is shown, keeping the view where it was. */
function prependMessages(older: Message[]) {
  const before = list.scrollHeight
  const fresh = older.filter((m) => !shown.has(m.id))
  for (const m of fresh) shown.add(m.id)
  const items = fresh.map((m) => messageItem(m, m.user_id === value('user_id')))
  list.prepend(...items)
  for (const item of items) renderUnreadBy(item)
  if (fresh[0]) oldestId = fresh[0].id
  list.scrollTop += list.scrollHeight - before
}

function notice(text: string) {
  const li = document.createElement('li')
  li.className = 'notice'
  li.textContent = text
  list.append(li)
  if (nearBottom()) list.scrollTop = list.scrollHeight
}

function renderTyping() {
  const names = [...typingUsers.values()].map((u) => u.nickname)
  $('typing').textContent = names.length === 0 ? '' : `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`
}

/**
 * The "1" beside a message: how many of the room's other members have not read it yet (private
 * and direct rooms, from each member's read marker).
 */
function renderUnreadBy(item: HTMLElement) {
  const id = Number(item.dataset.id)
  const span = item.querySelector<HTMLElement>('.unread-by')
  if (!span) return
  const others = members.filter((m) => m.user_id !== item.dataset.user && m.user_id !== value('user_id'))
  const count = roomKind === 'open' ? 0 : others.filter((m) => m.last_read_id < id).length
  span.textContent = count > 0 ? String(count) : ''
}
const renderAllUnreadBy = () => list.querySelectorAll<HTMLElement>('li.message').forEach(renderUnreadBy)

/** Tells the server (soon, once for a burst) that this user has read what the page shows. */
function markRead() {
  clearTimeout(markTimer)
  markTimer = setTimeout(() => {
    if (lastId <= markedId || socket?.readyState !== WebSocket.OPEN || document.visibilityState === 'hidden') return
    markedId = lastId
    socket.send(JSON.stringify({ type: 'chat.read', last_read_id: lastId }))
  }, 300)
}

/** The members panel, for private and direct rooms: owners manage members, a direct room's pair block each other. */
function renderMembers() {
  const panel = $('members-panel')
  panel.hidden = room === 0 || roomKind === 'open'
  const me = value('user_id')
  const myRole = members.find((m) => m.user_id === me)?.role
  $('add-member').hidden = panel.hidden || roomKind !== 'private' || myRole !== 'owner'
  $('members').replaceChildren(...members.map((m) => memberItem(m, m.user_id === me, memberActions(m, me, myRole))))
}

function memberActions(m: Member, me: string, myRole: Member['role'] | undefined): MemberAction[] {
  if (roomKind === 'direct') {
    if (m.user_id === me) return []
    const isBlocked = blocked.has(m.user_id)
    return [{ label: isBlocked ? 'Unblock' : 'Block', testid: 'block-toggle', run: () => void setBlocked(m.user_id, !isBlocked) }]
  }
  if (m.user_id === me) return m.role === 'owner' ? [] : [{ label: 'Leave', testid: 'leave-room', run: () => void removeMember(m.user_id) }]
  return myRole === 'owner' ? [{ label: 'Remove', testid: 'remove-member', run: () => void removeMember(m.user_id) }] : []
}

// ---- REST ----
/** A refusal from the API, with its problem code. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message)
  }
}

/**
 * The identity headers a gateway would forward from a verified token, from the "Who you are"
 * fields (headers are Latin-1, so values are percent-encoded). A real gateway replaces them.
 */
function identityHeaders(): Record<string, string> {
  if (!value('user_id')) return {}
  const headers: Record<string, string> = {
    'x-user-id': encodeURIComponent(value('user_id')),
    'x-nickname': encodeURIComponent(value('nickname')),
    'x-email': encodeURIComponent(value('email')),
  }
  if (value('profile_url')) headers['x-profile-url'] = encodeURIComponent(value('profile_url'))
  return headers
}

/** Calls the API as the user in the fields; a JSON body when given; null for 204. */
async function api<T>(path: string, method = 'GET', body?: unknown): Promise<T> {
  const headers: Record<string, string> = identityHeaders()
  if (body !== undefined) headers['content-type'] = 'application/json'
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  if (res.status === 204) return null as T
  const answer = await res.json().catch(() => null)
  // Refusals are problem+json: `detail` says why, `code` says which.
  if (!res.ok) throw new ApiError(res.status, answer?.code, answer?.detail ?? `${res.status} ${res.statusText}`)
  return answer as T
}

const errorText = (e: unknown) => (e as Error).message

/** What to tell the user when a room refuses them. */
function refusalText(id: number, e: unknown): string {
  if (e instanceof ApiError && e.code === 'not_a_member') return `You are not a member of room ${id}: ${e.message}`
  return `Could not open room ${id}: ${errorText(e)}`
}

/** A post id as typed: omitted when empty, otherwise sent as it is for the server to judge. */
const postIdField = (id: string) => (input(id) ? { post_id: input(id) } : {})

function selectRoom(id: number) {
  $<HTMLInputElement>('room_id').value = String(id)
  saveSettings()
}

async function loadRooms() {
  try {
    const rooms = await api<RoomSummary[]>('/chat/v1/rooms/?limit=200')
    $('rooms').replaceChildren(
      ...rooms.map((r) => {
        const li = roomItem(r)
        li.addEventListener('click', () => selectRoom(r.id))
        return li
      }),
    )
  } catch (e) {
    showError(`Could not list rooms: ${errorText(e)}`)
  }
}

async function loadOlder() {
  if (loadingOlder || historyDone || !room || !oldestId) return
  loadingOlder = true
  try {
    const older = await api<Message[]>(`/chat/v1/room/${room}/messages/?limit=${PAGE}&before=${oldestId}`)
    if (older.length < PAGE) historyDone = true
    prependMessages(older)
  } catch (e) {
    showError(`Could not load older messages: ${errorText(e)}`)
  } finally {
    loadingOlder = false
  }
}

/** Loads the members (and, in a direct room, this user's blocks) of the current room. */
async function loadMembers() {
  if (room === 0 || roomKind === 'open') return renderMembers()
  const load = ++membersLoad
  const of = room
  try {
    const [found, blocks] = await Promise.all([
      api<Member[]>(`/chat/v1/room/${of}/members/`),
      roomKind === 'direct' ? api<{ user_id: string }[]>('/chat/v1/blocks/') : Promise.resolve(null),
    ])
    if (load !== membersLoad || of !== room) return
    members = found
    renderAllUnreadBy()
    if (blocks) {
      blocked.clear()
      for (const b of blocks) blocked.add(b.user_id)
    }
    renderMembers()
  } catch (e) {
    if (load === membersLoad) showError(`Could not list the members: ${errorText(e)}`)
  }
}

async function setBlocked(userId: string, block: boolean) {
  try {
    await api(`/chat/v1/blocks/${encodeURIComponent(userId)}/`, block ? 'PUT' : 'DELETE')
    if (block) blocked.add(userId)
    else blocked.delete(userId)
    renderMembers()
  } catch (e) {
    showError(`Could not ${block ? 'block' : 'unblock'} ${userId}: ${errorText(e)}`)
  }
}

async function removeMember(userId: string) {
  const of = room
  const self = userId === value('user_id')
  if (self) leaving = of
  try {
    await api(`/chat/v1/room/${of}/members/${encodeURIComponent(userId)}/`, 'DELETE')
  } catch (e) {
    if (self) leaving = 0
    return showError(`Could not remove ${userId}: ${errorText(e)}`)
  }
  // The socket's 4403 close may have ended the session before this answer came.
  if (of !== room) return
  if (self) return leftRoom('You left this room.')
  await loadMembers()
}

// ---- WebSocket ----
function socketUrl(): string {
  const query = new URLSearchParams({ user_id: value('user_id'), nickname: value('nickname'), email: value('email') })
  if (value('profile_url')) query.set('profile_url', value('profile_url'))
  if (lastId) query.set('since', String(lastId))
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/chat/${room}/chat/?${query}`
}

function onFrame(frame: ServerFrame) {
  switch (frame.type) {
    case 'chat.message':
      typingUsers.delete(frame.user_id)
      renderTyping()
      appendMessage(frame)
      return markRead()
    case 'chat.read': {
      const member = members.find((m) => m.user_id === frame.user_id)
      if (member && frame.last_read_id > member.last_read_id) {
        member.last_read_id = frame.last_read_id
        renderAllUnreadBy()
      }
      return
    }
    case 'chat.user.join':
      return notice(`${frame.username} joined`)
    case 'chat.user.leave':
      return notice(`${frame.username} left`)
    case 'chat.typing': {
      clearTimeout(typingUsers.get(frame.user_id)?.timer)
      const timer = setTimeout(() => (typingUsers.delete(frame.user_id), renderTyping()), 3000)
      typingUsers.set(frame.user_id, { nickname: frame.nickname, timer })
      return renderTyping()
    }
    case 'chat.member.added':
    case 'chat.member.removed':
      // This user's own removal is followed by a 4403 close, which ends the session.
      if (frame.type === 'chat.member.removed' && frame.user_id === value('user_id')) return
      return void loadMembers()
    case 'chat.error':
      return showError(`Server refused a frame (${frame.code}): ${frame.message}`)
    case 'chat.recovered':
      if (frame.truncated) showError('Many messages were missed; scroll up to load the rest.')
      return
  }
}

/** Ends the session for good: the room will not take this user back, so no reconnecting. */
function leftRoom(text: string) {
  wanted = false
  clearTimeout(retryTimer)
  const ws = socket
  socket = null
  ws?.close(1000, 'left')
  notice(text)
  room = leaving = 0
  members = []
  renderMembers()
  setState('disconnected')
}

/** Stops reconnecting and says why. */
function refuse(text: string) {
  wanted = false
  clearTimeout(retryTimer)
  showError(text)
  setState('disconnected')
}

function open() {
  clearTimeout(retryTimer)
  setState(retry ? 'reconnecting' : 'connecting')
  const ws = new WebSocket(socketUrl())
  socket = ws
  ws.addEventListener('open', () => {
    retry = 0
    markedId = 0
    setState('connected')
    markRead()
  })
  ws.addEventListener('message', (event) => onFrame(JSON.parse(String(event.data)) as ServerFrame))
  ws.addEventListener('close', (event) => {
    if (socket !== ws) return
    socket = null
    if (!wanted) return setState('disconnected')
    if (event.code === CLOSE_REMOVED) return leftRoom(leaving === room ? 'You left this room.' : 'You were removed from this room.')
    if (event.code === 1008) return refuse(`Closed by the server: ${event.reason || 'policy violation'}`)
    // Back off 0.5 s, 1 s, 2 s … up to 10 s, then reconnect with since= so nothing is missed.
    const delay = Math.min(10_000, 500 * 2 ** retry++)
    setState('reconnecting', `in ${Math.round(delay / 100) / 10} s`)
    retryTimer = setTimeout(() => void reopen(), delay)
  })
}

/**
 * Reconnects, first asking the room whether it still admits this user: a refused handshake (no
 * longer a member, no such room) reaches the browser only as a failed connection, and would
 * otherwise be retried forever. An unreachable server is retried as before.
 */
async function reopen() {
  const of = room
  try {
    await api(`/chat/v1/room/${of}/messages/?limit=1`)
  } catch (e) {
    if (!wanted || of !== room) return
    if (e instanceof ApiError && e.status >= 400 && e.status < 500 && e.status !== 408 && e.status !== 429) return refuse(refusalText(of, e))
  }
  if (wanted && socket === null && of === room) open()
}

async function connect() {
  saveSettings()
  const id = Number(value('room_id'))
  if (!Number.isInteger(id) || id < 1) return showError('Enter a room id (a positive number).')
  if (!value('user_id') || !value('nickname') || !value('email')) return showError('User id, nickname and email are required.')
  if (checking || wanted) return
  // The room answers as the socket's handshake would (403 for a non-member, 404 for no room),
  // but with a reason the page can show.
  checking = true
  setState('connecting')
  let detail: RoomDetail
  try {
    detail = await api<RoomDetail>(`/chat/v1/room/${id}/`)
  } catch (e) {
    checking = false
    return refuse(refusalText(id, e))
  }
  checking = false
  if (id !== room) {
    room = id
    lastId = oldestId = 0
    historyDone = detail.chat_messages.length < PAGE
    shown.clear()
    list.replaceChildren()
    members = []
    for (const m of detail.chat_messages) appendMessage(m)
    list.scrollTop = list.scrollHeight
  }
  roomKind = detail.kind
  renderMembers()
  void loadMembers()
  wanted = true
  retry = 0
  open()
}

function disconnect() {
  wanted = false
  clearTimeout(retryTimer)
  socket?.close(1000, 'bye')
  socket = null
  setState('disconnected')
}

// ---- wiring ----
const inbox = createInbox({
  api,
  identity: () => {
    if (!value('user_id') || !value('nickname') || !value('email')) return null
    const query = new URLSearchParams({ user_id: value('user_id'), nickname: value('nickname'), email: value('email') })
    if (value('profile_url')) query.set('profile_url', value('profile_url'))
    return query
  },
  pick: (id) => {
    selectRoom(id)
    if (id !== room || !wanted) {
      disconnect()
      void connect()
    }
  },
  error: showError,
})
$('inbox-open').addEventListener('click', () => {
  saveSettings()
  inbox.toggle()
})
document.addEventListener('visibilitychange', markRead)
$('connect').addEventListener('click', () => void connect())
$('disconnect').addEventListener('click', disconnect)
$('list-rooms').addEventListener('click', () => void loadRooms())
for (const f of fields) $(f).addEventListener('change', saveSettings)
list.addEventListener('scroll', () => {
  if (list.scrollTop < 40) void loadOlder()
})
$('composer').addEventListener('submit', (event) => {
  event.preventDefault()
  const text = composer.value
  if (!text.trim() || socket?.readyState !== WebSocket.OPEN) return
  socket.send(JSON.stringify({ type: 'chat.message', message: text, client_msg_id: crypto.randomUUID() }))
  composer.value = ''
})
composer.addEventListener('input', () => {
  const now = Date.now()
  if (now - lastTypingSent < 2000 || socket?.readyState !== WebSocket.OPEN) return
  lastTypingSent = now
  socket.send('{"type":"chat.typing"}')
})
$('room_kind').addEventListener('change', () => {
  $('room_members').hidden = $<HTMLSelectElement>('room_kind').value !== 'private'
})
$('create-room').addEventListener('submit', async (event) => {
  event.preventDefault()
  const kind = $<HTMLSelectElement>('room_kind').value
  const body: Record<string, unknown> = { name: input('room_name'), ...postIdField('post_id') }
  if (kind === 'private') {
    body.kind = kind
    body.members = input('room_members')
      .split(',')
      .map((id) => id.trim())
      .filter(Boolean)
  }
  try {
    const created = await api<RoomDetail>('/chat/v1/create-room/', 'POST', body)
    selectRoom(created.id)
    await loadRooms()
  } catch (e) {
    showError(`Could not create the room: ${errorText(e)}`)
  }
})
$('direct-room').addEventListener('submit', async (event) => {
  event.preventDefault()
  try {
    const opened = await api<RoomDetail>('/chat/v1/direct-room/', 'POST', { user_id: input('direct_user_id'), ...postIdField('direct_post_id') })
    selectRoom(opened.id)
    await loadRooms()
  } catch (e) {
    showError(`Could not open the direct room: ${errorText(e)}`)
  }
})
$('add-member').addEventListener('submit', async (event) => {
  event.preventDefault()
  const userId = input('add_member_user_id')
  try {
    await api(`/chat/v1/room/${room}/members/`, 'POST', { user_id: userId })
    $<HTMLInputElement>('add_member_user_id').value = ''
    await loadMembers()
  } catch (e) {
    showError(`Could not add ${userId}: ${errorText(e)}`)
  }
})

loadSettings()
setState('disconnected')
void loadRooms()
