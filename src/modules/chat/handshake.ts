import type { Since } from '../../realtime/replay.ts'
import type { Server } from 'bun'
import type { AbuseLimits } from '../../abuse-limits.ts'
import { isServiceCall, type Profiles } from '../../caller.ts'
import type { Config } from '../../config.ts'
import { AppError, badRequest, tooMany, unavailable } from '../../errors.ts'
import { clientAddress, originAllowed } from '../../gateway.ts'
import { identityFromHandshake, type Identity } from '../../identity.ts'
import type { Broker } from '../../realtime/broker.ts'
import type { Hub } from '../../realtime/hub.ts'
import type { RoomRow, Store } from '../../store/store.ts'
import type { RoomAccess } from '../rooms/access.ts'
import { parseRoomId } from '../shared-model.ts'

/** What the handshake established, carried from the upgrade to the open socket. */
export interface Handshake {
  identity: Identity
  room: RoomRow
  /**
   * A private or direct room joined as a member (not a service call): membership is checked
   * again once the room's events flow to this instance, so a removal in between is not missed.
   */
  membersOnly: boolean
  /** A direct room whose pair has blocked each other: sends are refused (kept current by room events). */
  blocked: boolean
  /** Replay what came after this message id (`since=`) or room version (`since_version=`); null: go live at once. */
  since: Since | null
  /** The storage epoch now. */
  epoch: string
  /** True when the client's epoch= names another epoch: its since= means nothing here. */
  reset: boolean
}

/** `epoch=`: as the server gave it in `chat.recovered` or room detail. */
function parseEpoch(raw: string | null): string | null {
  if (raw === null || raw === '') return null
  if (!/^[A-Za-z0-9-]{1,64}$/.test(raw)) throw badRequest('invalid_epoch', 'epoch must be the value the server gave in chat.recovered or room detail.', [{ path: 'epoch', message: 'must be 1–64 letters, digits or dashes' }])
  return raw
}

/** `since=`: a message id. */
function parseSince(raw: string | null): number | null {
  if (raw === null || raw === '') return null
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw))) throw badRequest('invalid_since', 'since must be a message id (a non-negative integer).', [{ path: 'since', message: 'must be a non-negative integer' }])
  return Number(raw)
}

/** `since_version=`: a room version (as frames carry it); it wins over `since=` when both are given. */
function parseSinceVersion(raw: string | null): number | null {
  if (raw === null || raw === '') return null
  if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw)))
    throw badRequest('invalid_since_version', 'since_version must be a room version (a non-negative integer).', [{ path: 'since_version', message: 'must be a non-negative integer' }])
  return Number(raw)
}

/** True when the client offers the `chat` subprotocol. */
export const offersChatProtocol = (header: string | null) => (header ?? '').split(',').some((p) => p.trim() === 'chat')

/** What every handshake is checked against, room socket or user stream. */
export interface ConnectionDeps {
  config: Config
  broker: Broker
  profiles: Profiles
  abuse: AbuseLimits
  /** This instance's sockets: how many the user has open, room sockets and user streams together. */
  hub: Hub
}

export interface HandshakeDeps extends ConnectionDeps {
  store: Store
  access: RoomAccess
}

/**
 * What every handshake must pass, room socket or user stream: origin (403), identity (400, or 401
 * with IDENTITY_SOURCES=headers), handshake rate (429), live delivery (503), sockets per user
 * (429). `more` runs after the rate check (the room's own checks); returns the identity.
 */
export async function admitConnection(
  request: Request,
  server: Server<unknown> | null,
  { config, broker, profiles, abuse, hub }: ConnectionDeps,
  more: (identity: Identity) => Promise<void> = async () => {},
): Promise<Identity> {
  if (!originAllowed(request.headers.get('origin'), config.ALLOWED_ORIGINS)) {
    throw new AppError(403, 'origin_not_allowed', 'Forbidden', 'This origin may not open chat connections.')
  }
  const identity = identityFromHandshake(request.headers, new URL(request.url).searchParams, config.IDENTITY_SOURCES)
  // Every handshake is a presence change the room may hear of: limited per user and address.
  const wait = abuse.handshake({ userId: identity.userId, address: clientAddress(request, server, config) })
  if (wait > 0) throw tooMany('too_many_handshakes', 'Too many connection attempts; wait and reconnect.', wait)
  await more(identity)
  profiles.seen(identity)
  if (!broker.available) throw unavailable('broker_unavailable', 'Live delivery is down for a moment; reconnect shortly.')
  if (hub.socketsOfUser(identity.userId) >= config.MAX_SOCKETS_PER_USER) {
    throw tooMany('too_many_sockets', `This user already has ${config.MAX_SOCKETS_PER_USER} open chat connections; close one first.`)
  }
  return identity
}

/**
 * The handshake policy, checked before the upgrade (the gate has already judged the secret and
 * the peer): origin (403), identity (400, or 401 with IDENTITY_SOURCES=headers), handshake rate
 * (429), since and epoch (400), room (404) and membership (403 `not_a_member`), live delivery
 * (503), sockets per user and per room (429). Throws the refusal; returns what the open socket
 * needs. Membership is checked here, once per socket; member events keep it current after.
 */
export async function admitHandshake(request: Request, roomParam: string, server: Server<unknown> | null, deps: HandshakeDeps): Promise<Handshake> {
  const { config, hub, store, access } = deps
  const query = new URL(request.url).searchParams
  let admitted: { room: RoomRow; since: Since | null; givenEpoch: string | null; service: boolean } | undefined
  const identity = await admitConnection(request, server, deps, async (identity) => {
    const roomId = parseRoomId(roomParam)
    const sinceId = parseSince(query.get('since'))
    const sinceVersion = parseSinceVersion(query.get('since_version'))
    const since: Since | null = sinceVersion !== null ? { version: sinceVersion } : sinceId !== null ? { id: sinceId } : null
    const givenEpoch = parseEpoch(query.get('epoch'))
    const service = isServiceCall(request.headers, config.SERVICE_SECRET)
    const { room } = await access.admit(roomId, { identity, service })
    admitted = { room, since, givenEpoch, service }
  })
  const { room, since, givenEpoch, service } = admitted!
  const [epoch, blocked] = await Promise.all([store.epoch(), access.blocked(room)])
  if (hub.socketsInRoom(room.id) >= config.MAX_SOCKETS_PER_ROOM) throw tooMany('room_full', 'This room has as many open connections as it can take; try again later.')
  const reset = givenEpoch !== null && givenEpoch !== epoch
  return { identity, room, membersOnly: room.kind !== 'open' && !service, blocked, since: reset ? null : since, epoch, reset }
}
