import { timingSafeEqual } from 'node:crypto'

/**
 * `X-Chat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`: the time is
 * signed with the body, so a receiver can refuse an old request replayed (Stripe's scheme).
 */
export function signatureHeader(secret: string, body: string, unixSeconds: number): string {
  return `t=${unixSeconds},v1=${new Bun.CryptoHasher('sha256', secret).update(`${unixSeconds}.${body}`).digest('hex')}`
}

/**
 * What a receiver does with the header: true when one `v1` matches the body and `t` is within
 * `toleranceSeconds` of now. Compared in constant time.
 */
export function verifySignature(header: string | null, body: string, secret: string, toleranceSeconds = 300, now = Date.now()): boolean {
  if (!header) return false
  const parts = header.split(',').map((p) => p.trim().split('='))
  const t = Number(parts.find(([k]) => k === 't')?.[1])
  if (!Number.isSafeInteger(t) || Math.abs(now / 1000 - t) > toleranceSeconds) return false
  const expected = Buffer.from(signatureHeader(secret, body, t).split('v1=')[1]!, 'hex')
  return parts.some(([k, v]) => k === 'v1' && v !== undefined && /^[0-9a-f]{64}$/.test(v) && timingSafeEqual(Buffer.from(v, 'hex'), expected))
}
