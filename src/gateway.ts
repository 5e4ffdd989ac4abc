import { timingSafeEqual } from 'node:crypto'
import type { Server } from 'bun'
import type { Requester } from './abuse-limits.ts'
import type { Config } from './config.ts'
import { AppError, badRequest, payloadTooLarge, problemResponse } from './errors.ts'
import { decodeHeaderValue, identityHeaders } from './identity.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'
import { ipInRanges, isIpAddress } from './net.ts'
import { FORM_FRAMING_BYTES, UPLOADS_PATH } from './uploads/request-limits.ts'
import { readTarget } from './request-target.ts'

/** The header carrying the secret shared with the gateway. */
const GATEWAY_SECRET_HEADER = 'x-gateway-secret'

const digest = (text: string) => new Bun.CryptoHasher('sha256').update(text).digest()

/** Compares a presented secret with the expected one in constant time (whatever their lengths). */
export function secretMatches(given: string | null, expected: string): boolean {
  if (given === null) return false
  // Hashing first makes both sides 32 bytes, so the comparison leaks neither content nor length.
  return timingSafeEqual(digest(given), digest(expected))
}

/** True when a WebSocket handshake's Origin may connect: no list, no Origin (not a browser), or listed. */
export function originAllowed(origin: string | null, allowed: readonly string[] | undefined): boolean {
  if (!allowed || origin === null) return true
  return allowed.includes(origin)
}

/** Method and path pairs that answer without the gateway: liveness only, so orchestrators can probe. */
const OPEN_ROUTES = new Set(['GET /healthz', 'HEAD /healthz'])

const isUpgrade = (request: Request) => request.headers.get('upgrade')?.toLowerCase() === 'websocket'

/** Routes the gate lets through without the secret besides `/healthz` (the test page, when public). */
export type PublicRoutes = (method: string, path: string) => boolean

/**
 * The trust boundary, the one place every request passes before routing (REST, WebSocket
 * upgrades, docs, metrics, the test page). In order: the target must be canonical (400); exact
 * open routes pass; with TRUSTED_PROXIES only those peers may connect (403); with GATEWAY_SECRET
 * the secret must match (401). A declared body longer than the route takes is 413, unread
 * (Bun itself stops any body, chunked too, at the largest a route takes).
 * Returns the refusal, or undefined to go on.
 */
export function createGatewayGuard(config: Config, logger: Logger, metrics: Metrics, publicRoutes: PublicRoutes = () => false) {
  const secret = config.GATEWAY_SECRET
  const proxies = config.TRUSTED_PROXIES
  if (!secret) logger.warn('GATEWAY_SECRET is not set: identity headers are trusted from any client that can reach this server')
  let forwardingPeerWarned = false
  const maxUploadBody = config.MAX_UPLOAD_BYTES + FORM_FRAMING_BYTES

  const refuse = (request: Request, error: AppError) => {
    if (isUpgrade(request)) metrics.handshakesRefused.inc({ reason: error.code })
    return problemResponse(error)
  }

  return (request: Request, server: Server<unknown> | null): Response | undefined => {
    const verdict = readTarget(request.url)
    if (!verdict.ok) return refuse(request, badRequest(verdict.code, verdict.detail))
    const { path } = verdict.target
    // A body longer than its route takes is refused unread (uploads take MAX_UPLOAD_BYTES, the rest MAX_BODY_BYTES).
    const declared = Number(request.headers.get('content-length') ?? 0)
    if (declared > (path === UPLOADS_PATH ? maxUploadBody : config.MAX_BODY_BYTES)) return refuse(request, payloadTooLarge('The request body is larger than this route takes.'))
    if (OPEN_ROUTES.has(`${request.method} ${path}`) || publicRoutes(request.method, path)) return
    if (proxies) {
      const peer = server?.requestIP(request)?.address
      if (!peer || !ipInRanges(peer, proxies)) {
        logger.warn('request from an untrusted peer refused', { peer, path })
        return refuse(request, new AppError(403, 'untrusted_peer', 'Forbidden', 'This server only accepts requests from the gateway.'))
      }
    }
    if (secret && !secretMatches(request.headers.get(GATEWAY_SECRET_HEADER), secret)) {
      return refuse(request, new AppError(401, 'gateway_secret_required', 'Unauthorized', 'Requests must come through the gateway (X-Gateway-Secret missing or wrong).'))
    }
    // Past the checks above a forwarding peer is untrusted only without TRUSTED_PROXIES (see clientAddress).
    if (!proxies && !forwardingPeerWarned && forwardsForOthers(request.headers)) {
      forwardingPeerWarned = true
      const peer = server?.requestIP(request)?.address
      logger.warn('a peer forwarding for others (X-Forwarded-For or Forwarded) is not in TRUSTED_PROXIES: per-address limits are not applied to it; list the gateway in TRUSTED_PROXIES to count each client address', { peer })
    }
  }
}

/** True when a request was forwarded for someone else: it carries X-Forwarded-For or Forwarded. */
const forwardsForOthers = (headers: Headers) => headers.has('x-forwarded-for') || headers.has('forwarded')

/**
 * The address of the client a request comes from, when it is known: from a peer in TRUSTED_PROXIES,
 * the nearest address in X-Forwarded-For that is not a trusted proxy; from any other peer, the peer
 * itself, unless it forwards for others or GATEWAY_SECRET says every request comes through a
 * gateway (whose own address names no client). Null means only the per-user limits apply.
 */
export function clientAddress(request: Request, server: Server<unknown> | null, config: Pick<Config, 'TRUSTED_PROXIES' | 'GATEWAY_SECRET'>): string | null {
  const peer = server?.requestIP(request)?.address ?? null
  const proxies = config.TRUSTED_PROXIES
  const trusted = peer !== null && proxies !== undefined && ipInRanges(peer, proxies)
  // A peer not in TRUSTED_PROXIES that forwards for others is a gateway nobody declared: counting
  // its address would put all its users in one bucket (after a restart their reconnect storm locks
  // most of them out), and the addresses it forwards cannot be believed; so it is not counted by
  // address. A client reaching the server directly can therefore skip the per-address limits by
  // adding the header: wherever clients could reach the server, set TRUSTED_PROXIES (other peers
  // get 403) or GATEWAY_SECRET (only the gateway gets in).
  if (!trusted && forwardsForOthers(request.headers)) return null
  if (!proxies) return config.GATEWAY_SECRET ? null : peer
  if (!trusted) return peer
  const hops = (request.headers.get('x-forwarded-for') ?? '').split(',').map((s) => s.trim())
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!
    if (!isIpAddress(hop)) return null
    if (!ipInRanges(hop, proxies)) return hop
  }
  return null
}

/** Who a request comes from, for the abuse limits: the forwarded user id (if any) and the client address. */
export function requesterOf(request: Request, server: Server<unknown> | null, config: Pick<Config, 'TRUSTED_PROXIES' | 'GATEWAY_SECRET'>): Requester {
  const userId = request.headers.get(identityHeaders.userId)
  return { userId: userId === null ? null : decodeHeaderValue(userId), address: clientAddress(request, server, config) }
}
