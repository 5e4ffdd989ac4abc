import type { PublicUrl } from './config.ts'
import { readTarget } from './request-target.ts'

/**
 * The host (and path prefix) clients address this server at, as the seed's `chat_url` has it:
 * PUBLIC_URL's when set, else the request's Host (which the gate has checked is a host name).
 */
export function publicHost(request: Request, publicUrl: PublicUrl | undefined): string {
  if (publicUrl) return publicUrl.host
  const verdict = readTarget(request.url)
  return verdict.ok ? verdict.target.host : 'localhost'
}

/** Headers for pages and their assets: no framing, no sniffing, scripts and styles from here only. */
export function pageHeaders(contentSecurityPolicy: string): Record<string, string> {
  return {
    'content-security-policy': `${contentSecurityPolicy}; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'`,
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
  }
}
