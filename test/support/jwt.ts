import { createHmac } from 'node:crypto'

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url')

/** Signs claims as an HS256 JWT, as an identity provider would. */
export function signJwt(claims: Record<string, unknown>, secret: string, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  return signJson(JSON.stringify(header), JSON.stringify(claims), secret)
}

/** Signs a header and claims given as JSON text (which need not be objects) with HS256. */
export function signJson(headerJson: string, claimsJson: string, secret: string): string {
  const head = `${b64url(headerJson)}.${b64url(claimsJson)}`
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`
}
