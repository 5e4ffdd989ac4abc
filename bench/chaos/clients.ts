import type { Frame } from '../../test/support/socket.ts'
import { type Change, changeFrame, identityHeaders, pickChange, readRoom, restChange, settled } from './changes.ts'
import type { Ack, ChaosUser, ConnectionRecord, ReceivedFrame, RestAttempt, RestChange, RoomCopy, UnackedSend } from './history.ts'
import type { Random } from './random.ts'
import { TabCopy } from './tab-copy.ts'

/** What the clients need from the run: where the instances are, and where to record. */
export interface ClientWorld {
  /** Indexes of instances believed up. */
  live(): number[]
  base(instance: number): string
  wsBase(instance: number): string
  record: Recorder
}

/** Everything the clients observed, shared by all of them. */
export class Recorder {
  readonly connections: ConnectionRecord[] = []
  readonly acks: Ack[] = []
  readonly rest: RestAttempt[] = []
  readonly restChanges: RestChange[] = []
  readonly counts = {
    sends: 0,
    attempts: 0,
    restSends: 0,
    reconnects: 0,
    failedHandshakes: 0,
    retries: 0,
    ackTimeouts: 0,
    storeErrors: 0,
    replayFailures: 0,
    changes: 0,
    restChanges: 0,
    edit: 0,
    unsend: 0,
    react: 0,
    unreact: 0,
    pageLoads: 0,
    resyncs: 0,
  }
}

/** One send until it is acknowledged: the same client_msg_id on every attempt. */
interface PendingSend {
  cmid: string
  text: string
  via: 'ws' | 'rest'
  firstAt: number
  attempts: number
  lastSentAt: number
  /** Attempts on the current connection that went unanswered. */
  timeouts: number
}

/** How long a send may go unanswered on an open socket before it is sent again. */
const ACK_TIMEOUT_MS = 4000
/** Unanswered resends on one socket before the client gives up on that socket and reconnects. */
const ACK_TIMEOUTS_BEFORE_RECONNECT = 3
/** A handshake that takes longer than this is abandoned. */
const CONNECT_TIMEOUT_MS = 5000
/** A reconnect whose replay has not finished (chat.recovered) by then is abandoned. */
const RECOVERY_TIMEOUT_MS = 30_000
const REST_TIMEOUT_MS = 5000

/**
 * One browser tab of one user in one room: keeps a socket open (reconnecting with since_version=
 * to a random live instance after any close), sends messages at a modest rate with unique
 * client_msg_ids (some over REST), retries each until acknowledged, now and then edits or unsends
 * one of its own messages or reacts to one, records every frame, and keeps its copy of the room
 * (tab-copy.ts).
 */
export class ChaosTab {
  private ws: WebSocket | null = null
  private record: ConnectionRecord | null = null
  /** The socket is open and past its replay (chat.recovered): sends and changes go out. */
  private live = false
  private connections = 0
  private failures = 0
  private readonly copy: TabCopy
  /** False until a page load's replay ended: until then a new connection loads the page again. */
  private loaded = false
  /** A page load is reading the room (or waiting to read it again): no other connect starts. */
  private loading = false
  /** Reading the room again after a truncated replay. */
  private resyncing = false
  /** A REST change under way: the run waits for it before reading the history. */
  private changing = false
  private changesMade = 0
  private pending: PendingSend | null = null
  private sent = 0
  private sending = false
  /** False while the tab keeps its socket closed. */
  private wantOpen = true
  /** Set for good by `leave` and `shutdown`. */
  private left = false
  /** The next connection is a page reload: the room is read again, a new copy. */
  private fresh = false
  private timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly ackTimer: ReturnType<typeof setInterval>

  constructor(
    readonly id: string,
    readonly user: ChaosUser,
    readonly room: number,
    private readonly firstInstance: number,
    private readonly rng: Random,
    private readonly world: ClientWorld,
    /** Share of sends that go over REST. */
    private readonly restShare: number,
    /** Chance, per acknowledged send, that the tab closes and comes back a few seconds later. */
    private readonly churn: number,
    /** Share of operations that change a message instead of sending one. */
    private readonly changeShare: number,
  ) {
    this.ackTimer = setInterval(() => this.checkAck(), 500)
    this.copy = new TabCopy(id, room, user.user_id)
  }

  /** True while the tab has an open socket (upgrade done, not closed). */
  get open(): boolean {
    return this.record !== null && this.record.openedAt !== null && this.record.closedAt === null
  }

  /** Open and live: replay done, so a send can go out. */
  private get ready(): boolean {
    return this.open && this.live
  }

  /** True once the tab was told to leave for good. */
  get leftForGood(): boolean {
    return this.left
  }

  /** Live and holding the room's newest message `top` and every change up to the room's `version`. */
  caughtUp(top: number, version: number): boolean {
    return this.ready && !this.resyncing && this.copy.newestId() >= top && this.copy.version >= version
  }

  get unacked(): PendingSend | null {
    return this.pending
  }

  /** A change over REST is still under way. */
  get busy(): boolean {
    return this.changing
  }

  /** The tab's copy of its room, for the history. */
  roomCopy(): RoomCopy {
    return this.copy.snapshot()
  }

  start(): void {
    this.connect()
  }

  /** Starts sending (a message every 0.7–2.5 s, each after the previous one was acknowledged). */
  startSending(): void {
    this.sending = true
    this.later(this.rng.between(200, 2500), () => this.nextSend())
  }

  /** No new sends; a pending one is still retried until acknowledged. */
  stopSending(): void {
    this.sending = false
  }

  /** Closes the socket cleanly and stays closed. */
  leave(): void {
    this.left = true
    this.wantOpen = false
    this.ws?.close(1000, 'leaving')
  }

  /** Ends everything (the run is over); nothing is recorded after this. */
  shutdown(): void {
    this.left = true
    this.wantOpen = false
    this.sending = false
    clearInterval(this.ackTimer)
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.ws?.close(1000, 'done')
  }

  /** What is still unacknowledged, for the history. */
  unackedSend(): UnackedSend | null {
    const p = this.pending
    return p && { tab: this.id, room: this.room, userId: this.user.user_id, cmid: p.cmid, via: p.via, firstAt: p.firstAt, attempts: p.attempts }
  }

  private later(ms: number, fn: () => void) {
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      fn()
    }, ms)
    this.timers.add(timer)
  }

  /**
   * Opens the next socket: a reconnect asks since_version= the copy's version; a page load (the
   * first, a reload, or one whose replay never ended) reads the room over REST into a new copy
   * first and asks since_version= the version read before it.
   */
  private connect() {
    if (!this.wantOpen) return
    const live = this.world.live()
    if (live.length === 0) return this.later(500, () => this.connect())
    const instance = this.connections === 0 && live.includes(this.firstInstance) ? this.firstInstance : this.rng.pick(live)
    if (this.loaded && !this.fresh) return this.openSocket(instance, this.copy.newestId())
    this.fresh = false
    this.loaded = false
    this.loading = true
    this.world.record.counts.pageLoads++
    readRoom(this.world.base(instance), this.room, this.user).then(
      ({ version, messages }) => {
        this.loading = false
        if (!this.wantOpen) return
        this.copy.replace(version, messages)
        this.openSocket(instance, null)
      },
      () =>
        this.later(300 + this.rng.between(0, 300), () => {
          this.loading = false
          this.connect()
        }),
    )
  }

  /** Opens a socket on `instance`, replaying after the copy's version; `since` is the id floor the checker holds it to (null on a page load). */
  private openSocket(instance: number, since: number | null) {
    this.connections++
    if (this.connections > 1) this.world.record.counts.reconnects++
    const query = new URLSearchParams({ ...this.user, since_version: String(this.copy.version) })
    const record: ConnectionRecord = {
      conn: `${this.id}#${this.connections}`,
      tab: this.id,
      userId: this.user.user_id,
      room: this.room,
      instance,
      since,
      sinceVersion: this.copy.version,
      startedAt: Date.now(),
      openedAt: null,
      closedAt: null,
      closeCode: null,
      sent: [],
      changes: [],
      frames: [],
    }
    this.world.record.connections.push(record)
    this.record = record
    this.live = false
    const ws = new WebSocket(`${this.world.wsBase(instance)}/ws/chat/${this.room}/chat/?${query}`)
    this.ws = ws
    const connectTimer = setTimeout(() => ws.close(), CONNECT_TIMEOUT_MS)
    ws.addEventListener('open', () => {
      clearTimeout(connectTimer)
      record.openedAt = Date.now()
      this.failures = 0
      this.later(RECOVERY_TIMEOUT_MS, () => {
        if (this.record === record && !this.live && record.closedAt === null) ws.close(4001, 'no recovery; reconnecting')
      })
    })
    ws.addEventListener('message', (event) => this.receive(record, String(event.data)))
    ws.addEventListener('close', (event) => {
      clearTimeout(connectTimer)
      if (record.closedAt !== null) return
      record.closedAt = Date.now()
      record.closeCode = event.code
      record.closeReason = event.reason
      if (record.openedAt === null) this.world.record.counts.failedHandshakes++
      if (this.ws === ws) this.ws = null
      if (!this.wantOpen) return
      // Back off a little more after each failed attempt (503/429 handshakes, instance down).
      this.failures = record.openedAt === null ? this.failures + 1 : 0
      const wait = Math.min(3000, 100 * 2 ** Math.min(this.failures, 5)) + this.rng.between(0, 300)
      this.later(wait, () => this.connect())
    })
  }

  private receive(record: ConnectionRecord, data: string) {
    let frame: Record<string, unknown>
    try {
      frame = JSON.parse(data) as Record<string, unknown>
    } catch {
      record.frames.push({ at: Date.now(), type: 'unparseable' })
      return
    }
    const type = String(frame.type)
    const kept: ReceivedFrame = { at: Date.now(), type }
    if (type === 'chat.message') {
      kept.id = frame.id as number
      kept.user_id = frame.user_id as string
      kept.client_msg_id = (frame.client_msg_id ?? null) as string | null
    } else if (type === 'chat.recovered') {
      kept.count = frame.count as number
      kept.truncated = frame.truncated as boolean
    } else if (type === 'chat.error') {
      kept.code = frame.code as string
    } else if (type === 'chat.user.join' || type === 'chat.user.leave') {
      kept.user_id = frame.user_id as string
    } else if (type === 'chat.message.updated' || type === 'chat.message.deleted' || type === 'chat.reaction') {
      kept.id = type === 'chat.message.updated' ? (frame.message as { id: number }).id : (frame.id as number)
      if (type === 'chat.reaction') Object.assign(kept, { emoji: frame.emoji, added: frame.added, user_id: frame.user_id })
    }
    if (typeof frame.version === 'number') kept.version = frame.version
    record.frames.push(kept)
    // After a failed replay the socket is being closed: what it still gets is not applied.
    if (this.record === record && !record.replayFailed) this.copy.apply(frame as Frame, kept)
    if (type === 'chat.message') {
      const p = this.pending
      if (p && kept.user_id === this.user.user_id && kept.client_msg_id === p.cmid) this.acknowledge(p, kept.id!, 'ws')
    } else if (type === 'chat.recovered') {
      if (this.record !== record) return
      if (record.since === null) this.loaded = true
      if (kept.truncated) void this.resync()
      this.goLive()
    } else if (type === 'chat.error' && !this.live && this.record === record) {
      // Only a replay fails before chat.recovered here (nothing is sent before it): the server
      // could not replay and said so. Reconnect and ask again from the same point.
      this.world.record.counts.replayFailures++
      record.replayFailed = true
      this.ws?.close(4002, 'replay failed; reconnecting')
    } else if (type === 'chat.error' && (kept.code === 'store_failed' || kept.code === 'unavailable')) {
      this.world.record.counts.storeErrors++
      const p = this.pending
      // The send was refused and not stored (or not known to be): send it again shortly.
      if (p?.via === 'ws') this.later(this.rng.between(300, 1000), () => this.pending === p && this.transmit(p))
    }
  }

  /**
   * A truncated replay left older changes out: the room is read again over REST, each message kept
   * in the newer of its two forms, until a read succeeds.
   */
  private async resync() {
    if (this.resyncing) return
    this.resyncing = true
    this.world.record.counts.resyncs++
    while (!this.left) {
      const live = this.world.live()
      try {
        if (live.length === 0) throw new Error('no instance up')
        const { messages } = await readRoom(this.world.base(this.rng.pick(live)), this.room, this.user)
        this.copy.merge(messages)
        break
      } catch {
        await new Promise<void>((resolve) => this.later(500, resolve))
      }
    }
    this.resyncing = false
  }

  /** The socket is live: a pending send goes out now. */
  private goLive() {
    this.live = true
    if (this.pending?.via !== 'ws') return
    this.pending.timeouts = 0
    this.transmit(this.pending)
  }

  private acknowledge(p: PendingSend, id: number, via: 'ws' | 'rest') {
    this.world.record.acks.push({ tab: this.id, room: this.room, userId: this.user.user_id, cmid: p.cmid, id, via, at: Date.now() })
    if (this.pending !== p) return
    this.pending = null
    if (!this.sending) return
    if (this.rng.chance(this.churn)) {
      // Leave for a moment (a closed laptop lid) and come back with since_version=.
      this.ws?.close(1000, 'away for a moment')
      this.wantOpen = false
      this.later(this.rng.between(500, 4000), () => {
        if (this.left) return
        this.wantOpen = true
        // Sometimes the page is reloaded instead: it reads the room again.
        this.fresh = this.rng.chance(0.3)
        if (!this.ws && !this.loading) this.connect()
      })
    }
    this.later(this.rng.between(700, 2500), () => this.nextSend())
  }

  private nextSend() {
    if (!this.sending || this.pending || this.changing) return
    if (this.rng.chance(this.changeShare)) {
      const change = pickChange(this.copy.messages, this.user, this.id, ++this.changesMade, this.rng)
      if (change) return this.makeChange(change)
    }
    this.sent++
    const via = this.rng.chance(this.restShare) ? 'rest' : 'ws'
    const p: PendingSend = { cmid: `${this.id}-${this.sent}`, text: `${this.id} says ${this.sent}`, via, firstAt: Date.now(), attempts: 0, lastSentAt: 0, timeouts: 0 }
    this.pending = p
    this.world.record.counts.sends++
    if (via === 'rest') {
      this.world.record.counts.restSends++
      void this.restLoop(p)
    } else if (this.ready) this.transmit(p)
  }

  /**
   * Edits, unsends or reacts: over the socket when it is live (unanswered unless refused; what it
   * changed comes back as the room's frame), else, or for a share of changes, over REST until an
   * answer settles it. The next operation follows either way.
   */
  private makeChange(change: Change) {
    const counts = this.world.record.counts
    counts.changes++
    counts[change.op]++
    const next = () => this.later(this.rng.between(700, 2500), () => this.nextSend())
    if (this.ready && this.ws && this.record && !this.rng.chance(this.restShare)) {
      ;(this.record.changes ??= []).push({ at: Date.now(), op: change.op, id: change.id })
      this.ws.send(JSON.stringify(changeFrame(change)))
      return next()
    }
    counts.restChanges++
    this.changing = true
    void (async () => {
      for (let backoff = 200; !this.left; backoff = Math.min(3000, backoff * 2)) {
        const live = this.world.live()
        if (live.length > 0) {
          const instance = this.rng.pick(live)
          const attempt = await restChange(this.world.base(instance), instance, this.room, this.user, this.id, change)
          this.world.record.restChanges.push(attempt)
          if (settled(attempt.status)) break
        }
        await new Promise<void>((resolve) => this.later(backoff + this.rng.between(0, 200), resolve))
      }
      this.changing = false
      next()
    })()
  }

  /** Sends (or sends again) over the open socket. */
  private transmit(p: PendingSend) {
    if (this.pending !== p || !this.ready || !this.ws || !this.record) return
    if (p.attempts > 0) this.copy.repeatedSend(p.cmid)
    if (p.attempts > 0) this.world.record.counts.retries++
    p.attempts++
    this.world.record.counts.attempts++
    p.lastSentAt = Date.now()
    this.record.sent.push({ at: p.lastSentAt, cmid: p.cmid })
    this.ws.send(JSON.stringify({ type: 'chat.message', message: p.text, client_msg_id: p.cmid }))
  }

  /** An unanswered send is sent again; a socket that keeps not answering is given up on. */
  private checkAck() {
    const p = this.pending
    if (p?.via !== 'ws' || !this.ready || p.lastSentAt === 0 || Date.now() - p.lastSentAt < ACK_TIMEOUT_MS) return
    this.world.record.counts.ackTimeouts++
    p.timeouts++
    if (p.timeouts >= ACK_TIMEOUTS_BEFORE_RECONNECT) {
      p.timeouts = 0
      p.lastSentAt = 0
      this.ws?.close(4000, 'no answer; reconnecting')
      return
    }
    this.transmit(p)
  }

  /** POST /chat/v1/message/ to a random live instance until it answers 200/201 (or a socket echo acknowledges it). */
  private async restLoop(p: PendingSend) {
    for (let backoff = 200; this.pending === p; backoff = Math.min(3000, backoff * 2)) {
      const live = this.world.live()
      if (live.length > 0) {
        const instance = this.rng.pick(live)
        if (p.attempts > 0) this.world.record.counts.retries++
        p.attempts++
        this.world.record.counts.attempts++
        const attempt: RestAttempt = { tab: this.id, cmid: p.cmid, instance, at: Date.now(), status: 0 }
        try {
          const res = await fetch(`${this.world.base(instance)}/chat/v1/message/`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...identityHeaders(this.user) },
            body: JSON.stringify({ message: p.text, room: this.room, client_msg_id: p.cmid }),
            signal: AbortSignal.timeout(REST_TIMEOUT_MS),
          })
          attempt.at = Date.now()
          attempt.status = res.status
          const body = (await res.json().catch(() => ({}))) as { id?: number; code?: string }
          if (body.code) attempt.code = body.code
          if ((res.status === 200 || res.status === 201) && typeof body.id === 'number') {
            this.world.record.rest.push(attempt)
            return this.acknowledge(p, body.id, 'rest')
          }
        } catch {
          // No answer (instance down, timeout): try again, maybe elsewhere.
        }
        this.world.record.rest.push(attempt)
      }
      await new Promise<void>((resolve) => this.later(backoff + this.rng.between(0, 200), resolve))
    }
  }
}
