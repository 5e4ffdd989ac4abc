/**
 * What a chaos run records, and what the checker judges: plain data, so the checker is a pure
 * function and a failing run's history can be written out and read again.
 */

/** A user as the gateway forwards them. */
export interface ChaosUser {
  user_id: string
  nickname: string
  email: string
}

/** A frame a client received, reduced to the fields the checker reads. */
export interface ReceivedFrame {
  at: number
  type: string
  id?: number
  user_id?: string
  client_msg_id?: string | null
  /** chat.recovered */
  count?: number
  truncated?: boolean
  /** chat.error */
  code?: string
  /** chat.reaction: which reaction, added or taken back (by `user_id`). */
  emoji?: string
  added?: boolean
  /** The room version of a change frame (chat.message, chat.message.updated, chat.message.deleted, chat.reaction) or of chat.recovered. */
  version?: number
}

/** One WebSocket connection of one tab, from the attempt to the close (or the end of the run). */
export interface ConnectionRecord {
  /** `<tab>#<n>`: the tab's n-th connection. */
  conn: string
  tab: string
  userId: string
  room: number
  instance: number
  /** The id floor of the replay: the newest message id the tab held (null on a page load). */
  since: number | null
  /** since_version=: the room version the tab held (its copy's); null or absent when it asked for none (since= only). */
  sinceVersion?: number | null
  startedAt: number
  /** When the upgrade completed; null when the handshake failed. */
  openedAt: number | null
  /** When it closed or failed; null while it was still open when the run ended. */
  closedAt: number | null
  closeCode: number | null
  closeReason?: string
  /** The server answered the replay with chat.error instead of chat.recovered (the client then reconnects). */
  replayFailed?: boolean
  /** The client_msg_ids this connection sent, in order (a retry repeats one). */
  sent: { at: number; cmid: string }[]
  /** The changes this connection sent (chat.edit, chat.delete, chat.react). */
  changes?: { at: number; op: ChangeOp; id: number }[]
  frames: ReceivedFrame[]
}

/** A send the client counts as done: REST 200/201, or a chat.message carrying its own client_msg_id. */
export interface Ack {
  tab: string
  room: number
  userId: string
  cmid: string
  /** The message id the acknowledgement carried. */
  id: number
  via: 'ws' | 'rest'
  at: number
}

/** A message as the room's history (REST) returned it after the run. */
export interface StoredMessage {
  id: number
  room: number
  user_id: string
  client_msg_id: string | null
  /** created_at in ms. */
  at: number
  /** Its latest form, which every tab's copy must hold at the end (absent in histories from before changes). */
  form?: MessageForm
}

/** What a message looks like to a client, compared between a tab's copy and the server's history. */
export interface MessageForm {
  user_id: string
  message: string
  deleted: boolean
  edited_at: string | null
  reactions: { emoji: string; count: number; user_ids: string[] }[]
  reply_to: { id: number; user_id: string; nickname: string; message: string } | null
  version: number
}

/** One tab's copy of its room at the end, kept from the frames it applied. */
export interface RoomCopy {
  tab: string
  room: number
  userId: string
  /** The highest room version it applied. */
  version: number
  messages: ({ id: number } & MessageForm)[]
}

/** A change a tab makes to a message: its own text edited or unsent, a reaction added or taken back. */
export type ChangeOp = 'edit' | 'unsend' | 'react' | 'unreact'

/** One REST change attempt's answer (status 0: no answer). */
export interface RestChange {
  tab: string
  op: ChangeOp
  id: number
  instance: number
  at: number
  status: number
  code?: string
}

/** One look at a room's `online_users` on one instance; `online` is null when the request failed. */
export interface PresenceObservation {
  room: number
  instance: number
  at: number
  online: { user_id: string; nickname: string }[] | null
}

/** An instance process that ended; `expected` when the fault scheduler (or the final stop) ended it. */
export interface InstanceExit {
  instance: number
  at: number
  code: number | null
  expected: boolean
}

/** One REST send attempt's answer (status 0: no answer: network error or timeout); `at` is when it answered. */
export interface RestAttempt {
  tab: string
  cmid: string
  instance: number
  at: number
  status: number
  code?: string
}

/** A send still unacknowledged when the run gave up retrying (after everything had healed). */
export interface UnackedSend {
  tab: string
  room: number
  userId: string
  cmid: string
  via: 'ws' | 'rest'
  firstAt: number
  attempts: number
}

export interface History {
  rooms: number[]
  stored: StoredMessage[]
  connections: ConnectionRecord[]
  acks: Ack[]
  rest: RestAttempt[]
  /** REST change attempts (edits, unsends, reactions). Absent, like the next two, in histories from before changes. */
  restChanges?: RestChange[]
  /** Each tab still in its room at the end: its copy of the room, as it stood when the history was read. */
  copies?: RoomCopy[]
  /** Each room's version when its history was read. */
  roomVersions?: { room: number; version: number }[]
  unacked: UnackedSend[]
  /** Per room: the users with a socket open in it when presence was checked (with the nickname they use). */
  expectedOnline: { room: number; users: { user_id: string; nickname: string }[] }[]
  /** The last look at each room's presence on each instance. */
  presence: PresenceObservation[]
  exits: InstanceExit[]
  /** Postgres transactions a second at the very end, with no client sending or polling (nothing should query). */
  idleTransactionsPerSecond?: number
  /** When Postgres was busy at rest: what its busy connections ran, by instance, most frequent first. */
  idleQueries?: { query: string; instance: number | null; count: number }[]
  /** After the faults stopped: whether each instance answered /readyz 200 within the bounded wait. */
  healed: { instance: number; ready: boolean; waitedMs: number }[]
}

const VIOLATION_KINDS = [
  // 1. acknowledged messages stored exactly once
  'lost_ack',
  'ack_mismatch',
  'duplicate_store',
  'unacked_after_heal',
  // 2. what each connection saw
  'duplicate_delivery',
  'out_of_order',
  'gap',
  'tab_gap',
  'phantom',
  'frame_mismatch',
  'stuck_recovery',
  'late_delivery',
  'version_order',
  // 2c. every tab's copy of its room at the end
  'copy_mismatch',
  // 3. presence at the end
  'ghost',
  'missing_presence',
  'presence_details',
  'presence_unreadable',
  'missed_leave',
  'stale_leave',
  // 4. processes and protocol
  'unexpected_exit',
  'not_healed',
  'busy_database',
  'policy_close',
  'unexpected_error',
  'rest_error',
] as const
type ViolationKind = (typeof VIOLATION_KINDS)[number]

export interface Violation {
  kind: ViolationKind
  /** When it happened or became visible (ms), for picking the instance log lines around it. */
  at?: number
  room?: number
  user?: string
  conn?: string
  instance?: number
  detail: string
}
