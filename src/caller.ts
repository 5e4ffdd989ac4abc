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

/** Users whose last written profile this process remembers (only a filter on writes: forgetting costs a write). */
const REMEMBERED_PROFILES = 50_000
/** Profiles are written together, at most this long after they were seen... */
const FLUSH_MS = 200
/** ...or as soon as this many wait. */
const FLUSH_BATCH = 500

/** A short digest of what the cache keeps of a profile: equal digests mean nothing to write. */
const digestOf = (identity: Identity) => Bun.hash.crc32(`${identity.nickname}\u0000${identity.email}\u0000${identity.profileUrl ?? ''}`)

/**
 * The profile cache's writer: the last nickname, e-mail and picture seen for each user, so member
 * lists can name people who are offline. A profile is written only when it changed since this
 * process last wrote it, and never holds up the request that carried it: changes are written
 * together in one statement a moment later (a reconnect storm of thousands of users is a handful
 * of writes). A failed write is logged and retried the next time the user is seen.
 */
export class Profiles {
  /** User id → digest of the profile last written or queued. (A digest collision skips one update.) */
  private readonly written = new Map<string, number>()
  private pending = new Map<string, Identity>()
  private timer: ReturnType<typeof setTimeout> | null = null

  constructor(
    private readonly membership: Membership,
    private readonly logger: Logger,
  ) {}

  seen(identity: Identity): void {
    const digest = digestOf(identity)
    if (this.written.get(identity.userId) === digest) return
    this.written.delete(identity.userId)
    if (this.written.size >= REMEMBERED_PROFILES) this.written.delete(this.written.keys().next().value!)
    this.written.set(identity.userId, digest)
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
      for (const identity of batch) if (this.written.get(identity.userId) === digestOf(identity)) this.written.delete(identity.userId)
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
