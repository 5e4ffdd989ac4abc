import type { Config } from '../config.ts'
import type { Logger } from '../logger.ts'
import type { Metrics } from '../metrics.ts'
import type { Broker } from '../realtime/broker.ts'
import type { Presence } from '../realtime/presence.ts'
import type { AttachmentLinks } from '../realtime/codec.ts'
import type { MessageRow, Store } from '../store/store.ts'
import { LANES } from '../store/outbox.ts'
import { INSTANCE_STALE_MS } from '../store/instances.ts'
import { RecentMessages } from './recent-messages.ts'
import { roomQueue } from './room-queue.ts'
import { WebhookSender } from './sender.ts'

/** A lane released for another instance that none took within this is taken back (no other instance sends webhooks). */
const ORPHAN_MS = 10_000

/** Lanes held elsewhere where events committed here wait are nudged together, at most this often. */
const NUDGE_MS = 20
/** How often the lanes' leases are renewed (and this instance's share taken); a third of the lease when that is shorter. */
const LEASE_RENEW_MS = 2000
/** How often the pending count and the oldest pending age are refreshed for the metrics. */
const STATS_MS = 5000
/** Delivered events are forgotten after a day (dead letters are kept until re-queued). */
const KEEP_DELIVERED_MS = 86_400_000
const PRUNE_MS = 600_000

/** How much one pass over a lane reads: its pending outbox events, its rooms behind, each room's messages. */
const PASS_EVENTS = 500
const PASS_ROOMS = 200
const PASS_MESSAGES = 200

/**
 * Sends the outbox's events, and a `message.created` for each message stored, to WEBHOOK_URL.
 * Events go out through lanes (by room): an instance leases lanes and renews the lease while it
 * lives, so each lane, and each room, is sent by one instance at a time, in order; a dead
 * instance's lanes are taken over when its lease runs out. A pass over a lane sends each room's
 * due events one after another (rooms side by side, at most WEBHOOK_CONCURRENCY requests at once)
 * and stops a room at its first failure: the events after it wait for its retry. Failures are
 * retried with exponential backoff and jitter (Retry-After honoured) until WEBHOOK_MAX_AGE, then
 * dead-lettered; other 4xx answers dead-letter at once. A lane's pass starts when an event in it
 * commits here (EventConsumers: `committed`, `written`), when another instance nudges it, when the
 * lane is taken over, and at the poll (WEBHOOK_POLL_MS: retries come due, nudges lost); a lane's
 * passes start at least WEBHOOK_PASS_GAP_MS apart, so a busy room's events go out together. The leases
 * and passes are here; sending the events and recording what became of them is WebhookSender's
 * (sender.ts).
 */
export class WebhookDispatcher {
  private readonly instance = crypto.randomUUID()
  private readonly leaseMs: number
  private readonly sender: WebhookSender
  /** Messages committed here lately, sent from memory where that is proven exact. */
  private readonly recent = new RecentMessages()
  private readonly fromMemory
  private readonly fromDatabase
  private readonly nudgesSent
  private readonly nudgesReceived
  /** Per lane, the last room the previous pass read: the next one goes on after it (so every room gets its turn). */
  private readonly roomsFrom = new Map<number, number>()
  /** Lanes with a pass running, and whether another was asked for meanwhile. */
  private readonly passes = new Map<number, { again: boolean; done: Promise<void> }>()
  /**
   * A lane's passes start at least this far apart (WEBHOOK_PASS_GAP_MS). An idle room's event goes
   * out at once; a busy room's events of the next moments go out together, in one pass and one
   * POST, instead of a pass each: a pass that sends a few events costs more than they do.
   */
  private readonly passGapMs: number
  /** Per lane, when its last pass started. */
  private readonly passStarted = new Map<number, number>()
  private stopped = false
  private readonly timers: ReturnType<typeof setInterval>[] = []
  private lanes = new Set<number>()
  private leasing = false
  /** Whether the last poll failed: told once, and so is the recovery after it. */
  private pollFailing = false
  /** A poll is under way: the next waits for it (a slow database gets one query at a time). */
  private polling = false
  private readonly pollMs: number
  /** Lanes held elsewhere with messages committed here since the last nudge, and the nudge's timer. */
  private readonly toNudge = new Set<number>()
  private nudgeTimer: ReturnType<typeof setTimeout> | null = null

  constructor(
    private readonly store: Store,
    presence: Presence,
    config: Config & { WEBHOOK_URL: string; WEBHOOK_SECRET: string },
    private readonly metrics: Metrics,
    private readonly logger: Logger,
    /** Signs the URLs of messages' attachments (fresh at each attempt). */
    links: AttachmentLinks,
    /** Nudges the instances holding lanes where messages committed here wait. */
    private readonly broker: Pick<Broker, 'nudge'>,
  ) {
    this.leaseMs = 2 * config.WEBHOOK_TIMEOUT * 1000 + 2000
    this.pollMs = config.WEBHOOK_POLL_MS
    this.passGapMs = config.WEBHOOK_PASS_GAP_MS
    this.sender = new WebhookSender(store, presence, config, metrics, logger, links)
    this.fromMemory = metrics.webhookMessageReads.labels('memory')
    this.fromDatabase = metrics.webhookMessageReads.labels('database')
    this.nudgesSent = metrics.webhookNudges.labels('sent')
    this.nudgesReceived = metrics.webhookNudges.labels('received')
  }

  async start(): Promise<void> {
    await this.sender.start()
    this.timers.push(setInterval(() => void this.lease(), Math.min(LEASE_RENEW_MS, this.leaseMs / 3)))
    this.timers.push(setInterval(() => void this.poll(), this.pollMs))
    this.timers.push(setInterval(() => void this.refreshStats(), STATS_MS))
    this.timers.push(setInterval(() => void this.prune(), PRUNE_MS))
    for (const timer of this.timers) timer.unref()
    void this.refreshStats()
    // The first lease looks at every lane it takes.
    await this.lease()
  }

  /**
   * Looks for events in the lanes this instance holds (those failed and due again, those whose
   * nudge was lost), with one query for all of them: a pass runs only in a
   * lane that has some, so an idle server reads nothing more than that query.
   */
  private async poll() {
    if (this.stopped || this.polling || this.lanes.size === 0) return
    this.polling = true
    try {
      await this.look([...this.lanes])
      if (this.pollFailing) this.logger.info('looking for due webhook events works again')
      this.pollFailing = false
    } catch (err) {
      if (!this.pollFailing) this.logger.warn('looking for due webhook events failed; will retry', { err })
      this.pollFailing = true
    } finally {
      this.polling = false
    }
  }

  /** Runs a pass in each of these lanes that has events waiting (one query for all of them). */
  private async look(lanes: number[]) {
    for (const lane of await this.store.outbox.lanesWithWork(lanes)) if (this.lanes.has(lane) && !this.stopped) this.pass(lane)
  }

  /**
   * A room's message was just stored (or changed) here. Its lane, when this instance holds it, is
   * looked at now rather than at the next poll, and the message is kept to be sent from memory;
   * the instance holding it otherwise is nudged (with the other lanes of the next NUDGE_MS).
   */
  committed(message: MessageRow): void {
    const lane = message.roomId % LANES
    if (this.stopped) return
    if (this.lanes.has(lane)) this.recent.committed(message)
    this.wake(lane)
  }

  /** Events were written here (a room's, a member's, a report's) into these lanes: as for a message, looked at now or nudged. */
  written(lanes: readonly number[]): void {
    if (this.stopped) return
    for (const lane of lanes) this.wake(lane)
  }

  /** Events committed here wait in the lane: a pass now when this instance holds it, else a nudge to the one that does. */
  private wake(lane: number) {
    if (this.lanes.has(lane)) this.pass(lane)
    else this.nudgeSoon(lane)
  }

  /** Another instance committed messages whose lanes may be held here: those held are looked at now. */
  nudged(lanes: readonly number[]): void {
    if (this.stopped) return
    for (const lane of lanes) {
      if (!this.lanes.has(lane)) continue
      this.nudgesReceived.inc()
      this.pass(lane)
    }
  }

  private nudgeSoon(lane: number) {
    this.toNudge.add(lane)
    if (this.nudgeTimer !== null) return
    this.nudgeTimer = setTimeout(() => {
      this.nudgeTimer = null
      this.broker.nudge([...this.toNudge])
      this.nudgesSent.inc(this.toNudge.size)
      this.toNudge.clear()
    }, NUDGE_MS)
    this.nudgeTimer.unref()
  }

  /** Stops sending; waits for the requests in flight (bounded by WEBHOOK_TIMEOUT), gives the lanes up. */
  async stop(): Promise<void> {
    this.stopped = true
    this.sender.stop()
    for (const timer of this.timers) clearInterval(timer)
    if (this.nudgeTimer !== null) clearTimeout(this.nudgeTimer)
    await Promise.allSettled([...this.passes.values()].map((p) => p.done))
    await this.store.outbox.releaseLanes(this.instance).catch(() => {})
    this.sender.close()
  }

  /**
   * Renews this instance's share of the lanes (an even split over the instances alive, by their
   * heartbeats) and takes free or expired ones up to it. Lanes held past the share are given up once
   * their pass is done (so no event is sent by two instances), for an instance short of its share
   * to take at its next lease; lanes nobody took for ORPHAN_MS (no other instance sends webhooks)
   * are taken back.
   */
  private async lease() {
    // One at a time: giving lanes up waits for their passes, which may outlast the interval.
    if (this.stopped || this.leasing) return
    this.leasing = true
    const { outbox } = this.store
    try {
      const now = Date.now()
      const alive = (await this.store.instancesSeenSince(now - INSTANCE_STALE_MS)).length
      const share = Math.ceil(LANES / Math.max(1, alive))
      const before = this.lanes
      const held = new Set(await outbox.leaseLanes(this.instance, now, this.leaseMs, share))
      const beyond = [...this.lanes].filter((lane) => !held.has(lane))
      this.lanes = held
      if (beyond.length > 0) {
        await Promise.all(beyond.map((lane) => this.passes.get(lane)?.done))
        await outbox.releaseLanes(this.instance, beyond, Date.now())
      }
      for (const lane of await outbox.leaseLanes(this.instance, now, this.leaseMs, LANES, now - ORPHAN_MS)) this.lanes.add(lane)
      // A lane taken over may hold events its last owner left (and nudges sent meanwhile went there).
      const taken = [...this.lanes].filter((lane) => !before.has(lane))
      if (taken.length > 0) await this.look(taken).catch((err) => this.logger.warn('looking at webhook lanes taken over failed; the next poll will', { err }))
    } catch (err) {
      // Without a lease nothing is sent from here; another instance (or this one, later) takes over.
      this.lanes = new Set()
      this.logger.warn('leasing webhook lanes failed; will retry', { err })
    } finally {
      this.leasing = false
    }
  }

  /**
   * Runs a pass over the lane, or asks the running one for another after it. A pass starts the
   * gap after the lane's last one started at the earliest: until then it waits (as the lane's
   * pass), and what else commits in the lane meanwhile goes with it.
   */
  private pass(lane: number) {
    const running = this.passes.get(lane)
    if (running) return void (running.again = true)
    const state = { again: false, done: Promise.resolve() }
    state.done = (async () => {
      do {
        const wait = this.untilNextPass(lane)
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        if (this.stopped || !this.lanes.has(lane)) break
        state.again = false
        this.passStarted.set(lane, Date.now())
        await this.sendLane(lane).catch((err: unknown) => this.logger.warn('a webhook pass failed; will retry', { lane, err }))
      } while (state.again && !this.stopped && this.lanes.has(lane))
      this.passes.delete(lane)
    })()
    this.passes.set(lane, state)
  }

  /** How long the lane's next pass must wait for the gap since its last one started (0: not at all). */
  private untilNextPass(lane: number): number {
    const last = this.passStarted.get(lane)
    return last === undefined ? 0 : Math.max(0, last + this.passGapMs - Date.now())
  }

  /**
   * One pass: each room's due events in order, rooms side by side. A room's events are its outbox
   * rows and its messages after its cursor, merged by position.
   */
  private async sendLane(lane: number) {
    const outbox = this.store.outbox
    const from = this.roomsFrom.get(lane) ?? 0
    const [events, behind] = await Promise.all([outbox.pendingIn(lane, PASS_EVENTS), outbox.roomsBehind(lane, PASS_ROOMS, from)])
    this.roomsFrom.set(lane, behind.length === PASS_ROOMS ? behind.at(-1)!.roomId : 0)
    const now = Date.now()
    // Events not read (past the limit) stand at or after the last one read: later messages wait for them.
    const allEvents = events.length < PASS_EVENTS
    const cut = allEvents ? Number.POSITIVE_INFINITY : events.at(-1)!.position
    const eventsByKey = Map.groupBy(events, (e) => e.key)
    const messagesByKey = new Map<string, { messages: MessageRow[]; more: boolean }>()
    await Promise.all(
      behind.map(async (position) => {
        const { roomId, after } = position
        const remembered = this.recent.since(roomId, position, PASS_MESSAGES)
        const read = remembered ?? (await this.store.listMessages(roomId, { after, limit: PASS_MESSAGES }))
        const messages = read.filter((m) => m.id <= cut)
        const source = remembered ? this.fromMemory : this.fromDatabase
        source.inc(messages.length)
        messagesByKey.set(`room:${roomId}`, { messages, more: read.length === PASS_MESSAGES || messages.length < read.length })
      }),
    )
    const keys = new Set([...eventsByKey.keys(), ...messagesByKey.keys()])
    const queues = [...keys].map((key) => roomQueue(eventsByKey.get(key) ?? [], messagesByKey.get(key)?.messages ?? [], messagesByKey.get(key)?.more ?? false, now)).filter((q) => q.length > 0)
    await this.sender.fillMessages(queues.flat())
    await this.sender.sendQueues(queues)
    const more = !allEvents || from > 0 || behind.length === PASS_ROOMS || [...messagesByKey.values()].some((r) => r.more)
    if (more && queues.length > 0) this.passes.get(lane)!.again = true
  }

  private async refreshStats() {
    try {
      const stats = await this.store.outbox.stats(Date.now())
      this.metrics.webhookPending.set(stats.pending)
      this.metrics.webhookOldestPendingSeconds.set(stats.oldestPendingMs / 1000)
      this.metrics.webhookDeadLetters.set(stats.dead)
    } catch (err) {
      this.logger.warn('reading webhook outbox figures failed', { err })
    }
  }

  private async prune() {
    try {
      await this.store.outbox.prune(Date.now() - KEEP_DELIVERED_MS)
    } catch (err) {
      this.logger.warn('pruning delivered webhook events failed', { err })
    }
  }
}
