import type { MessageStore } from './messages.ts'
import type { Message, RecoveredFrame } from './types.ts'

/**
 * Where a room connection resumes after a reconnect: the newest message id delivered (`since=`),
 * its storage epoch (`epoch=`) and the highest room version applied (`since_version=`, the message
 * store's); and the replay the open socket asked for. A replay's new messages wait here until it
 * is over, then go out in id order: a `since_version=` replay sends them in version order. A replay
 * cut short is asked for again from where it began, as what came of it is no prefix of the ids.
 */
export class Resume {
  /** The open socket asked for a replay and `chat.recovered` has not come yet. */
  replaying = false
  /** The `since=` of the open socket's replay. */
  from: number | null = null
  /** Its `since_version=`. */
  private fromVersion: number | null = null
  /** New messages of the replay under way. */
  private waiting: Message[] = []

  constructor(
    /** The newest message id delivered (or given by the app). */
    public position: number | null,
    public epoch: string | null,
    private readonly store: MessageStore,
  ) {}

  /** The query of the next connect; a replay is expected when it has a place to resume from. */
  query(): Record<string, string | number> {
    const { version } = this.store
    this.replaying = this.position !== null || version !== null
    this.from = this.position
    this.fromVersion = version
    const query: Record<string, string | number> = {}
    // The server replays by version when given one; since= stays for the message order.
    if (this.position !== null) query.since = this.position
    if (version !== null) query.since_version = version
    if (this.replaying && this.epoch !== null) query.epoch = this.epoch
    return query
  }

  /** A message new to the store: the ones to deliver now (none for a repeat, or while a replay is under way). */
  arrived(message: Message): Message[] {
    // One order for everyone, replay then live: an id at or below the last one is a repeat.
    if (this.position !== null && message.id <= this.position) return []
    if (!this.replaying) return [message]
    this.waiting.push(message)
    return []
  }

  /** The replay is over (`chat.recovered`): its new messages to deliver, in id order. */
  recovered(frame: RecoveredFrame): Message[] {
    this.replaying = false
    this.epoch = frame.epoch
    if (frame.reset) {
      this.position = null
      this.waiting = []
      this.store.clear()
    }
    if (frame.version !== undefined) this.store.reached(frame.version)
    const ready: Message[] = []
    for (const m of this.waiting.sort((a, b) => a.id - b.id)) if (m.id > (ready.at(-1)?.id ?? this.position ?? 0)) ready.push(m)
    this.waiting = []
    return ready
  }

  /** The socket closed: a replay under way is asked for again from where it began. */
  dropped(): void {
    if (!this.replaying) return
    this.waiting = []
    this.store.version = this.fromVersion
  }
}
