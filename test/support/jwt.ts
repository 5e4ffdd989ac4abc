import { createHmac } from 'node:crypto'

const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url')

/** Signs claims as an HS256 JWT, as an identity provider would. */
export function signJwt(claims: Record<string, unknown>, secret: string, header: Record<string, unknown> = { alg: 'HS256', typ: 'JWT' }): string {
  const head = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`
  return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`
}
