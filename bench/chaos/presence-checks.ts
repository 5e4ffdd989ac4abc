import type { History, Violation } from './history.ts'

/** 3. Each room's online users, on every instance, are exactly the users with a socket open there. */
export function checkPresence(history: History, violations: Violation[]) {
  const expected = new Map(history.expectedOnline.map((e) => [e.room, new Map(e.users.map((u) => [u.user_id, u.nickname]))]))
  for (const look of history.presence) {
    const want = expected.get(look.room) ?? new Map<string, string>()
    const where = { at: look.at, room: look.room, instance: look.instance }
    if (look.online === null) {
      violations.push({ kind: 'presence_unreadable', ...where, detail: `room ${look.room}'s detail could not be read on instance ${look.instance}` })
      continue
    }
    const online = new Map(look.online.map((u) => [u.user_id, u.nickname]))
    // One violation per kind, room and instance, naming every user it concerns.
    const ghosts = [...online.keys()].filter((id) => !want.has(id))
    const missing = [...want.keys()].filter((id) => !online.has(id))
    const renamed = [...online].filter(([id, nickname]) => want.has(id) && want.get(id) !== nickname)
    const on = `in room ${look.room} on instance ${look.instance}`
    if (ghosts.length > 0) violations.push({ kind: 'ghost', ...where, user: ghosts.join(','), detail: `${ghosts.join(', ')} listed online ${on} with no socket open` })
    if (missing.length > 0) violations.push({ kind: 'missing_presence', ...where, user: missing.join(','), detail: `${missing.join(', ')} not listed online ${on} although a socket is open` })
    if (renamed.length > 0) {
      const shown = renamed.map(([id, nickname]) => `${id} as ${JSON.stringify(nickname)} (not ${JSON.stringify(want.get(id))})`)
      violations.push({ kind: 'presence_details', ...where, user: renamed.map(([id]) => id).join(','), detail: `listed ${on} with the wrong nickname: ${shown.join(', ')}` })
    }
  }
}

/**
 * 3b. Join and leave as the connections open at the end heard them. A user who left for good (no
 * socket at the end) must have been announced as gone to every connection of the room that was
 * open when their last socket closed; and no connection may have been told last that a user who
 * is online had left.
 */
export function checkPresenceEvents(history: History, violations: Violation[]) {
  const online = new Map(history.expectedOnline.map((e) => [e.room, new Set(e.users.map((u) => u.user_id))]))
  /** Per room and user: when their last socket closed (absent while one is still open). */
  const lastClose = new Map<string, number | null>()
  for (const c of history.connections) {
    if (c.openedAt === null) continue
    const k = `${c.room}\u0000${c.userId}`
    const previous = lastClose.get(k)
    if (c.closedAt === null || previous === null) lastClose.set(k, null)
    else lastClose.set(k, Math.max(previous ?? 0, c.closedAt))
  }
  for (const c of history.connections) {
    if (c.openedAt === null || c.closedAt !== null) continue
    const where = { room: c.room, conn: c.conn, instance: c.instance }
    const lastEvent = new Map<string, { type: string; at: number }>()
    for (const f of c.frames) if ((f.type === 'chat.user.join' || f.type === 'chat.user.leave') && f.user_id) lastEvent.set(f.user_id, { type: f.type, at: f.at })
    for (const [k, closedAt] of lastClose) {
      const [room, userId] = k.split('\u0000') as [string, string]
      if (Number(room) !== c.room || userId === c.userId) continue
      const heard = lastEvent.get(userId)
      if (online.get(c.room)?.has(userId)) {
        if (heard?.type === 'chat.user.leave') violations.push({ kind: 'stale_leave', at: heard.at, ...where, user: userId, detail: `was told at last that ${userId} left, but ${userId} is online at the end` })
      } else if (closedAt !== null && closedAt !== undefined && c.openedAt < closedAt && !(heard?.type === 'chat.user.leave' && heard.at >= closedAt)) {
        violations.push({
          kind: 'missed_leave',
          at: closedAt,
          ...where,
          user: userId,
          detail: `${userId}'s last socket closed at ${closedAt} and this connection, open since ${c.openedAt}, never heard chat.user.leave after it${heard ? ` (last heard ${heard.type})` : ''}`,
        })
      }
    }
  }
}
