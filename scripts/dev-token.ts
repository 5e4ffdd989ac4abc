// Prints a JWT the reference gateway (deploy/nginx/jwt.js) accepts, for trying the gateway locally:
//
//   JWT_SECRET=… npm run -s dev-token -- --user 7 --nickname 홍길동 [--email hong@example.com]
//     [--picture /media/p.jpg] [--ttl 3600] [--secret …] [--issuer …] [--audience …]
//
// HS256 over the JWT_SECRET the gateway runs with; `sub` is the user id, and `nickname`, `email`
// and `picture` are the claims the gateway forwards as X-Nickname, X-Email and X-Profile-Url.
// Only the token goes to stdout, so `TOKEN=$(npm run -s dev-token -- --user 7)` works. Not for
// production: an identity provider issues real tokens.
import { createHmac } from 'node:crypto'
import { parseArgs } from 'node:util'

/** What a token says, and how it is signed. */
export interface DevTokenOptions {
  user: string
  nickname?: string
  email?: string
  picture?: string
  /** Seconds from now until it expires; negative for a token that has already expired. */
  ttl: number
  secret: string
  issuer?: string
  audience?: string
}

const USAGE = `usage: npm run -s dev-token -- --user <id> [--nickname <name>] [--email <address>] [--picture <url>]
       [--ttl <seconds, default 3600; --ttl=-60 for an expired token>] [--secret <JWT_SECRET>]
       [--issuer <JWT_ISSUER>] [--audience <JWT_AUDIENCE>]
The secret, issuer and audience default to the JWT_SECRET, JWT_ISSUER and JWT_AUDIENCE the gateway reads.
Without --email the token says <user>@localhost: the chat server requires an e-mail address.`

// The limits jwt.js applies, so no token is printed that the gateway would refuse.
const MAX_SUBJECT_LENGTH = 255
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/
const MAX_NUMERIC_DATE = 253402300799
const DEFAULT_TTL_SECONDS = 3600

/** A wrong argument: the message is printed with the usage, and the exit status is 2. */
class UsageError extends Error {}

const base64url = (text: string) => Buffer.from(text).toString('base64url')

/** The signed token for `options`, issued at `now` (seconds since the epoch). */
export function devToken(options: DevTokenOptions, now = Math.floor(Date.now() / 1000)): string {
  const claims: Record<string, string | number> = { sub: options.user, iat: now, exp: now + options.ttl }
  if (options.nickname !== undefined) claims.nickname = options.nickname
  claims.email = options.email ?? `${options.user}@localhost`
  if (options.picture !== undefined) claims.picture = options.picture
  if (options.issuer) claims.iss = options.issuer
  if (options.audience) claims.aud = options.audience
  const signed = `${base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${base64url(JSON.stringify(claims))}`
  return `${signed}.${createHmac('sha256', options.secret).update(signed).digest('base64url')}`
}

/**
 * The options in `args`, with the secret, issuer and audience taken from `env` when not given;
 * null for --help.
 */
export function parseDevTokenArgs(args: string[], env: Record<string, string | undefined>): DevTokenOptions | null {
  let values
  try {
    values = parseArgs({
      args,
      options: {
        user: { type: 'string' },
        nickname: { type: 'string' },
        email: { type: 'string' },
        picture: { type: 'string' },
        ttl: { type: 'string' },
        secret: { type: 'string' },
        issuer: { type: 'string' },
        audience: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values
  } catch (error) {
    throw new UsageError((error as Error).message)
  }
  if (values.help) return null
  const { user, nickname, email, picture, ttl = String(DEFAULT_TTL_SECONDS) } = values
  const secret = values.secret ?? env.JWT_SECRET ?? ''
  if (user === undefined) throw new UsageError('--user is required')
  if (user === '' || user.length > MAX_SUBJECT_LENGTH || CONTROL.test(user)) throw new UsageError(`--user must be 1 to ${MAX_SUBJECT_LENGTH} characters without control characters`)
  if (nickname !== undefined && nickname.trim() === '') throw new UsageError('--nickname must not be empty')
  if (email === undefined && /[\s@]/.test(user)) throw new UsageError('--email is required when the user id cannot form <user>@localhost')
  if (!/^-?\d{1,12}$/.test(ttl)) throw new UsageError('--ttl must be a whole number of seconds')
  const expires = Math.floor(Date.now() / 1000) + Number(ttl)
  if (expires < 0 || expires > MAX_NUMERIC_DATE) throw new UsageError('--ttl puts the expiry outside the years 1970 to 9999')
  if (secret === '') throw new UsageError('no secret: pass --secret or set JWT_SECRET (the one the gateway runs with)')
  return { user, nickname, email, picture, ttl: Number(ttl), secret, issuer: values.issuer ?? env.JWT_ISSUER, audience: values.audience ?? env.JWT_AUDIENCE }
}

if (import.meta.main) {
  try {
    const options = parseDevTokenArgs(process.argv.slice(2), process.env)
    if (options) console.log(devToken(options))
    else console.error(USAGE)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    console.error(`dev-token: ${error.message}\n${USAGE}`)
    process.exit(2)
  }
}
