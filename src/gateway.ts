import { timingSafeEqual } from 'node:crypto'
import type { Server } from 'bun'
import type { Config } from './config.ts'
import { AppError, problemResponse } from './errors.ts'
import type { Logger } from './logger.ts'
import type { Metrics } from './metrics.ts'
import { ipInRanges } from './net.ts'

/** The header carrying the secret shared with the gateway. */
export const GATEWAY_SECRET_HEADER = 'x-gateway-secret'

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

/** Paths that answer without the gateway: liveness only, so orchestrators can probe the process. */
const OPEN_PATHS = new Set(['/healthz'])

const isUpgrade = (request: Request) => request.headers.get('upgrade')?.toLowerCase() === 'websocket'

/**
 * The trust boundary: with TRUSTED_PROXIES only those peers may connect, and with GATEWAY_SECRET
 * every request must carry the secret. Returns the refusal, or undefined to go on.
 */
export function createGatewayGuard(config: Config, logger: Logger, metrics: Metrics) {
  const secret = config.GATEWAY_SECRET
  const proxies = config.TRUSTED_PROXIES
  if (!secret) logger.warn('GATEWAY_SECRET is not set: identity headers are trusted from any client that can reach this server')

  return (request: Request, server: Server<unknown> | null): Response | undefined => {
    if (!secret && !proxies) return
    const path = new URL(request.url).pathname
    if (OPEN_PATHS.has(path)) return
    let refusal: AppError | undefined
    if (proxies) {
      const peer = server?.requestIP(request)?.address
      if (!peer || !ipInRanges(peer, proxies)) {
        refusal = new AppError(403, 'untrusted_peer', 'Forbidden', 'This server only accepts requests from the gateway.')
        logger.warn('request from an untrusted peer refused', { peer, path })
      }
    }
    if (!refusal && secret && !secretMatches(request.headers.get(GATEWAY_SECRET_HEADER), secret)) {
      refusal = new AppError(401, 'gateway_secret_required', 'Unauthorized', 'Requests must come through the gateway (X-Gateway-Secret missing or wrong).')
    }
    if (!refusal) return
    if (isUpgrade(request)) metrics.handshakesRefused.inc({ reason: refusal.code })
    return problemResponse(refusal)
  }
}
