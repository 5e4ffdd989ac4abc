import type { Presence } from '../realtime/presence.ts'
import type { WebhookEventRow } from '../store/outbox.ts'
import type { MessageRow, Store } from '../store/store.ts'

/** What a room sends next: an outbox event, or a message read from the messages table (its log). */
export type Outgoing = { kind: 'event'; event: WebhookEventRow } | { kind: 'message'; message: MessageRow }

/**
 * A room's events in the order they go out: its outbox events (by position, then id) among its
 * messages (by id). An event written when the room's newest message was P goes after message P
 * and before any later one. The queue ends before the first event that is not due yet: what
 * follows it waits for its retry. With `moreMessages` (more were stored than were read), it also
 * ends where the messages read do: a later event may belong after messages not read yet.
 */
export function roomQueue(events: readonly WebhookEventRow[], messages: readonly MessageRow[], moreMessages: boolean, now: number): Outgoing[] {
  const queue: Outgoing[] = []
  let e = 0
  let m = 0
  while (e < events.length || m < messages.length) {
    const event = events[e]
    const message = messages[m]
    if (!message && moreMessages) break
    if (event && (!message || event.position < message.id)) {
      if (event.nextAttemptAt > now) break
      queue.push({ kind: 'event', event })
      e++
    } else if (message) {
      queue.push({ kind: 'message', message })
      m++
    }
  }
  return queue
}

/** Who is in the room and who is online there, as a pass reads them once. */
interface RoomPeople {
  roster: { userId: string; joinedAt: number }[]
  online: Set<string>
}

/** Nobody blocked the sender (or it does not matter: nobody is offline to be reached). */
const NOBODY: ReadonlySet<string> = new Set()

/**
 * A room as one pass finds it, read once for all its messages in the pass: who is in it (with when
 * they joined), who has a socket in it now, and, per sender, who in it has blocked them (read only
 * when someone is offline to be reached: never for an open room's messages or a room all online).
 */
export class RoomNow {
  private read: Promise<RoomPeople> | null = null
  private readonly blockers = new Map<string, Promise<ReadonlySet<string>>>()
  /** Per sender, whom a message of theirs reaches offline when everyone listed had joined before it (most messages). */
  private readonly offlineOf = new Map<string, { userIds: string[]; joinedBy: number }>()
  /** The senders of the pass's messages: who blocked them is read for all of them at once, when the first needs it. */
  private readonly senders: string[]

  constructor(
    private readonly store: Store,
    private readonly presence: Presence,
    private readonly limit: number,
    /** The room's messages this pass will send. */
    messages: readonly MessageRow[] = [],
  ) {
    this.senders = [...new Set(messages.map((m) => m.userId))]
  }

  /**
   * Those in the room when the message was sent, but its sender, with no socket in the room now:
   * whom the app pushes it to. Nobody who has blocked the sender: their words are not pushed to them.
   */
  async offline(message: MessageRow): Promise<string[]> {
    const known = this.offlineOf.get(message.userId)
    if (known && known.joinedBy <= message.createdAt) return known.userIds
    this.read ??= Promise.all([this.store.membership.roster(message.roomId, this.limit + 1), this.presence.online(message.roomId)]).then(([roster, online]) => ({ roster, online: new Set(online.map((u) => u.user_id)) }))
    const { roster, online } = await this.read
    const away = roster.filter((m) => m.userId !== message.userId && !online.has(m.userId))
    const blocked = away.length === 0 ? NOBODY : await this.blockersOf(message)
    const reached = away.filter((m) => !blocked.has(m.userId))
    const joinedBy = Math.max(0, ...reached.map((m) => m.joinedAt))
    const userIds = reached.map((m) => m.userId).slice(0, this.limit)
    // The same list serves the sender's later messages (it is only read).
    if (joinedBy <= message.createdAt) {
      this.offlineOf.set(message.userId, { userIds, joinedBy })
      return userIds
    }
    // Who joined after the message did not miss it.
    return reached
      .filter((m) => m.joinedAt <= message.createdAt)
      .map((m) => m.userId)
      .slice(0, this.limit)
  }

  /** Who in the room blocked the message's sender: for every sender of the pass in one read when there are several. */
  private blockersOf(message: MessageRow): Promise<ReadonlySet<string>> {
    const known = this.blockers.get(message.userId)
    if (known) return known
    if (this.senders.length >= 2 && this.senders.includes(message.userId)) {
      const all = this.store.membership.blockersOf(message.roomId, this.senders)
      for (const sender of this.senders)
        this.blockers.set(
          sender,
          all.then((found) => found.get(sender) ?? NOBODY),
        )
    } else this.blockers.set(message.userId, this.store.membership.blockersIn(message.roomId, message.userId))
    return this.blockers.get(message.userId)!
  }
}

/** Collects items added in one turn and hands them over together; each `record` resolves once written. */
export class Batcher<T> {
  private items: T[] = []
  private written: Promise<void> | null = null

  constructor(private readonly write: (items: T[]) => Promise<void>) {}

  record(...items: T[]): Promise<void> {
    this.items.push(...items)
    this.written ??= new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      const items = this.items
      this.items = []
      this.written = null
      return this.write(items)
    })
    return this.written
  }
}

/** Lets at most `limit` tasks run at once. */
export class Semaphore {
  private running = 0
  private readonly waiting: (() => void)[] = []
  constructor(private readonly limit: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve))
    this.running++
    try {
      return await task()
    } finally {
      this.running--
      this.waiting.shift()?.()
    }
  }
}
