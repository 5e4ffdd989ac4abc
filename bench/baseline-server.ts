/**
 * The runtime's ceiling: a bare Bun.serve server that speaks the chat protocol (same URLs, same
 * frames, same REST shapes) with no storage, no validation and no framework. It keeps nothing
 * but an id counter. Prints `LISTENING <port>` once ready.
 *
 * With BARE_STORED=1 it is the floor of a chat that stores every message: each
 * message is inserted into a one-table SQLite database at DATABASE_PATH (WAL, synchronous NORMAL, an index by room,
 * as the chat server's pragmas), every message of one event-loop turn in one transaction, and
 * published once its transaction committed. Nothing else: no membership, positions or markers.
 */
import { Database } from 'bun:sqlite'

interface SocketData {
  room: string
  userId: string
  nickname: string
  email: string
}

let nextId = 1
const rooms = Array.from({ length: 20 }, (_, i) => ({
  id: i + 1,
  name: `bench ${i}`,
  post_id: null,
  chat_url: `127.0.0.1/ws/chat/${i + 1}/chat/`,
  created_at: new Date().toISOString(),
  online_count: 0,
}))

function messageJson(room: number, userId: string, email: string, nickname: string, text: string, clientMsgId: string | null, id = nextId++): string {
  return JSON.stringify({
    type: 'chat.message',
    message: text,
    sender: email,
    nickname,
    profile_picture_url: null,
    id,
    room,
    user_id: userId,
    created_at: new Date().toISOString(),
    client_msg_id: clientMsgId,
  })
}

/** Committed before published: the messages of one turn, inserted in one transaction (BARE_STORED). */
const storeMessages = (() => {
  const path = process.env.DATABASE_PATH
  if (process.env.BARE_STORED !== '1' || !path) return null
  const db = new Database(path, { create: true })
  db.run('PRAGMA journal_mode = WAL')
  db.run('PRAGMA synchronous = NORMAL')
  db.run('CREATE TABLE messages (id INTEGER PRIMARY KEY, room_id INTEGER NOT NULL, user_id TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL, client_msg_id TEXT)')
  db.run('CREATE INDEX messages_room_id_id ON messages (room_id, id)')
  const insert = db.prepare('INSERT INTO messages (room_id, user_id, body, created_at, client_msg_id) VALUES (?, ?, ?, ?, ?)')
  let queued: { room: number; userId: string; email: string; nickname: string; text: string; clientMsgId: string | null }[] = []
  const commit = db.transaction((batch: typeof queued) => batch.map((m) => Number(insert.run(m.room, m.userId, m.text, Date.now(), m.clientMsgId).lastInsertRowid)))
  return (m: (typeof queued)[number]) => {
    if (queued.length === 0)
      setImmediate(() => {
        const batch = queued
        queued = []
        const ids = commit(batch)
        for (const [i, m] of batch.entries()) server.publish(`room:${m.room}`, messageJson(m.room, m.userId, m.email, m.nickname, m.text, m.clientMsgId, ids[i]!))
      })
    queued.push(m)
  }
})()

const server = Bun.serve<SocketData>({
  port: Number(process.env.PORT ?? 0),
  hostname: '127.0.0.1',
  routes: {
    '/chat/v1/rooms/': () => Response.json(rooms),
    '/chat/v1/message/': {
      async POST(request: Request) {
        const body = (await request.json()) as { message: string; room: number }
        const h = request.headers
        const frame = messageJson(body.room, h.get('x-user-id') ?? '', h.get('x-email') ?? '', h.get('x-nickname') ?? '', body.message, null)
        server.publish(`room:${body.room}`, frame)
        return new Response(frame, { status: 201, headers: { 'content-type': 'application/json' } })
      },
    },
  },
  fetch(request, server) {
    const url = new URL(request.url)
    const match = /^\/ws\/chat\/(\d+)\/chat\/?$/.exec(url.pathname)
    if (!match) return new Response('not found', { status: 404 })
    const q = url.searchParams
    const data = { room: match[1]!, userId: q.get('user_id') ?? '', nickname: q.get('nickname') ?? '', email: q.get('email') ?? '' }
    return server.upgrade(request, { data }) ? undefined : new Response('upgrade failed', { status: 400 })
  },
  websocket: {
    perMessageDeflate: false,
    open(ws) {
      ws.subscribe(`room:${ws.data.room}`)
    },
    message(ws, raw) {
      const frame = JSON.parse(String(raw)) as { type: string; message: string; client_msg_id?: string }
      if (frame.type !== 'chat.message') return
      const { room, userId, email, nickname } = ws.data
      if (storeMessages) return storeMessages({ room: Number(room), userId, email, nickname, text: frame.message, clientMsgId: frame.client_msg_id ?? null })
      server.publish(`room:${room}`, messageJson(Number(room), userId, email, nickname, frame.message, frame.client_msg_id ?? null))
    },
  },
})
console.log(`LISTENING ${server.port}`)
