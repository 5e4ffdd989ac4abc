import { describe, expect, it } from 'bun:test'
import { checkHistory } from '../bench/chaos/checker.ts'
import type { ConnectionRecord, History, MessageForm, ReceivedFrame, StoredMessage } from '../bench/chaos/history.ts'

// Small synthetic histories: one room (7), users a and b, six stored messages.
const ROOM = 7
const stored: StoredMessage[] = [
  { id: 1, room: ROOM, user_id: 'a', client_msg_id: 'a-1', at: 1000 },
  { id: 2, room: ROOM, user_id: 'b', client_msg_id: 'b-1', at: 1001 },
  { id: 3, room: ROOM, user_id: 'a', client_msg_id: 'a-2', at: 1002 },
  { id: 4, room: ROOM, user_id: 'b', client_msg_id: 'b-2', at: 1003 },
  { id: 5, room: ROOM, user_id: 'a', client_msg_id: 'a-3', at: 1004 },
  { id: 6, room: ROOM, user_id: 'b', client_msg_id: null, at: 1005 },
]
const byId = new Map(stored.map((m) => [m.id, m]))
const message = (id: number, at = 2000 + id): ReceivedFrame => ({ at, type: 'chat.message', id, user_id: byId.get(id)!.user_id, client_msg_id: byId.get(id)!.client_msg_id })
const recovered = (truncated = false): ReceivedFrame => ({ at: 2100, type: 'chat.recovered', count: 0, truncated })
const leftC: ReceivedFrame = { at: 5600, type: 'chat.user.leave', user_id: 'c' }

function connection(conn: string, userId: string, frames: ReceivedFrame[], extra: Partial<ConnectionRecord> = {}): ConnectionRecord {
  return { conn, tab: conn.split('#')[0]!, userId, room: ROOM, instance: 0, since: null, startedAt: 1500, openedAt: 1501, closedAt: null, closeCode: null, sent: [], frames, ...extra }
}

/** A run where everything held: live delivery, a since= reconnect, a truncated one, and the answer to a retried send. */
function cleanHistory(): History {
  return {
    rooms: [ROOM],
    stored: structuredClone(stored),
    connections: [
      // Saw it all live.
      connection(
        'ta#1',
        'a',
        [1, 2, 3, 4, 5, 6].map((id) => message(id)),
      ),
      // Dropped after 3 (a 1006 from a fault), then reconnected with since=3 and retried a-3, whose
      // echo it had missed; the retry is answered with the stored message although the replay had it.
      connection('tb#1', 'b', [message(1), message(2), message(3)], { closedAt: 2004, closeCode: 1006 }),
      connection('tb#2', 'b', [message(4), message(5), recovered(), message(6)], { since: 3, sent: [{ at: 2050, cmid: 'b-2' }] }),
      connection('tb2#1', 'b', [message(4), message(5), recovered(), message(4, 2200), message(6)], { since: 3, sent: [{ at: 2150, cmid: 'b-2' }] }),
      // Came back after missing more than the server replays: a truncated recovery starts a new range.
      connection('ta2#1', 'a', [message(4), message(5), recovered(true), message(6)], { since: 0 }),
      // c came, said nothing, and left for good: everyone still connected heard the leave.
      connection('tc#1', 'c', [], { closedAt: 2500, closeCode: 1000 }),
    ].map((c) => (c.closedAt === null ? { ...c, frames: [...c.frames, leftC] } : c)),
    acks: [
      { tab: 'ta', room: ROOM, userId: 'a', cmid: 'a-1', id: 1, via: 'ws', at: 2001 },
      { tab: 'tb', room: ROOM, userId: 'b', cmid: 'b-1', id: 2, via: 'rest', at: 2002 },
      { tab: 'tb', room: ROOM, userId: 'b', cmid: 'b-2', id: 4, via: 'ws', at: 2200 },
    ],
    rest: [
      { tab: 'tb', cmid: 'b-1', instance: 1, at: 1990, status: 503 },
      { tab: 'tb', cmid: 'b-1', instance: 2, at: 2002, status: 201 },
    ],
    unacked: [],
    expectedOnline: [
      {
        room: ROOM,
        users: [
          { user_id: 'a', nickname: 'A' },
          { user_id: 'b', nickname: 'B' },
        ],
      },
    ],
    presence: [0, 1, 2].map((instance) => ({
      room: ROOM,
      instance,
      at: 3000,
      online: [
        { user_id: 'b', nickname: 'B' },
        { user_id: 'a', nickname: 'A' },
      ],
    })),
    exits: [{ instance: 1, at: 1800, code: null, expected: true }],
    healed: [0, 1, 2].map((instance) => ({ instance, ready: true, waitedMs: 40 })),
  }
}

const kinds = (history: History) => checkHistory(history).violations.map((v) => v.kind)

describe('chaos checker', () => {
  it('should find nothing in a history where every guarantee held', () => {
    const { violations, stats } = checkHistory(cleanHistory())
    expect(violations).toEqual([])
    expect(stats).toMatchObject({ connections: 6, messagesChecked: 6, acks: 3 })
  })

  it('should find a message delivered twice on one connection, and only that', () => {
    const history = cleanHistory()
    history.connections[0]!.frames.splice(2, 0, message(2, 2002.5))
    const { violations } = checkHistory(history)
    expect(violations.map((v) => v.kind)).toEqual(['duplicate_delivery'])
    expect(violations[0]).toMatchObject({ conn: 'ta#1', room: ROOM })
    expect(violations[0]!.detail).toContain('message 2')
  })

  it('should find a gap in what a connection received, and only that', () => {
    const history = cleanHistory()
    history.connections[1]!.frames = [message(1), message(3)]
    const { violations } = checkHistory(history)
    expect(violations.map((v) => v.kind)).toEqual(['gap'])
    expect(violations[0]).toMatchObject({ conn: 'tb#1', at: 1001 })
    expect(violations[0]!.detail).toContain('missed 1 stored message(s) between 0 and 3: 2')
  })

  it('should find a message missing at the end of a connection still open', () => {
    const history = cleanHistory()
    history.connections[2]!.frames = history.connections[2]!.frames.filter((f) => f.id !== 6)
    expect(kinds(history)).toEqual(['gap'])
  })

  it('should find an acknowledged message that was not stored, and only that', () => {
    const history = cleanHistory()
    history.acks.push({ tab: 'ta', room: ROOM, userId: 'a', cmid: 'a-9', id: 9, via: 'rest', at: 2500 })
    const { violations } = checkHistory(history)
    expect(violations.map((v) => v.kind)).toEqual(['lost_ack'])
    expect(violations[0]!.detail).toContain('a-9')
  })

  it('should find a ghost in presence, on the instance that lists it, and only that', () => {
    const history = cleanHistory()
    history.presence[1]!.online!.push({ user_id: 'c', nickname: 'C' })
    const { violations } = checkHistory(history)
    expect(violations.map((v) => v.kind)).toEqual(['ghost'])
    expect(violations[0]).toMatchObject({ user: 'c', instance: 1, room: ROOM })
  })

  it('should find each planted fault at once, and nothing else', () => {
    const history = cleanHistory()
    history.connections[0]!.frames.splice(2, 0, message(2, 2002.5))
    history.connections[1]!.frames = [message(1), message(3)]
    history.acks.push({ tab: 'ta', room: ROOM, userId: 'a', cmid: 'a-9', id: 9, via: 'rest', at: 2500 })
    history.presence[1]!.online!.push({ user_id: 'c', nickname: 'C' })
    expect(kinds(history).sort()).toEqual(['duplicate_delivery', 'gap', 'ghost', 'lost_ack'])
  })

  it('should tell the other broken guarantees apart', () => {
    const history = cleanHistory()
    history.stored.push({ id: 8, room: ROOM, user_id: 'a', client_msg_id: 'a-1', at: 1007 })
    const eight: ReceivedFrame = { at: 2008, type: 'chat.message', id: 8, user_id: 'a', client_msg_id: 'a-1' }
    for (const c of [0, 2, 3, 4]) history.connections[c]!.frames.push({ ...eight })
    history.presence[0]!.online = [{ user_id: 'a', nickname: 'a' }]
    history.presence[2]!.online = null
    history.exits.push({ instance: 2, at: 2600, code: 1, expected: false })
    history.connections[1]!.closeCode = 1008
    history.connections[2]!.frames.splice(1, 0, { at: 2040, type: 'chat.error', code: 'rate_limited' })
    history.connections[0]!.frames.push({ at: 2700, type: 'chat.message', id: 99, user_id: 'a', client_msg_id: null })
    expect(kinds(history).sort()).toEqual(['duplicate_store', 'missing_presence', 'phantom', 'policy_close', 'presence_details', 'presence_unreadable', 'unexpected_error', 'unexpected_exit'])
  })

  it('should owe no gap past a replay the server said it could not do', () => {
    const history = cleanHistory()
    history.connections[2]!.frames = [{ at: 2040, type: 'chat.error', code: 'store_failed' }, message(6)]
    history.connections[2]!.closedAt = 2300
    history.connections[2]!.closeCode = 4002
    // The client asks again from the same point.
    history.connections.push(connection('tb#3', 'b', [message(4), message(5), recovered(), message(6), leftC], { since: 3 }))
    expect(kinds(history)).toEqual([])
    // Without asking again, the tab misses what the failed replay owed it.
    history.connections.pop()
    expect(kinds(history)).toEqual(['tab_gap'])
  })

  it('should find a reconnect whose replay never ended', () => {
    const history = cleanHistory()
    history.connections[2]!.frames = [message(4), message(5), leftC]
    expect(kinds(history).sort()).toEqual(['gap', 'stuck_recovery'])
  })

  it('should find a leave not announced, and a leave announced last for a user who is online', () => {
    const history = cleanHistory()
    history.connections[0]!.frames = history.connections[0]!.frames.filter((f) => f.type !== 'chat.user.leave')
    history.connections[2]!.frames.push({ at: 5700, type: 'chat.user.leave', user_id: 'a' })
    const { violations } = checkHistory(history)
    expect(violations.map((v) => [v.kind, v.conn, v.user])).toEqual([
      ['missed_leave', 'ta#1', 'c'],
      ['stale_leave', 'tb#2', 'a'],
    ])
  })

  it('should let the answer to a retried send come before the messages ordered ahead of it', () => {
    const history = cleanHistory()
    // a retries a-3 (id 5) after an ack timeout: the answer overtakes the stream, then 4, 5, 6 arrive.
    history.connections[0]!.sent = [{ at: 2003, cmid: 'a-3' }]
    history.connections[0]!.frames = [1, 2, 3, 5, 4, 5, 6].map((id) => message(id)).concat(leftC)
    expect(kinds(history)).toEqual([])
    history.connections[0]!.frames.splice(5, 0, message(5))
    expect(kinds(history)).toEqual(['duplicate_delivery'])
  })

  it('should find a connection whose live messages came long after everyone else had them', () => {
    const history = cleanHistory()
    const frames = history.connections[0]!.frames
    frames[5] = message(6, 2006 + 40_000)
    const { violations } = checkHistory(history)
    expect(violations.map((v) => v.kind)).toEqual(['late_delivery'])
    expect(violations[0]!.detail).toContain('worst 6, 40.0 s late')
  })

  it('should find a replay that never ended on a connection the client gave up on', () => {
    const history = cleanHistory()
    Object.assign(history.connections[2]!, { frames: [], openedAt: 3000, closedAt: 33_000, closeCode: 4001 })
    expect(kinds(history)).toEqual(['stuck_recovery'])
    history.connections[2]!.closedAt = 13_000
    expect(kinds(history)).toEqual([])
  })

  it('should find messages a tab never got because it reconnected past them', () => {
    const history = cleanHistory()
    // tb's first connection got 1 and 2 only; it came back with since=3 and so never got 3.
    history.connections[1]!.frames = [message(1), message(2)]
    history.connections[1]!.closedAt = 2002
    const { violations } = checkHistory(history)
    expect(violations.map((v) => [v.kind, v.conn])).toEqual([['tab_gap', 'tb']])
    expect(violations[0]!.detail).toContain(': 3')
    // A page reload (no since=) takes the room from where it joins: nothing before it is owed, even
    // when its first frame answers a retry of an older message.
    history.connections[2]!.since = null
    history.connections[2]!.frames = [message(2, 2040), ...history.connections[2]!.frames.filter((f) => f.type !== 'chat.recovered' && f.id !== 4)]
    history.connections[2]!.sent = [{ at: 2039, cmid: 'b-1' }]
    expect(kinds(history)).toEqual([])
  })

  it('should hold a page load that got nothing to what was stored after it opened', () => {
    const history = cleanHistory()
    history.connections.push(connection('ta3#1', 'a', [leftC], { openedAt: -1500 }))
    expect(kinds(history)).toEqual(['gap'])
    history.connections.at(-1)!.openedAt = 1200
    expect(kinds(history)).toEqual([])
  })

  it('should find a database kept busy when nothing happens', () => {
    const history = cleanHistory()
    history.idleTransactionsPerSecond = 4
    expect(kinds(history)).toEqual([])
    history.idleTransactionsPerSecond = 850
    expect(kinds(history)).toEqual(['busy_database'])
  })

  it('should find messages out of order, and one replayed at or below since', () => {
    const history = cleanHistory()
    history.connections[0]!.frames = [...[1, 2, 4, 3, 5, 6].map((id) => message(id)), leftC]
    history.connections[2]!.frames.unshift(message(3, 2040))
    expect(kinds(history).sort()).toEqual(['duplicate_delivery', 'out_of_order'])
  })

  it("should read a since_version= replay's new messages in id order, and let a change be refused for a message unsent meanwhile", () => {
    const history = cleanHistory()
    // The replay sends new messages in the order of their latest change: 5 was edited after 4 was sent.
    history.connections[2] = connection('tb#2', 'b', [message(5), message(4), recovered(), message(6), { at: 2300, type: 'chat.error', code: 'deleted' }, leftC], {
      since: 3,
      sinceVersion: 9,
      sent: [{ at: 2050, cmid: 'b-2' }],
      changes: [{ at: 2290, op: 'edit', id: 4 }],
    })
    expect(kinds(history)).toEqual([])
    history.connections[2]!.changes = []
    expect(kinds(history)).toEqual(['unexpected_error'])
  })

  it('should find a live change at or below the version before it, but not the answer to its own send, early or late', () => {
    const history = cleanHistory()
    const change = (type: string, id: number, version: number, at = 2200 + version): ReceivedFrame => ({ at, type, id, version })
    const live = [1, 2, 3].map((id) => ({ ...message(id), version: id }))
    history.connections[0] = connection('ta#1', 'a', [{ ...recovered(), version: 0 }, ...live, change('chat.reaction', 1, 4), { ...message(4), version: 5 }, { ...message(5), version: 6 }, message(6), leftC], {
      sinceVersion: 0,
      sent: [{ at: 2000, cmid: 'a-3' }],
    })
    expect(kinds(history)).toEqual([])
    // The answer to a retried a-3, before the changes ordered ahead of it, and after its broadcast: allowed.
    history.connections[0]!.frames.splice(4, 0, { ...message(5, 2004), version: 6 })
    expect(kinds(history)).toEqual([])
    // A reaction heard twice is not.
    history.connections[0]!.frames.push(change('chat.reaction', 1, 4, 2500))
    const { violations } = checkHistory(history)
    expect(violations.map((v) => v.kind)).toEqual(['version_order'])
    expect(violations[0]!.detail).toContain('chat.reaction of message 1 with version 4 after 5')
  })

  it("should find a tab whose copy of the room is not the server's, naming what differs", () => {
    const history = cleanHistory()
    const form = (id: number): MessageForm => ({ user_id: byId.get(id)!.user_id, message: `text ${id}`, deleted: false, edited_at: null, reactions: [], reply_to: null, version: id })
    for (const m of history.stored) m.form = form(m.id)
    history.stored[0]!.form = { ...form(1), reactions: [{ emoji: '👍', count: 2, user_ids: ['a', 'b'] }], version: 8 }
    const copy = (tab: string, forms: MessageForm[]) => ({ tab, room: ROOM, userId: tab.slice(1, 2), version: 8, messages: forms.map((f, i) => ({ id: i + 1, ...f })) })
    const right = history.stored.map((m) => m.form!)
    history.copies = [copy('ta', right), copy('tb', [{ ...right[0]!, reactions: [{ emoji: '👍', count: 1, user_ids: ['a'] }], version: 7 }, ...right.slice(1, 5)])]
    history.roomVersions = [{ room: ROOM, version: 8 }]
    const { violations, stats } = checkHistory(history)
    expect(violations.map((v) => [v.kind, v.conn])).toEqual([['copy_mismatch', 'tb']])
    expect(violations[0]!.detail).toContain('missing 1 (6), 1 differing. message 1: reactions 👍×1 [a] here, 👍×2 [a,b] on the server; version 7 here, 8 on the server')
    expect(stats).toMatchObject({ copies: 2, copiedMessages: 11 })
  })
})
