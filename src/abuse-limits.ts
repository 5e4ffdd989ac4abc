import type { Config } from './config.ts'
import { KeyedLimiter } from './token-bucket.ts'

/** Who is asking: the user when identified, the client address when known (see `clientAddress`). */
export interface Requester {
  userId: string | null
  address: string | null
}

/** `allowance` a `period`, in bursts of up to a quarter of it (at least one). */
const bucketFor = (allowance: number, period: 'minute' | 'hour') => new KeyedLimiter(period === 'minute' ? allowance : allowance / 60, Math.max(1, Math.floor(allowance / 4)))

/** A limit counted per user and per client address. */
class PairedLimit {
  constructor(
    private readonly byUser: KeyedLimiter,
    private readonly byAddress: KeyedLimiter,
  ) {}

  /** 0 when both the user and the address may go on, else the seconds to wait. */
  take({ userId, address }: Requester): number {
    // Unidentified callers share the bucket of their address, or one bucket for all (user ids
    // hold no NUL, so these keys never meet a user's).
    const user = this.byUser.take(userId ?? `\u0000${address ?? ''}`)
    const byAddress = address === null ? 0 : this.byAddress.take(address)
    return Math.max(user, byAddress)
  }

  close() {
    this.byUser.close()
    this.byAddress.close()
  }
}

/**
 * Limits on what is cheap to ask and costly to serve: WebSocket handshakes (each one a presence
 * change others hear about), room creation (rows that stay), reports, and member changes.
 */
export class AbuseLimits {
  private readonly handshakes: PairedLimit
  private readonly rooms: PairedLimit
  private readonly reports: PairedLimit
  private readonly memberChanges: PairedLimit

  constructor(config: Pick<Config, 'HANDSHAKES_PER_MINUTE' | 'HANDSHAKES_PER_MINUTE_PER_ADDRESS' | 'ROOMS_PER_HOUR' | 'ROOMS_PER_HOUR_PER_ADDRESS' | 'REPORTS_PER_HOUR' | 'MEMBER_CHANGES_PER_MINUTE'>) {
    this.handshakes = new PairedLimit(bucketFor(config.HANDSHAKES_PER_MINUTE, 'minute'), bucketFor(config.HANDSHAKES_PER_MINUTE_PER_ADDRESS, 'minute'))
    this.rooms = new PairedLimit(bucketFor(config.ROOMS_PER_HOUR, 'hour'), bucketFor(config.ROOMS_PER_HOUR_PER_ADDRESS, 'hour'))
    this.reports = new PairedLimit(bucketFor(config.REPORTS_PER_HOUR, 'hour'), bucketFor(config.REPORTS_PER_HOUR * 10, 'hour'))
    this.memberChanges = new PairedLimit(bucketFor(config.MEMBER_CHANGES_PER_MINUTE, 'minute'), bucketFor(config.MEMBER_CHANGES_PER_MINUTE * 10, 'minute'))
  }

  /** A member about to be added or removed (each is a row, a webhook event and a frame to their streams): 0 to go on, else the seconds to wait. */
  memberChange(who: Requester): number {
    return this.memberChanges.take(who)
  }

  /** A WebSocket handshake: 0 to go on, else the seconds to wait (429 with Retry-After). */
  handshake(who: Requester): number {
    return this.handshakes.take(who)
  }

  /** A room about to be created: 0 to go on, else the seconds to wait. */
  roomCreation(who: Requester): number {
    return this.rooms.take(who)
  }

  /** A report about to be stored: 0 to go on, else the seconds to wait. */
  report(who: Requester): number {
    return this.reports.take(who)
  }

  close(): void {
    this.memberChanges.close()
    this.reports.close()
    this.handshakes.close()
    this.rooms.close()
  }
}
