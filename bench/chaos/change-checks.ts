import type { ConnectionRecord, History, MessageForm, RoomCopy, Violation } from './history.ts'

/** Frames that carry a change of the room, with the version it made. */
const CHANGE_FRAMES = new Set(['chat.message', 'chat.message.updated', 'chat.message.deleted', 'chat.reaction'])
/** The fields a copy must hold as the server does, in the order they are told. */
const FIELDS = ['user_id', 'message', 'deleted', 'edited_at', 'reactions', 'reply_to', 'version'] as const satisfies readonly (keyof MessageForm)[]
/** Differing messages described in full in one violation. */
const SHOWN = 3

/**
 * 2a. Live changes in the room's version order: after chat.recovered (which names the version the
 * replay brought the socket to) every change frame carries a higher version than the one before.
 * A version may be missing (a gap read back from the database gives each message once, in its
 * latest form); none may come twice or late. The answer to this connection's own send, which may
 * come before the broadcast or after it, is not held to the order. Stops at a failed replay (the
 * socket is closed then).
 */
export function checkVersionOrder(connection: ConnectionRecord, violations: Violation[]) {
  const sent = new Set(connection.sent.map((s) => s.cmid))
  let at: number | null = null
  let bad: { count: number; first: string; when: number } | null = null
  for (const frame of connection.frames) {
    if (frame.type === 'chat.error' && at === null) return
    if (frame.type === 'chat.recovered') {
      at = frame.version ?? null
      continue
    }
    if (at === null || frame.version === undefined || !CHANGE_FRAMES.has(frame.type)) continue
    // The answer to its own send may come before the broadcast or after it: it does not move the order.
    if (frame.type === 'chat.message' && frame.user_id === connection.userId && frame.client_msg_id && sent.has(frame.client_msg_id)) continue
    if (frame.version <= at) {
      bad ??= { count: 0, first: `${frame.type} of message ${frame.id} with version ${frame.version} after ${at}`, when: frame.at }
      bad.count++
    }
    at = Math.max(at, frame.version)
  }
  if (bad) {
    violations.push({
      kind: 'version_order',
      at: bad.when,
      room: connection.room,
      user: connection.userId,
      conn: connection.conn,
      instance: connection.instance,
      detail: `${bad.count} live change frame(s) not above the version before them; first: ${bad.first}${connection.sinceVersion == null ? '' : ` (since_version=${connection.sinceVersion})`}`,
    })
  }
}

/** A field's value, short: reactions as `👍×2 [u01,u02]`. */
function show(form: MessageForm, field: (typeof FIELDS)[number]): string {
  if (field === 'reactions') return form.reactions.length === 0 ? 'none' : form.reactions.map((r) => `${r.emoji}×${r.count} [${r.user_ids.join(',')}]`).join(' ')
  return JSON.stringify(form[field])
}

/** The fields where `mine` differs from the server's `theirs`, told both ways. */
function differences(mine: MessageForm, theirs: MessageForm): string[] {
  return FIELDS.filter((f) => JSON.stringify(mine[f]) !== JSON.stringify(theirs[f])).map((f) => `${f} ${show(mine, f)} here, ${show(theirs, f)} on the server`)
}

/** The last frame about message `id` the tab heard, on which connection: where to look first. */
function lastHeard(connections: readonly ConnectionRecord[], id: number): { at: number; text: string } | null {
  for (const c of [...connections].reverse()) {
    const frame = c.frames.findLast((f) => f.id === id && CHANGE_FRAMES.has(f.type))
    if (!frame) continue
    const reaction = frame.type === 'chat.reaction' && frame.emoji !== undefined ? ` (${frame.emoji} ${frame.added ? 'added' : 'taken back'} by ${frame.user_id})` : ''
    return { at: frame.at, text: `last heard of it on ${c.conn} (instance ${c.instance}) as ${frame.type}${reaction} version ${frame.version ?? '?'}` }
  }
  return null
}

/**
 * 2c. Every tab still in its room at the end holds the server's copy: each message of the room's
 * history, and no other, with the same text, unsent state, edit time, reactions, quote and
 * version. One violation per tab, naming what is missing, extra, and the first differences.
 */
export function checkCopies(history: History, violations: Violation[]): { copies: number; copiedMessages: number } {
  const copies: readonly RoomCopy[] = history.copies ?? []
  const server = new Map<number, Map<number, MessageForm>>()
  for (const m of history.stored) {
    if (!m.form) continue
    const room = server.get(m.room) ?? new Map<number, MessageForm>()
    room.set(m.id, m.form)
    server.set(m.room, room)
  }
  const roomVersion = new Map((history.roomVersions ?? []).map((r) => [r.room, r.version]))
  let copiedMessages = 0
  for (const copy of copies) {
    copiedMessages += copy.messages.length
    const theirs = server.get(copy.room) ?? new Map<number, MessageForm>()
    const mine = new Map(copy.messages.map((m) => [m.id, m]))
    const missing = [...theirs.keys()].filter((id) => !mine.has(id))
    const extra = [...mine.keys()].filter((id) => !theirs.has(id))
    const differing = [...mine].flatMap(([id, m]) => {
      const form = theirs.get(id)
      const found = form ? differences(m, form) : []
      return found.length > 0 ? [{ id, found }] : []
    })
    if (missing.length + extra.length + differing.length === 0) continue
    const connections = history.connections.filter((c) => c.tab === copy.tab)
    const first = differing[0]?.id ?? missing[0] ?? extra[0]!
    const heard = lastHeard(connections, first)
    const parts = [
      missing.length > 0 ? `missing ${missing.length} (${listSome(missing)})` : '',
      extra.length > 0 ? `${extra.length} not on the server (${listSome(extra)})` : '',
      differing.length > 0 ? `${differing.length} differing` : '',
    ].filter(Boolean)
    const shown = differing.slice(0, SHOWN).map((d) => `message ${d.id}: ${d.found.join('; ')}`)
    violations.push({
      kind: 'copy_mismatch',
      at: heard?.at,
      room: copy.room,
      user: copy.userId,
      conn: copy.tab,
      instance: connections.at(-1)?.instance,
      detail: `tab ${copy.tab}'s copy of room ${copy.room} (version ${copy.version}; the room's ${roomVersion.get(copy.room) ?? '?'}) is not the server's: ${parts.join(', ')}${shown.length > 0 ? `. ${shown.join('. ')}` : ''}${heard ? ` (message ${first}: ${heard.text})` : ''}`,
    })
  }
  return { copies: copies.length, copiedMessages }
}

function listSome(ids: readonly number[], max = 8): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')} …`
}
