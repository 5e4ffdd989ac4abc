import { checkCopies, checkVersionOrder } from './change-checks.ts'
import type { ConnectionRecord, History, ReceivedFrame, StoredMessage, Violation } from './history.ts'
import { checkPresence, checkPresenceEvents } from './presence-checks.ts'

/** What the checker looked at, for the summary. */
export interface CheckStats {
  connections: number
  framesChecked: number
  messagesChecked: number
  acks: number
  stored: number
  /** Tabs' copies compared with the server's history, and the messages in them. */
  copies: number
  copiedMessages: number
}

/** Error codes a client is told to retry after; anything else is a violation with this workload. */
const RETRYABLE_ERRORS = new Set(['store_failed', 'unavailable'])
/**
 * Refusals a change of this workload may meet by a race it cannot see: the message was unsent
 * (by its author, maybe in another tab) before the edit, unsend or reaction reached the server.
 */
const CHANGE_REFUSALS = new Set(['deleted'])
/** Close codes this workload must never see (it sends slowly and small). */
const POLICY_CLOSES = new Set([1008, 1009])
/**
 * A live message reaching a connection this long after it first reached any client means that
 * instance's delivery stalled: every fault here heals within about 8 s, and an instance notices a
 * broken Redis subscription within 3.5 s.
 */
const LATE_DELIVERY_MS = 25_000
/** A replay (since_version=) that has not ended this long after the upgrade is stuck (the client gives up at 30 s). */
const STUCK_RECOVERY_MS = 25_000

const key = (room: number, userId: string, cmid: string) => `${room}\u0000${userId}\u0000${cmid}`

/** A message stored this long after a connection opened is one the connection must get live. */
const NEW_AFTER_OPEN_MS = 2000

/** At the end nothing is sent or polled: more Postgres transactions than this a second means something spins. */
export const IDLE_TRANSACTIONS_LIMIT = 20

/** Lists ids compactly for a violation's detail ("12, 13, 15 … (40 in all)"). */
function listIds(ids: readonly number[], max = 12): string {
  return ids.length <= max ? ids.join(', ') : `${ids.slice(0, max).join(', ')} … (${ids.length} in all)`
}

/**
 * Judges a chaos run's whole history against the guarantees (see README, "Chaos"). A pure function:
 * the same history always gives the same violations.
 */
export function checkHistory(history: History): { violations: Violation[]; stats: CheckStats } {
  const violations: Violation[] = []
  const storedById = new Map<number, StoredMessage>()
  const storedByRoom = new Map<number, number[]>()
  for (const message of history.stored) {
    storedById.set(message.id, message)
    const ids = storedByRoom.get(message.room) ?? []
    ids.push(message.id)
    storedByRoom.set(message.room, ids)
  }
  for (const ids of storedByRoom.values()) ids.sort((a, b) => a - b)

  checkStorage(history, violations)
  let framesChecked = 0
  // When each message first reached any client: live delivery is judged against it.
  const firstSeen = new Map<number, number>()
  for (const c of history.connections) for (const f of c.frames) if (f.type === 'chat.message' && f.id !== undefined && !(f.at >= (firstSeen.get(f.id) ?? Infinity))) firstSeen.set(f.id, f.at)
  const reported = new Set<number>()
  for (const connection of history.connections) {
    framesChecked += checkConnection(connection, storedById, storedByRoom.get(connection.room) ?? [], firstSeen, violations, reported)
  }
  checkTabs(history, storedById, storedByRoom, reported, violations)
  const copied = checkCopies(history, violations)
  checkPresence(history, violations)
  checkPresenceEvents(history, violations)
  for (const exit of history.exits) {
    if (!exit.expected) violations.push({ kind: 'unexpected_exit', at: exit.at, instance: exit.instance, detail: `instance ${exit.instance} exited with code ${exit.code} without being told to` })
  }
  for (const heal of history.healed) {
    if (!heal.ready) violations.push({ kind: 'not_healed', instance: heal.instance, detail: `instance ${heal.instance} did not answer /readyz 200 within ${heal.waitedMs} ms after the faults stopped` })
  }
  const idle = history.idleTransactionsPerSecond
  if (idle !== undefined && idle > IDLE_TRANSACTIONS_LIMIT) {
    const top = history.idleQueries?.[0]
    const what = top ? `; most seen on instance ${top.instance ?? '?'}: ${top.query.replace(/\s+/g, ' ').slice(0, 300)} (${top.count} samples)` : ''
    violations.push({
      kind: 'busy_database',
      detail: `Postgres ran ${idle.toFixed(0)} transactions a second at the end with no client sending or polling (more than ${IDLE_TRANSACTIONS_LIMIT}): an instance keeps querying${what}`,
    })
  }
  for (const attempt of history.rest) {
    if (attempt.status === 0 || attempt.status === 200 || attempt.status === 201 || attempt.status === 503 || attempt.status === 429) continue
    violations.push({ kind: 'rest_error', at: attempt.at, instance: attempt.instance, detail: `POST /chat/v1/message/ (${attempt.cmid}) answered ${attempt.status}${attempt.code ? ` ${attempt.code}` : ''}` })
  }
  for (const attempt of history.restChanges ?? []) {
    if ([0, 200, 204, 503, 429].includes(attempt.status) || (attempt.code !== undefined && CHANGE_REFUSALS.has(attempt.code))) continue
    violations.push({
      kind: 'rest_error',
      at: attempt.at,
      instance: attempt.instance,
      conn: attempt.tab,
      detail: `${attempt.op} of message ${attempt.id} by ${attempt.tab} answered ${attempt.status}${attempt.code ? ` ${attempt.code}` : ''}`,
    })
  }
  return {
    violations,
    stats: {
      connections: history.connections.length,
      framesChecked,
      messagesChecked: history.stored.length,
      acks: new Set(history.acks.map((a) => key(a.room, a.userId, a.cmid))).size,
      stored: history.stored.length,
      ...copied,
    },
  }
}

/** 1. Every acknowledged message stored exactly once, under the id it was acknowledged with. */
function checkStorage(history: History, violations: Violation[]) {
  const byKey = new Map<string, StoredMessage[]>()
  for (const message of history.stored) {
    if (message.client_msg_id === null) continue
    const k = key(message.room, message.user_id, message.client_msg_id)
    byKey.set(k, [...(byKey.get(k) ?? []), message])
  }
  for (const copies of byKey.values()) {
    if (copies.length < 2) continue
    const first = copies[0]!
    violations.push({ kind: 'duplicate_store', at: first.at, room: first.room, user: first.user_id, detail: `client_msg_id ${first.client_msg_id} stored ${copies.length} times: ids ${copies.map((m) => m.id).join(', ')}` })
  }
  const judged = new Set<string>()
  for (const ack of history.acks) {
    const k = key(ack.room, ack.userId, ack.cmid)
    if (judged.has(`${k}\u0000${ack.id}`)) continue
    judged.add(`${k}\u0000${ack.id}`)
    const copies = byKey.get(k)
    if (!copies) {
      violations.push({ kind: 'lost_ack', at: ack.at, room: ack.room, user: ack.userId, detail: `${ack.cmid} was acknowledged over ${ack.via} as id ${ack.id} but is not in the room's history` })
    } else if (!copies.some((m) => m.id === ack.id)) {
      violations.push({ kind: 'ack_mismatch', at: ack.at, room: ack.room, user: ack.userId, detail: `${ack.cmid} was acknowledged over ${ack.via} as id ${ack.id} but is stored as id ${copies.map((m) => m.id).join(', ')}` })
    }
  }
  for (const send of history.unacked) {
    violations.push({
      kind: 'unacked_after_heal',
      at: send.firstAt,
      room: send.room,
      user: send.userId,
      detail: `${send.cmid} (${send.via}) still unacknowledged after ${send.attempts} attempts, although every instance was ready again`,
    })
  }
}

/** The connection asked for a replay (since_version=, or since= in histories from before it). */
const replays = (connection: ConnectionRecord) => connection.since !== null || (connection.sinceVersion ?? null) !== null

/**
 * The frames in the order the id checks read them: a since_version= replay sends new messages in
 * the order of their latest change, so its chat.message frames (before chat.recovered) are read in
 * id order, each in the place one of them had.
 */
function inIdOrder(connection: ConnectionRecord): ReceivedFrame[] {
  if (!replays(connection)) return connection.frames
  const frames = [...connection.frames]
  const end = frames.findIndex((f) => f.type === 'chat.recovered')
  const replay = end === -1 ? frames.length : end
  const places = frames.flatMap((f, i) => (i < replay && f.type === 'chat.message' ? [i] : []))
  const sorted = places.map((i) => frames[i]!).sort((a, b) => (a.id ?? 0) - (b.id ?? 0))
  places.forEach((place, k) => {
    frames[place] = sorted[k]!
  })
  return frames
}

/**
 * 2. One connection: ascending ids, no duplicate, nothing that is not stored, and no gap within
 * a range. A range starts at `since` (or at the first message, without since), restarts at a
 * truncated recovery, and ends at the last message received, or, for a connection still open at
 * the end, at the room's last stored message. Returns the frames looked at.
 */
function checkConnection(connection: ConnectionRecord, storedById: Map<number, StoredMessage>, roomIds: readonly number[], firstSeen: Map<number, number>, violations: Violation[], reported: Set<number>): number {
  const where = { room: connection.room, user: connection.userId, conn: connection.conn, instance: connection.instance }
  // The client_msg_ids this connection sent, with how often: a send of one already stored is
  // answered to this socket alone with the stored message, outside the room's ordered stream.
  const sends = new Map<string, number>()
  for (const { cmid } of connection.sent) sends.set(cmid, (sends.get(cmid) ?? 0) + 1)
  const copies = new Map<number, number>()

  const floor = connection.since ?? Number.NEGATIVE_INFINITY
  const seen = new Set<number>()
  let max = Number.NEGATIVE_INFINITY
  /** The current range: stored ids above `after` up to its end must all be here. */
  let range: { after: number; ids: number[] } | null = connection.since === null ? null : { after: connection.since, ids: [] }
  const replayed: number[] = []
  /** Received, though not in order: not missing. */
  const covered = new Set<number>()
  let recovered = false
  let tardy: { count: number; worst: number; id: number; at: number } | null = null
  /** The server could not replay (chat.error before chat.recovered) and said so: no gap is owed past it. */
  let replayFailed = false

  if (connection.closeCode !== null && POLICY_CLOSES.has(connection.closeCode)) {
    violations.push({ kind: 'policy_close', at: connection.closedAt ?? undefined, ...where, detail: `closed with ${connection.closeCode} ${connection.closeReason ?? ''}`.trim() })
  }
  checkVersionOrder(connection, violations)
  const changes = connection.changes ?? []

  for (const frame of inIdOrder(connection)) {
    const refusedChange = frame.code !== undefined && CHANGE_REFUSALS.has(frame.code) && changes.some((c) => c.at <= frame.at)
    if (frame.type === 'chat.error' && frame.code && !RETRYABLE_ERRORS.has(frame.code) && !refusedChange) {
      violations.push({ kind: 'unexpected_error', at: frame.at, ...where, detail: `chat.error ${frame.code}` })
    }
    // The replay's own failure: store_failed before chat.recovered, with nothing sent before it.
    if (frame.type === 'chat.error' && frame.code === 'store_failed' && replays(connection) && !recovered && !connection.sent.some((s) => s.at <= frame.at)) replayFailed = true
    if (frame.type === 'chat.recovered') {
      recovered = true
      if (frame.truncated && replayed.length > 0 && range) {
        // More was missed than the server replays: what came before the replay is not owed here.
        // A since_version= replay has the messages of the newest changes, not of the newest ids: what it did not bring, up to its newest, is not owed.
        range.after = connection.sinceVersion == null ? replayed[0]! - 1 : Math.max(...replayed)
        range.ids = range.ids.filter((id) => id > range!.after)
      }
      continue
    }
    if (frame.type !== 'chat.message' || frame.id === undefined) continue
    const id = frame.id
    const stored = storedById.get(id)
    if (!stored || stored.room !== connection.room) {
      violations.push({ kind: 'phantom', at: frame.at, ...where, detail: `received message ${id}, which is not in room ${connection.room}'s history` })
      continue
    }
    if (stored.user_id !== frame.user_id || stored.client_msg_id !== (frame.client_msg_id ?? null)) {
      violations.push({ kind: 'frame_mismatch', at: frame.at, ...where, detail: `message ${id} arrived as ${frame.user_id}/${frame.client_msg_id} but is stored as ${stored.user_id}/${stored.client_msg_id}` })
    }
    const cmid = frame.client_msg_id
    if (frame.user_id === connection.userId && cmid && sends.has(cmid)) {
      // Own messages this connection sent: the answer to a send may come before the broadcast or
      // after it (at most one copy per send, plus the broadcast); not held to the order.
      const n = (copies.get(id) ?? 0) + 1
      copies.set(id, n)
      if (n > sends.get(cmid)! + 1) violations.push({ kind: 'duplicate_delivery', at: frame.at, ...where, detail: `received its own message ${id} ${n} times after sending it ${sends.get(cmid)} time(s)` })
      covered.add(id)
      continue
    }
    if (seen.has(id) || id <= floor || id < max) {
      const kind = seen.has(id) || id <= floor ? 'duplicate_delivery' : 'out_of_order'
      const why = seen.has(id)
        ? 'a second time'
        : id <= floor
          ? `although it connected holding message ${connection.since}${connection.sinceVersion == null ? '' : ` (since_version=${connection.sinceVersion})`}`
          : `after ${max}`
      violations.push({ kind, at: frame.at, ...where, detail: `received message ${id} ${why}` })
      // Late is not missing: it counts as received, so it is not reported as a gap as well.
      if (kind === 'out_of_order') covered.add(id)
      continue
    }
    seen.add(id)
    max = id
    const delay = frame.at - (firstSeen.get(id) ?? frame.at)
    if ((!replays(connection) || recovered) && delay > LATE_DELIVERY_MS) {
      tardy ??= { count: 0, worst: 0, id, at: frame.at }
      tardy.count++
      if (delay > tardy.worst) tardy = { count: tardy.count, worst: delay, id, at: frame.at }
    }
    if (!recovered && replays(connection)) replayed.push(id)
    if (replayFailed) continue
    if (!range) range = { after: id - 1, ids: [] }
    range.ids.push(id)
  }
  if (tardy) {
    violations.push({
      kind: 'late_delivery',
      at: tardy.at,
      ...where,
      detail: `${tardy.count} message(s) arrived live more than ${LATE_DELIVERY_MS / 1000} s after they first reached a client; worst ${tardy.id}, ${(tardy.worst / 1000).toFixed(1)} s late`,
    })
  }
  if (replays(connection) && connection.openedAt !== null && !recovered && !replayFailed) {
    const waited = connection.closedAt === null ? null : connection.closedAt - connection.openedAt
    if (waited === null || waited >= STUCK_RECOVERY_MS) {
      violations.push({
        kind: 'stuck_recovery',
        at: connection.openedAt,
        ...where,
        detail: `connected with ${connection.sinceVersion == null ? `since=${connection.since}` : `since_version=${connection.sinceVersion}`} and got no chat.recovered ${waited === null ? 'by the end of the run' : `in the ${(waited / 1000).toFixed(1)} s it was open`}`,
      })
    }
  }
  // A page load (no since=) that got nothing still owes what was stored well after it opened.
  if (!range && connection.since === null && connection.openedAt !== null && connection.closedAt === null) {
    const opened = connection.openedAt
    const owed = roomIds.filter((id) => (storedById.get(id)?.at ?? 0) > opened + NEW_AFTER_OPEN_MS && !covered.has(id))
    if (owed.length > 0) range = { after: owed[0]! - 1, ids: [] }
  }
  if (range) {
    const last = range.ids.at(-1) ?? range.after
    const end = connection.closedAt === null && !replayFailed ? Math.max(last, roomIds.at(-1) ?? last) : last
    const have = new Set(range.ids)
    const missing = roomIds.filter((id) => id > range!.after && id <= end && !have.has(id) && !covered.has(id))
    if (missing.length > 0) {
      for (const id of missing) reported.add(id)
      const tail = missing.every((id) => id > last)
      violations.push({
        kind: 'gap',
        at: storedById.get(missing[0]!)?.at,
        ...where,
        detail: `missed ${missing.length} stored message(s) ${tail ? `after ${last}, the last it received (open at the end)` : `between ${range.after} and ${end}`}: ${listIds(missing)}${connection.since !== null ? ` (holding ${connection.since}${connection.sinceVersion == null ? '' : `, since_version=${connection.sinceVersion}`})` : ''}`,
      })
    }
  }
  return connection.frames.length
}

/**
 * 2b. One tab over its connections since it was loaded: reconnecting with since_version=<its copy's version> must lose nothing,
 * so every stored message from the first the tab received to its last (or to the room's newest,
 * if it was still open at the end) reached it on some connection, except what a truncated
 * recovery skipped. Messages already reported as a connection's gap are not reported again.
 */
function checkTabs(history: History, storedById: Map<number, StoredMessage>, storedByRoom: Map<number, number[]>, reported: Set<number>, violations: Violation[]) {
  // A tab's run of connections, from a page load (no id floor: the room read again) to the next.
  const runs: [string, ConnectionRecord[]][] = []
  const current = new Map<string, ConnectionRecord[]>()
  for (const c of history.connections) {
    let run = current.get(c.tab)
    if (!run || c.since === null) {
      current.set(c.tab, (run = []))
      runs.push([c.tab, run])
    }
    run.push(c)
  }
  for (const [tab, connections] of runs) {
    const first = connections[0]!
    const received = new Set<number>()
    /** Received in the room's stream: not the answer to a send of this connection, which may be older than the connection. */
    const streamed: number[] = []
    const excused: [number, number][] = []
    for (const c of connections) {
      const ids: number[] = []
      const sent = new Set(c.sent.map((s) => s.cmid))
      for (const f of c.frames) {
        if (f.type === 'chat.message' && f.id !== undefined && storedById.get(f.id)?.room === c.room) {
          received.add(f.id)
          ids.push(f.id)
          if (!(f.user_id === c.userId && f.client_msg_id && sent.has(f.client_msg_id))) streamed.push(f.id)
        }
        if (f.type === 'chat.recovered' && f.truncated && c.since !== null && ids.length > 0) excused.push(c.sinceVersion == null ? [c.since, Math.min(...ids)] : [c.since, Math.max(...ids) + 1])
      }
    }
    if (streamed.length === 0) continue
    const start = Math.min(...streamed)
    const lastConnection = connections.at(-1)!
    const roomIds = storedByRoom.get(first.room) ?? []
    const end = lastConnection.closedAt === null && lastConnection.openedAt !== null ? (roomIds.at(-1) ?? start) : Math.max(...received)
    const missing = roomIds.filter((id) => id > start && id <= end && !received.has(id) && !reported.has(id) && !excused.some(([a, b]) => id > a && id < b))
    if (missing.length === 0) continue
    violations.push({
      kind: 'tab_gap',
      at: storedById.get(missing[0]!)?.at,
      room: first.room,
      user: first.userId,
      conn: tab,
      instance: lastConnection.instance,
      detail: `tab ${tab} never received ${missing.length} stored message(s) on any of its ${connections.length} connections (its reconnects moved past them): ${listIds(missing)}`,
    })
  }
}
