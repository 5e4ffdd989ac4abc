// The chat test page: a small client of the REST API and the WebSocket protocol.
// Every string that comes from a user is rendered with textContent, never as HTML (dom.ts).
import { $, messageItem, showError, type Message, type ServerFrame } from './dom.ts'

const fields = ['user_id', 'nickname', 'email', 'profile_url', 'room_id'] as const
const STORAGE_KEY = 'chat-gateway-test'
const PAGE = 50

const list = $<HTMLOListElement>('messages')
const state = $<HTMLSpanElement>('state')
const composer = $<HTMLInputElement>('message')

let socket: WebSocket | null = null
let wanted = false // the user asked to be connected
let retry = 0
let retryTimer: ReturnType<typeof setTimeout> | undefined
let room = 0
let lastId = 0 // newest message shown: reconnects ask for what came after it
let oldestId = 0 // oldest message shown: scrolling up pages before it
let historyDone = false
let loadingOlder = false
const shown = new Set<number>()
const typingUsers = new Map<string, { nickname: string; timer: ReturnType<typeof setTimeout> }>()
let lastTypingSent = 0

// ---- settings, remembered in localStorage ----
function loadSettings() {
  const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as Record<string, string>
  for (const f of fields) if (saved[f] !== undefined) $<HTMLInputElement>(f).value = saved[f]
}
function saveSettings() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(Object.fromEntries(fields.map((f) => [f, $<HTMLInputElement>(f).value.trim()]))))
}
const value = (f: (typeof fields)[number]) => $<HTMLInputElement>(f).value.trim()

// ---- rendering ----
function setState(name: 'disconnected' | 'connecting' | 'connected' | 'reconnecting', detail = '') {
  state.className = `state state-${name}`
  state.textContent = detail ? `${name} ${detail}` : name
  const live = name === 'connected'
  composer.disabled = !live
  $<HTMLButtonElement>('send').disabled = !live
  $<HTMLButtonElement>('connect').disabled = wanted
  $<HTMLButtonElement>('disconnect').disabled = !wanted
}

const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80

/** Appends live or replayed messages, in id order, skipping any already shown. */
function appendMessage(m: Message) {
  if (shown.has(m.id)) return
  const stick = nearBottom()
  shown.add(m.id)
  list.append(messageItem(m, m.user_id === value('user_id')))
  lastId = Math.max(lastId, m.id)
  if (!oldestId) oldestId = m.id
  if (stick) list.scrollTop = list.scrollHeight
}

/** Puts older history above what is shown, keeping the view where it was. */
function prependMessages(older: Message[]) {
  const before = list.scrollHeight
  const fresh = older.filter((m) => !shown.has(m.id))
  for (const m of fresh) shown.add(m.id)
  list.prepend(...fresh.map((m) => messageItem(m, m.user_id === value('user_id'))))
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

// ---- REST ----
async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const res = await fetch(path, init)
  const body = await res.json().catch(() => null)
  if (!res.ok) throw new Error(body?.detail ?? `${res.status} ${res.statusText}`)
  return body as T
}

async function loadRooms() {
  try {
    const rooms = await api<{ id: number; name: string; post_id: number | null; online_count: number }[]>('/chat/v1/rooms/?limit=200')
    const ul = $('rooms')
    ul.replaceChildren(
      ...rooms.map((r) => {
        const li = document.createElement('li')
        li.textContent = `#${r.id} ${r.name}${r.post_id === null ? '' : ` (post ${r.post_id})`} · ${r.online_count} online`
        li.addEventListener('click', () => {
          $<HTMLInputElement>('room_id').value = String(r.id)
          saveSettings()
        })
        return li
      }),
    )
  } catch (e) {
    showError(`Could not list rooms: ${(e as Error).message}`)
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
    showError(`Could not load older messages: ${(e as Error).message}`)
  } finally {
    loadingOlder = false
  }
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
      return appendMessage(frame)
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
    case 'chat.error':
      return showError(`Server refused a frame (${frame.code}): ${frame.message}`)
    case 'chat.recovered':
      if (frame.truncated) showError('Many messages were missed; scroll up to load the rest.')
      return
  }
}

function open() {
  clearTimeout(retryTimer)
  setState(retry ? 'reconnecting' : 'connecting')
  const ws = new WebSocket(socketUrl())
  socket = ws
  ws.addEventListener('open', () => {
    retry = 0
    setState('connected')
  })
  ws.addEventListener('message', (event) => onFrame(JSON.parse(String(event.data)) as ServerFrame))
  ws.addEventListener('close', (event) => {
    if (socket !== ws) return
    socket = null
    if (!wanted) return setState('disconnected')
    if (event.code === 1008) {
      wanted = false
      showError(`Closed by the server: ${event.reason || 'policy violation'}`)
      return setState('disconnected')
    }
    // Back off 0.5 s, 1 s, 2 s … up to 10 s, then reconnect with since= so nothing is missed.
    const delay = Math.min(10_000, 500 * 2 ** retry++)
    setState('reconnecting', `in ${Math.round(delay / 100) / 10} s`)
    retryTimer = setTimeout(open, delay)
  })
}

async function connect() {
  saveSettings()
  const id = Number(value('room_id'))
  if (!Number.isInteger(id) || id < 1) return showError('Enter a room id (a positive number).')
  if (!value('user_id') || !value('nickname') || !value('email')) return showError('User id, nickname and email are required.')
  if (id !== room) {
    room = id
    lastId = oldestId = 0
    historyDone = false
    shown.clear()
    list.replaceChildren()
    try {
      const recent = await api<Message[]>(`/chat/v1/room/${room}/messages/?limit=${PAGE}`)
      if (recent.length < PAGE) historyDone = true
      for (const m of recent) appendMessage(m)
      list.scrollTop = list.scrollHeight
    } catch (e) {
      room = 0
      return showError(`Could not open room ${id}: ${(e as Error).message}`)
    }
  }
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
$('create-room').addEventListener('submit', async (event) => {
  event.preventDefault()
  const name = $<HTMLInputElement>('room_name').value.trim()
  const postId = $<HTMLInputElement>('post_id').value.trim()
  try {
    const created = await api<{ id: number }>('/chat/v1/create-room/', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(postId ? { name, post_id: Number(postId) } : { name }),
    })
    $<HTMLInputElement>('room_id').value = String(created.id)
    saveSettings()
    await loadRooms()
  } catch (e) {
    showError(`Could not create the room: ${(e as Error).message}`)
  }
})

loadSettings()
setState('disconnected')
void loadRooms()
