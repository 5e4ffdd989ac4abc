import type { Logger } from '../logger.ts'
import type { RoomChanges, SequencedStore } from '../store/store.ts'
import { evictEvent, messageEvent, roomUpdatedEvent, type ControlEvent, type MessageEvent } from './events.ts'

/** What a room delivers in version order: its messages' changes, and controls that moved its version (a removal). */
export type OrderedEvent = MessageEvent | (ControlEvent & { version: number })

const versionOf = (event: OrderedEvent) => (event.kind === 'message' ? event.message.version : event.version)

export type { SequencedStore }

/** At most this many changes are read from the store at once. */
const FILL_BATCH = 500
/** After a failed read, wait this long before the next, doubling up to the maximum. */
const RETRY_MIN_MS = 100
const RETRY_MAX_MS = 5000

/**
 * One room's changes (messages created, edited, unsent, reacted to), delivered in `version` order:
 * the order the database committed them in, not the order Redis brought them. A change that
 * arrives early waits; a gap is read from the store. The store's promise makes that safe: whoever
 * sees version n knows every version up to n is committed, so a read of a range below a seen (or
 * read) version returns all of that range that will ever exist, each message in its latest form
 * (a version missing from the read was superseded by a later change of its message, or was a
 * removal, which travels only as a control: one that arrives in time is delivered in its place, a
 * late one at once).
 */
export class RoomOrder {
  /** The next version to deliver; null until `start` says where the room stood. */
  private next: number | null = null
  /** Changes that arrived before their turn, by version (all >= next once next is known). */
  private readonly early = new Map<number, OrderedEvent>()
  /** The highest version known to be committed. */
  private known = 0
  private filling = false
  private retryMs = 0
  private closed = false
  /** Replays waiting for the stream to pass a version. */
  private waiters: { version: number; resolve: () => void }[] = []
  /**
   * Up to this version, changes go out as the message's whole form (`chat.message.updated`), not as
   * deltas: a read skipped a version superseded by one of them, or gave a message created in the gap
   * in a later form, and a delta (a reaction) would not build on the form the sockets here have.
   */
  private wholeUntil = 0

  constructor(
    private readonly roomId: number,
    private readonly store: SequencedStore,
    private readonly deliver: (event: OrderedEvent) => void,
    private readonly logger: Logger,
  ) {}

  /** The room stood at `version` when its subscription began: deliver from the version after it. */
  start(version: number): void {
    this.next = version + 1
    this.known = Math.max(this.known, version)
    // What arrived between SUBSCRIBE and the read of the version is older than the start: not ours
    // to send, but a control (a removal) is never dropped: it is applied now.
    for (const [v, event] of this.early) {
      if (v >= this.next) continue
      this.early.delete(v)
      if (event.kind === 'control' && event.evict !== undefined) this.deliver(event)
    }
    this.drain()
  }

  /**
   * Takes a committed change into the order (duplicates and late copies of messages and of room
   * changes, which the store gave in their place, are dropped). False for a control that came
   * after the stream passed its version and must still act (a removal: the store keeps who, but
   * closing sockets is this instance's to do): the caller applies it at once.
   */
  accept(event: OrderedEvent): boolean {
    const version = versionOf(event)
    const handled = event.kind === 'message' || (event.frame !== undefined && event.evict === undefined)
    if (this.closed) return handled
    if (this.next !== null && version < this.next) return handled
    this.known = Math.max(this.known, version)
    this.early.set(version, event)
    this.drain()
    return true
  }

  /** Everything up to `version` is committed (read after the subscription was restored): deliver it. */
  catchUp(version: number): void {
    if (this.closed || version <= this.known) return
    this.known = version
    this.drain()
  }

  /**
   * Resolves once the room's changes up to `version` are delivered. The caller read `version` from
   * the database, so it is committed: if it never comes through Redis, it is read from the store.
   */
  whenDelivered(version: number): Promise<void> {
    if (this.closed || (this.next !== null && this.next > version)) return Promise.resolve()
    const { promise, resolve } = Promise.withResolvers<void>()
    this.waiters.push({ version, resolve })
    this.catchUp(version)
    return promise
  }

  /** Stops: nothing more is delivered, and waiting replays go ahead. */
  close(): void {
    this.closed = true
    this.early.clear()
    for (const waiter of this.waiters) waiter.resolve()
    this.waiters = []
  }

  /** Delivers what is next in order; on a gap, reads the missing changes from the store. */
  private drain() {
    if (this.next === null || this.closed) return
    for (let event = this.early.get(this.next); event; event = this.early.get(this.next)) {
      this.early.delete(this.next)
      this.next++
      this.pass(event)
    }
    if (this.waiters.length > 0) {
      const next = this.next
      for (const waiter of this.waiters) if (waiter.version < next) waiter.resolve()
      this.waiters = this.waiters.filter((w) => w.version >= next)
    }
    if (this.filling) return
    // The gap runs from next to just below the first early change, or to the highest known version.
    let end = this.known
    for (const version of this.early.keys()) if (version <= end) end = version - 1
    if (end < this.next) return
    this.fill(this.next, Math.min(end, this.next + FILL_BATCH - 1)).catch((err) => this.logger.error('delivering missed changes failed', { room: this.roomId, err }))
  }

  /** Reads [from, to], all of it committed, and delivers it; on failure, waits before the next try. */
  private async fill(from: number, to: number) {
    this.filling = true
    let rows: RoomChanges | null = null
    try {
      rows = await this.store.changesBetween(this.roomId, from, to)
      this.retryMs = 0
    } catch (err) {
      this.retryMs = Math.min(Math.max(this.retryMs * 2, RETRY_MIN_MS), RETRY_MAX_MS)
      this.logger.error('reading missed changes failed; retrying', { room: this.roomId, err, retryMs: this.retryMs })
      await Bun.sleep(this.retryMs)
    } finally {
      this.filling = false
    }
    if (rows) this.take(rows, to)
    this.drain()
  }

  /**
   * Delivers a read of everything committed up to `to`, which takes the place of whatever waited
   * there: a message created in the range as a creation at its creation's place (so the room's
   * sockets here hear of new messages in id order, and of no change before its message), in its
   * latest form but with its creation's version; a message whose latest change is in the range, in
   * that form at that change's place; removals in theirs. Versions go on ascending. A version
   * missing from the read was superseded by a later change of its message, so the stream moves past
   * it (that is what keeps an empty read from being asked again and again); then, as after a
   * creation sent in a later form, the changes up to the room's version at the read go out whole.
   */
  private take({ messages, evictions, updates, version }: RoomChanges, to: number) {
    if (this.closed || this.next === null) return
    const from = this.next
    const whole = (row: (typeof messages)[number]) => messageEvent(row, row.deleted ? { type: 'deleted' } : { type: 'edited' })
    for (const row of messages) {
      if (row.createdVersion >= from && row.createdVersion <= to) {
        this.early.set(row.createdVersion, messageEvent({ ...row, version: row.createdVersion }))
        if (row.version > row.createdVersion) this.wholeUntil = Math.max(this.wholeUntil, version)
      }
      if (row.version > row.createdVersion && row.version >= from && row.version <= to) this.early.set(row.version, whole(row))
    }
    for (const e of evictions) if (e.version >= from && e.version <= to) this.early.set(e.version, { ...evictEvent(this.roomId, e.userId, e.version, e.banned), version: e.version })
    for (const u of updates) if (u.version >= from && u.version <= to) this.early.set(u.version, roomUpdatedEvent(this.roomId, u.summary, u.version))
    for (; this.next <= to; this.next++) {
      const event = this.early.get(this.next)
      if (!event) {
        this.wholeUntil = Math.max(this.wholeUntil, version)
        continue
      }
      this.early.delete(this.next)
      this.pass(event)
    }
  }

  /** Delivers an event in its turn; a delta where changes go out whole goes out as the whole message. */
  private pass(event: OrderedEvent) {
    if (event.kind === 'message' && event.change?.type === 'reaction' && event.message.version <= this.wholeUntil) {
      return this.deliver(messageEvent(event.message, event.message.deleted ? { type: 'deleted' } : { type: 'edited' }))
    }
    this.deliver(event)
  }
}
