import fc from 'fast-check'

/**
 * The membership rule as a model (SECURITY.md, "Who may use a room" and "What a block means"), for
 * property tests that run random operations against the real server and compare what each user
 * sees with what the model allows. Users are numbered 0…USERS-1; rooms are named by `RoomKey`.
 */

export const USERS = 5
export type RoomKey = 'p0' | 'p1' | 'd' | 'o'
export const ROOM_KEYS: readonly RoomKey[] = ['p0', 'p1', 'd', 'o']
export type RoomKind = 'private' | 'direct' | 'open'

/** How each run's rooms start: two private rooms with different owners, a direct room, an open room. */
export const ROOM_SETUP: Record<RoomKey, { kind: RoomKind; creator: number; others: number[] }> = {
  p0: { kind: 'private', creator: 0, others: [1] },
  p1: { kind: 'private', creator: 3, others: [4] },
  d: { kind: 'direct', creator: 1, others: [3] },
  o: { kind: 'open', creator: 0, others: [] },
}

export type Op =
  | { op: 'add'; room: RoomKey; by: number; user: number }
  | { op: 'remove'; room: RoomKey; by: number; user: number }
  | { op: 'block'; by: number; user: number }
  | { op: 'unblock'; by: number; user: number }
  | { op: 'read'; room: RoomKey; user: number }
  | { op: 'send'; room: RoomKey; user: number }
  | { op: 'openStream'; user: number }
  | { op: 'closeStream'; user: number }

/** One line a reader can follow: `u0 adds u3 to p0`. */
export function describeOp(op: Op): string {
  const u = (n: number) => `u${n}`
  switch (op.op) {
    case 'add':
      return `${u(op.by)} adds ${u(op.user)} to ${op.room}`
    case 'remove':
      return op.by === op.user ? `${u(op.user)} leaves ${op.room}` : `${u(op.by)} removes ${u(op.user)} from ${op.room}`
    case 'block':
    case 'unblock':
      return `${u(op.by)} ${op.op}s ${u(op.user)}`
    case 'read':
      return `${u(op.user)} reads ${op.room}`
    case 'send':
      return `${u(op.user)} sends in ${op.room}`
    case 'openStream':
      return `${u(op.user)} opens a user stream`
    case 'closeStream':
      return `${u(op.user)} closes a user stream`
  }
}

/**
 * Who a step is about: a user, or the n-th (modulo) of the room's members other than its creator,
 * or of the users who do not have the room, as they are when the step runs (so random runs add,
 * remove and send far more often than chance would).
 */
type Who = number | { member: number } | { outsider: number }

/** A step as generated: an op whose users may be picked from the room's state when it runs. */
export type Step =
  | Exclude<Op, { room: RoomKey }>
  | { op: 'add'; room: RoomKey; by: Who; user: Who }
  | { op: 'remove'; room: RoomKey; by: Who | 'self'; user: Who }
  | { op: 'read'; room: RoomKey; user: Who }
  | { op: 'send'; room: RoomKey; user: Who }

const user = fc.integer({ min: 0, max: USERS - 1 })
const n = fc.nat({ max: USERS - 1 })
const member: fc.Arbitrary<Who> = n.map((i) => ({ member: i }))
const outsider: fc.Arbitrary<Who> = n.map((i) => ({ outsider: i }))
const room = fc.constantFrom(...ROOM_KEYS)
/** Mostly the private rooms, whose members change; now and then the others, which refuse. */
const memberRoom = fc.oneof({ weight: 4, arbitrary: fc.constantFrom<RoomKey>('p0', 'p1') }, { weight: 1, arbitrary: fc.constantFrom<RoomKey>('d', 'o') })
/** Mostly the room's creator (who owns a private room), sometimes anyone. */
const actor = (key: RoomKey) => fc.oneof({ weight: 3, arbitrary: fc.constant(ROOM_SETUP[key].creator) }, { weight: 1, arbitrary: user })
/** Two different users, the direct room's pair more often than chance. */
const pair = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom<[number, number]>([1, 3], [3, 1]) },
  { weight: 3, arbitrary: fc.tuple(user, fc.integer({ min: 1, max: USERS - 1 })).map(([a, k]): [number, number] => [a, (a + k) % USERS]) },
)
const add = memberRoom.chain((key) => fc.record({ op: fc.constant('add' as const), room: fc.constant(key), by: actor(key), user: fc.oneof({ weight: 3, arbitrary: outsider }, { weight: 1, arbitrary: user }) }))
/** The owner removing someone, someone leaving, or anyone trying. */
const remove = memberRoom.chain((key) =>
  fc.record({
    op: fc.constant('remove' as const),
    room: fc.constant(key),
    by: fc.oneof({ weight: 3, arbitrary: actor(key) }, { weight: 2, arbitrary: fc.constant('self' as const) }),
    user: fc.oneof({ weight: 3, arbitrary: member }, { weight: 1, arbitrary: user }),
  }),
)
const someone = (weight: number) => fc.oneof({ weight, arbitrary: member }, { weight: 1, arbitrary: user })

/** One random step, weighted towards what changes what users see. */
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ op: fc.constant('send' as const), room, user: someone(3) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('read' as const), room, user: someone(2) }) },
  { weight: 4, arbitrary: add },
  { weight: 3, arbitrary: remove },
  { weight: 2, arbitrary: pair.map(([by, u]) => ({ op: 'block' as const, by, user: u })) },
  { weight: 1, arbitrary: pair.map(([by, u]) => ({ op: 'unblock' as const, by, user: u })) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('openStream' as const), user }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('closeStream' as const), user }) },
)

/** A run: the users whose streams are open from the start, then the steps. */
export const runArb = (steps: { minLength: number; maxLength: number }) => fc.record({ streams: fc.subarray([...Array(USERS).keys()]), steps: fc.array(stepArb, steps) })

/** What the server should answer: a status and, for refusals, the problem's code. */
export interface Outcome {
  status: number
  code?: string
}

interface ModelMessage {
  id: number
  sender: number
}

export interface ModelRoom {
  key: RoomKey
  kind: RoomKind
  /** The owner of a private room while they are in it. */
  owner: number | null
  /** Read markers of those who have the room: owner and members, or an open room's participants. */
  markers: Map<number, number>
  messages: ModelMessage[]
}

/** Rooms, markers, messages and blocks as the membership rule says they are. */
export class MembershipModel {
  readonly rooms: Record<RoomKey, ModelRoom>
  private readonly blocks = new Set<string>()

  constructor() {
    const make = (key: RoomKey): ModelRoom => {
      const { kind, creator, others } = ROOM_SETUP[key]
      const members = kind === 'open' ? [] : [creator, ...others]
      return { key, kind, owner: kind === 'private' ? creator : null, markers: new Map(members.map((u) => [u, 0])), messages: [] }
    }
    this.rooms = { p0: make('p0'), p1: make('p1'), d: make('d'), o: make('o') }
  }

  hasBlocked(blocker: number, blocked: number): boolean {
    return this.blocks.has(`${blocker}>${blocked}`)
  }

  /** Whether the room is the user's (inbox, badge, streams): a member, or an open room's participant. */
  has(key: RoomKey, u: number): boolean {
    return this.rooms[key].markers.has(u)
  }

  /** Whether the user may read and write the room: anyone in an open room, else its members. */
  mayUse(key: RoomKey, u: number): boolean {
    return this.rooms[key].kind === 'open' || this.has(key, u)
  }

  newest(key: RoomKey): number {
    return this.rooms[key].messages.at(-1)?.id ?? 0
  }

  marker(key: RoomKey, u: number): number {
    return this.rooms[key].markers.get(u) ?? 0
  }

  unread(key: RoomKey, u: number): number {
    const marker = this.marker(key, u)
    return this.rooms[key].messages.filter((m) => m.id > marker).length
  }

  /** The inbox preview: the newest message from someone the user has not blocked. */
  preview(key: RoomKey, u: number): number | null {
    return this.rooms[key].messages.findLast((m) => !this.hasBlocked(u, m.sender))?.id ?? null
  }

  /** The rooms the user has. */
  roomsOf(u: number): RoomKey[] {
    return ROOM_KEYS.filter((key) => this.has(key, u))
  }

  badge(u: number): { total: number; rooms: number } {
    const counts = this.roomsOf(u).map((key) => this.unread(key, u))
    return { total: counts.reduce((a, b) => a + b, 0), rooms: counts.filter((n) => n > 0).length }
  }

  /** Who has blocked `sender` among those who have the room. */
  blockersIn(key: RoomKey, sender: number): number[] {
    return [...this.rooms[key].markers.keys()].filter((u) => this.hasBlocked(u, sender))
  }

  /** The op a step is when it runs: users picked from the room as it is now. */
  resolve(step: Step): Op {
    if (!('room' in step)) return step
    const key = step.room
    const pick = (who: Who): number => {
      if (typeof who === 'number') return who
      const members = [...this.rooms[key].markers.keys()].filter((u) => u !== ROOM_SETUP[key].creator).sort((a, b) => a - b)
      const list = 'member' in who ? members : [...Array(USERS).keys()].filter((u) => !this.has(key, u))
      const i = 'member' in who ? who.member : who.outsider
      return list.length > 0 ? list[i % list.length]! : i
    }
    const user = pick(step.user)
    if (step.op === 'read' || step.op === 'send') return { op: step.op, room: key, user }
    return { op: step.op, room: key, user, by: step.by === 'self' ? user : pick(step.by) }
  }

  /** What the server should answer to `op`, in the order the server checks. */
  expect(op: Op): Outcome {
    if (op.op === 'block' || op.op === 'unblock') return { status: 204 }
    if (op.op === 'openStream' || op.op === 'closeStream') return { status: 0 }
    const room = this.rooms[op.room]
    const fixed = room.kind === 'open' ? 'open_room' : 'direct_room'
    switch (op.op) {
      case 'add':
        if (room.kind === 'open') return { status: 409, code: fixed }
        if (!this.has(op.room, op.by)) return { status: 403, code: 'not_a_member' }
        if (room.kind === 'direct') return { status: 409, code: fixed }
        if (room.owner !== op.by) return { status: 403, code: 'not_owner' }
        if (this.has(op.room, op.user)) return { status: 200 }
        if (this.hasBlocked(op.user, op.by)) return { status: 403, code: 'blocked' }
        return { status: 201 }
      case 'remove':
        if (room.kind === 'open') return { status: 409, code: fixed }
        if (!this.has(op.room, op.by)) return { status: 403, code: 'not_a_member' }
        if (room.kind === 'direct') return { status: 409, code: fixed }
        if (op.by !== op.user && room.owner !== op.by) return { status: 403, code: 'not_owner' }
        if (!this.has(op.room, op.user)) return { status: 404, code: 'member_not_found' }
        return { status: 204 }
      case 'read':
        return this.mayUse(op.room, op.user) ? { status: 200 } : { status: 403, code: 'not_a_member' }
      case 'send': {
        if (!this.mayUse(op.room, op.user)) return { status: 403, code: 'not_a_member' }
        const [a, b] = room.kind === 'direct' ? [ROOM_SETUP.d.creator, ROOM_SETUP.d.others[0]!] : [-1, -1]
        if (room.kind === 'direct' && (this.hasBlocked(a, b) || this.hasBlocked(b, a))) return { status: 403, code: 'blocked' }
        return { status: 201 }
      }
    }
  }

  /** Applies `op`, which the server answered as `expect` said; `messageId` is a stored message's id. */
  apply(op: Op, outcome: Outcome, messageId = 0): void {
    if (op.op === 'block') return void this.blocks.add(`${op.by}>${op.user}`)
    if (op.op === 'unblock') return void this.blocks.delete(`${op.by}>${op.user}`)
    if (op.op === 'openStream' || op.op === 'closeStream' || outcome.status >= 300) return
    const room = this.rooms[op.room]
    switch (op.op) {
      case 'add':
        if (outcome.status === 201) room.markers.set(op.user, 0) // a new member starts with nothing read
        return
      case 'remove':
        room.markers.delete(op.user) // the member and their marker are gone
        if (room.owner === op.user) room.owner = null
        return
      case 'read':
        room.markers.set(op.user, Math.max(this.marker(op.room, op.user), this.newest(op.room)))
        return
      case 'send':
        room.messages.push({ id: messageId, sender: op.user })
        room.markers.set(op.user, messageId) // a sender's marker moves to their message
        return
    }
  }
}
