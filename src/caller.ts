import type { Config } from './config.ts'
import { forbidden, unauthorized } from './errors.ts'
import { secretMatches } from './gateway.ts'
import { identityFromHeaders, identityHeaders, type Identity } from './identity.ts'
import type { Logger } from './logger.ts'
import type { Membership } from './store/membership.ts'

/** The header the app's own backend sends with SERVICE_SECRET. */
export const SERVICE_SECRET_HEADER = 'x-service-secret'

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

/** Profiles remembered per process before the oldest are forgotten (they are only a write filter). */
const REMEMBERED_PROFILES = 50_000

/**
 * The profile cache's writer: the last nickname, e-mail and picture seen for each user, so member
 * lists can name people who are offline. Writes only when a user's profile changed since this
 * process last wrote it, and never holds up the request that carried it (a failed write is logged).
 */
export class Profiles {
  private readonly written = new Map<string, string>()

  constructor(
    private readonly membership: Membership,
    private readonly logger: Logger,
  ) {}

  seen(identity: Identity): void {
    const fingerprint = `${identity.nickname}\u0000${identity.email}\u0000${identity.profileUrl ?? ''}`
    if (this.written.get(identity.userId) === fingerprint) return
    this.written.delete(identity.userId)
    if (this.written.size >= REMEMBERED_PROFILES) this.written.delete(this.written.keys().next().value!)
    this.written.set(identity.userId, fingerprint)
    this.membership.saveProfile(identity).catch((err: unknown) => {
      this.written.delete(identity.userId)
      this.logger.warn('remembering a user profile failed', { user: identity.userId, err })
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
