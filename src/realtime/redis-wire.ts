import type { MadeChange } from '../store/messages.ts'
import type { MessageRow } from '../store/store.ts'
import type { UserChange } from './events.ts'

/** What travels between instances on Redis: one pub/sub channel per room, and its envelopes. */

/** The channel carrying a room's events. */
export const roomChannel = (prefix: string, roomId: number) => `${prefix}room:${roomId}`

/** The channel carrying a user's events (their streams). */
export const userChannel = (prefix: string, userId: string) => `${prefix}user:${userId}`

/** The channel every instance listens to for nudges: events wait in these webhook lanes (`l`), stored by instance `o`. */
export const lanesChannel = (prefix: string) => `${prefix}webhook-lanes`
export type LanesEnvelope = { o: string; l: number[] }

/** On a user's channel: `c` a change, published by instance `o`; or `l`: some of the user's events `o` published were lost. */
export type UserEnvelope = { t: 'u'; o: string; c: UserChange } | { t: 'l'; o: string }

/** On a room's channel. */
export type Envelope =
  /** A committed change of a message (`c`, none for its creation): receivers order them by `m.version`. */
  | { t: 'm'; m: MessageRow; c?: MadeChange; n?: readonly string[] }
  /** An event an instance publishes (typing): `f` the frame, `o` that instance, `x` the session it skips. */
  | { t: 'e'; f: string; o: string; x?: string }
  /**
   * A join or leave, published by the presence script that decided it, atomically with the
   * decision: `u` the user, `v` its version among the room's changes, `j` join (else leave),
   * `x` the session it skips (the joining one).
   */
  | { t: 'p'; f: string; u: string; v: number; j: boolean; x?: string }
  /**
   * The room has committed every version up to `v`: told again by a publisher whose events failed
   * to reach Redis; receivers read whatever they missed from the store.
   */
  | { t: 'v'; v: number }
  /** What the room's sockets must change (events.ts ControlEvent): `k` evict that user (`z` for a ban), `b` blocked, `f` a frame they hear, `v` the room version it made (ordered then). */
  | { t: 'c'; o: string; k?: string; z?: boolean; b?: boolean; f?: string; v?: number }
