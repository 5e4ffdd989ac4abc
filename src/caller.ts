import type { Config } from './config.ts'
import { forbidden, unauthorized } from './errors.ts'
import { secretMatches } from './gateway.ts'
import { identityFromHeaders, identityHeaders, type Identity } from './identity.ts'
import type { Logger } from './logger.ts'
import type { Membership } from './store/membership.ts'

/** The header the app's own backend sends with SERVICE_SECRET. */
const SERVICE_SECRET_HEADER = 'x-service-secret'

/**
 * Who is asking: the user the gateway identified (null without `X-User-Id`), and whether the call
 * comes from the app's own backend (`X-Service-Secret` matches SERVICE_SECRET), which may read any
 * room and manage any room's members.
 */
export interface Caller {
  identity: Identity | null
  service: boolean
}

/** A caller known to be a user (service calls may carry one too). */
export type IdentifiedCaller = Caller & { identity: Identity }

/** The caller's identity, or 401 when the gateway sent none. */
export function requireIdentity(caller: Caller): IdentifiedCaller {
  if (caller.identity === null) throw unauthorized('identity_required', 'X-User-Id and the other identity headers are required; send the request through the gateway.')
  return caller as IdentifiedCaller
}

/** 403 unless the call comes from the app's backend. */
export function requireService(caller: Caller, what: string): void {
  if (!caller.service) throw forbidden('service_call_required', `Only the app's backend (a service call with X-Service-Secret) may ${what}.`)
}

/**
 * Slots of the profile cache (a power of two): a user id's hash picks its slot, so two users of
 * one slot take turns (only a filter on writes: forgetting costs a write). 256 KiB, however many
 * users come by.
 */
const PROFILE_SLOTS = 65_536
/** Profiles are written together, at most this long after they were seen... */
const FLUSH_MS = 200
/** ...or as soon as this many wait. */
const FLUSH_BATCH = 500

/** The cache's slot of a user. */
const slotOf = (userId: string) => Bun.hash.crc32(userId) & (PROFILE_SLOTS - 1)

/**
 * A short digest of a profile, its user's id among it, as the cache keeps it: equal digests in the
 * user's slot mean nothing to write. Never 0, which an empty slot holds.
 */
const digestOf = (identity: Identity) => Bun.hash.crc32(`${identity.userId}\u0000${identity.nickname}\u0000${identity.email}\u0000${identity.profileUrl ?? ''}`) || 1

/**
 * The profile cache's writer: the last nickname, e-mail and picture seen for each user, so member
 * lists can name people who are offline. A profile is written only when it changed since this
 * process last wrote it, and never holds up the request that carried it: changes are written
 * together in one statement a moment later (a reconnect storm of thousands of users is a handful
 * of writes). A failed write is logged and retried the next time the user is seen.
 */
export class Profiles {
  /**
   * Per slot, the digest of the profile last written or queued of a user of that slot (a digest
   * collision skips one update). An array of numbers rather than a map by user id: a map's entry
   * cost 55 to 131 bytes per user (3,000 and 5,000 users, heap snapshots), a slot 4.
   */
  private readonly written = new Uint32Array(PROFILE_SLOTS)
  private pending = new Map<string, Identity>()
  private timer: ReturnType<typeof setTimeout> | null = null

  constructor(
    private readonly membership: Membership,
    private readonly logger: Logger,
  ) {}

  seen(identity: Identity): void {
    const slot = slotOf(identity.userId)
    const digest = digestOf(identity)
    if (this.written[slot] === digest) return
    this.written[slot] = digest
    this.pending.set(identity.userId, identity)
    if (this.pending.size >= FLUSH_BATCH) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS)
  }

  /** Writes what waits now (on shutdown, say). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    const batch = [...this.pending.values()]
    this.pending = new Map()
    if (batch.length === 0) return Promise.resolve()
    return this.membership.saveProfiles(batch).catch((err: unknown) => {
      for (const identity of batch) {
        const slot = slotOf(identity.userId)
        if (this.written[slot] === digestOf(identity)) this.written[slot] = 0
      }
      this.logger.warn('remembering user profiles failed; they are written when next seen', { users: batch.length, err })
    })
  }
}

/**
 * Reads the caller of a request from its headers: identity when `X-User-Id` is present (400 when
 * invalid), service when SERVICE_SECRET is set and matched. Every identified caller updates the
 * profile cache.
 */
export function createCallers(config: Pick<Config, 'SERVICE_SECRET'>, profiles: Profiles) {
  return (headers: Headers): Caller => {
    const identity = headers.has(identityHeaders.userId) ? identityFromHeaders(headers) : null
    if (identity) profiles.seen(identity)
    return { identity, service: isServiceCall(headers, config.SERVICE_SECRET) }
  }
}

/** True when SERVICE_SECRET is set and the request carries it (compared in constant time). */
export const isServiceCall = (headers: Headers, secret: string | undefined) => secret !== undefined && secretMatches(headers.get(SERVICE_SECRET_HEADER), secret)
export type Callers = ReturnType<typeof createCallers>
