import { z } from 'zod'
import { parseCidr, toRanges } from './net.ts'

const port = z.coerce.number().int().min(0).max(65535)

/** A comma-separated list, each item parsed by `parse` (null when invalid). */
const list = <T>(what: string, parse: (item: string) => T | null) =>
  z.string().transform((text, ctx) => {
    const items: T[] = []
    for (const raw of text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)) {
      const item = parse(raw)
      if (item === null) ctx.addIssue({ code: 'custom', message: `${JSON.stringify(raw)} is not ${what}` })
      else items.push(item)
    }
    return items
  })

/** `https://app.example.com` → itself; anything with a path, query or other scheme → null. */
function parseOrigin(text: string): string | null {
  try {
    const url = new URL(text)
    if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== text.replace(/\/$/, '')) return null
    return url.origin
  } catch {
    return null
  }
}
const positiveInt = z.coerce.number().int().positive()

/** Where clients reach this server: `host` as the seed's `chat_url` has it, `base` with its scheme (file URLs). */
export interface PublicUrl {
  host: string
  base: string
}

/**
 * `https://chat.example.com` or `https://api.example.com/chat` → the host and path prefix clients
 * address (`chat.example.com`, `api.example.com/chat`), as the seed's `chat_url` has them.
 */
function parsePublicUrl(text: string, ctx: z.RefinementCtx): PublicUrl {
  try {
    const url = new URL(text)
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname && !url.search && !url.hash && !url.username && !url.password) {
      const host = `${url.host}${url.pathname.replace(/\/+$/, '')}`
      return { host, base: `${url.protocol}//${host}` }
    }
  } catch {}
  ctx.addIssue({ code: 'custom', message: 'must be an http(s) URL with no query, such as https://chat.example.com' })
  return z.NEVER
}

/** `headers,query` → the set of places identity may come from. */
const identitySources = z
  .string()
  .transform((text) =>
    text
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(z.enum(['headers', 'query']))
      .min(1)
      .refine((list) => list.includes('headers'), 'must include headers'),
  )

/** Every setting the server reads, with its environment name, default and meaning. */
export const configSchema = z.object({
  PORT: port.default(8000).describe('TCP port to listen on (0 picks a free one)'),
  HOST: z.string().min(1).default('0.0.0.0').describe('Interface to bind'),
  REUSE_PORT: z
    .stringbool()
    .prefault('false')
    .describe('Let several processes on this machine listen on PORT at once, the kernel spreading connections between them (needs REDIS_URL and DATABASE_URL); otherwise a port in use stops the server with exit status 2'),
  DATABASE_PATH: z.string().min(1).default('./data/chat.db').describe('SQLite database file; its folder is created if missing'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL')
    .optional()
    .describe('Postgres URL; when set, messages and rooms live there instead of DATABASE_PATH (needed to run several instances)'),
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
    .optional()
    .describe('Redis URL; when set, room events and presence cross instances through it (needs DATABASE_URL)'),
  REDIS_PREFIX: z.string().min(1).max(100).default('chat:').describe('Prefix of every Redis key and channel, so several deployments can share one Redis'),
  PRESENCE_TTL: z.coerce.number().positive().max(3600).default(30).describe('Seconds before the presence of an instance that stopped heartbeating expires (its users leave)'),
  MAX_MESSAGE_LENGTH: positiveInt.max(100_000).default(2000).describe('Longest chat message accepted, in characters'),
  RECOVERY_LIMIT: positiveInt.max(10_000).default(500).describe('Most messages replayed to a socket that reconnects with since= (or changed messages, with since_version=)'),
  EDIT_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(365 * 86_400)
    .default(86_400)
    .describe('How long after sending its author may edit a message (409 edit_window_closed after)'),
  UNSEND_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(365 * 86_400)
    .default(86_400)
    .describe("How long after sending its author may unsend a message (a private room's owner and service calls may at any time)"),
  DELETED_RETENTION_DAYS: z.coerce.number().min(0).max(3650).default(30).describe('Days the original text of an edited or unsent message is kept for service calls (then purged)'),
  UPLOADS: z
    .enum(['local', 's3'])
    .default('local')
    .describe('Where uploaded files and photos are kept: local (a folder, UPLOADS_PATH, served by this server) or s3 (an S3-compatible bucket; needed when instances run on several machines)'),
  UPLOADS_PATH: z.string().min(1).optional().describe('Folder of uploaded files with UPLOADS=local (default: uploads beside DATABASE_PATH); created if missing'),
  S3_ENDPOINT: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .optional()
    .describe('S3 endpoint with UPLOADS=s3 (e.g. https://s3.ap-northeast-2.amazonaws.com, or a MinIO/R2 URL)'),
  S3_BUCKET: z.string().min(1).optional().describe('Bucket of uploaded files with UPLOADS=s3'),
  S3_REGION: z.string().min(1).default('us-east-1').describe('Region of the bucket with UPLOADS=s3'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional().describe('Access key with UPLOADS=s3'),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional().describe('Secret key with UPLOADS=s3'),
  FILE_URL_SECRET: z.string().min(32, 'must be at least 32 characters').optional().describe('Key that signs file URLs with UPLOADS=local (instances sharing one folder share it); unset: a random key kept in UPLOADS_PATH'),
  FILE_URL_TTL_SECONDS: positiveInt
    .max(7 * 86_400)
    .default(3600)
    .describe('How long a signed file or thumbnail URL works; reading a message again gives fresh ones'),
  MAX_UPLOAD_BYTES: positiveInt
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(10 * 1024 * 1024)
    .describe('Largest upload accepted; bigger ones get 413 unread'),
  UPLOAD_TYPES: list('a content type such as application/pdf (photos other than JPEG, PNG, WebP and GIF cannot be stripped of their GPS position, so image/ types are not accepted)', (item) =>
    /^(?!image\/)[a-z]+\/[a-z0-9.+-]+$/.test(item) ? item : null,
  )
    .default(['application/pdf'])
    .describe(
      'Content types accepted besides JPEG, PNG, WebP and GIF photos, judged from the bytes (known: application/pdf, application/zip, video/mp4, audio/mpeg, text/plain); executables never. These are stored as sent: a video keeps its metadata, its recording place included',
    ),
  UPLOAD_BYTES_PER_DAY: positiveInt.default(200 * 1024 * 1024).describe('Bytes one user may upload in any 24 hours (more: 429)'),
  UPLOAD_TTL_SECONDS: positiveInt
    .max(7 * 86_400)
    .default(3600)
    .describe('How long an upload may wait to be sent with a message; unsent ones are then deleted'),
  MAX_IMAGE_PIXELS: positiveInt.max(500_000_000).default(40_000_000).describe('Largest photo accepted, in pixels (width × height); bigger ones get 413 image_too_large before they are decoded'),
  MAX_PAYLOAD_BYTES: positiveInt
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(64 * 1024)
    .describe('Largest WebSocket frame accepted; bigger frames close the socket with 1009'),
  TYPING_INTERVAL_MS: z.coerce.number().int().min(0).default(2000).describe('Least time between two chat.typing events relayed for one socket'),
  RATE_LIMIT_PER_SECOND: z.coerce.number().positive().default(10).describe('Messages a second each socket, and each user, may send (token bucket rate)'),
  RATE_LIMIT_BURST: z.coerce.number().int().positive().default(20).describe('Messages a socket or user may send at once before the rate applies (bucket size)'),
  FLOOD_CLOSE_AFTER: z.coerce.number().int().positive().default(30).describe('Rate-limited messages within 10 s after which a socket is closed with 1008'),
  MAX_SOCKETS_PER_USER: z.coerce.number().int().positive().default(20).describe('Open sockets one user may have on this instance; more are refused with 429'),
  MAX_SOCKETS_PER_ROOM: z.coerce.number().int().positive().default(10_000).describe('Open sockets one room may have on this instance; more are refused with 429'),
  SLOW_CONSUMER_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .default(1024 * 1024)
    .describe('Unsent bytes a socket may have queued; past that it is closed with 1013 and reconnects with since='),
  WS_IDLE_TIMEOUT: z.coerce.number().int().min(4).max(960).default(120).describe('Seconds without any frame (pings included) after which a WebSocket is closed as dead'),
  SHUTDOWN_TIMEOUT: z.coerce.number().positive().max(3600).default(10).describe('Seconds a graceful shutdown may take before the process exits anyway'),
  GATEWAY_SECRET: z.string().min(16, 'must be at least 16 characters').optional().describe('Shared secret the gateway sends as X-Gateway-Secret; when set, every request but /healthz must carry it'),
  SERVICE_SECRET: z
    .string()
    .min(16, 'must be at least 16 characters')
    .optional()
    .describe("Secret the app's own backend sends as X-Service-Secret: such calls may create rooms of any kind for anyone, manage members, and read any room"),
  MAX_ROOM_MEMBERS: positiveInt.max(100_000).default(1000).describe('Most owners and members a private room may have'),
  ROOM_DATA_BYTES: positiveInt.max(65_536).default(4096).describe("Largest `data` the app's backend may keep on a room (the post's title, price, picture), in bytes of its JSON"),
  CONTACT_GUARD: z
    .enum(['warn', 'mask', 'off'])
    .default('warn')
    .describe(
      "The contact and scam guard (phone numbers in real and dodged forms, bank accounts near a bank's name, KakaoTalk ids and open-chat links, outside payment links) on every message and edit: `warn` stores it as is and warns the room's other sockets (`chat.notice`), `mask` replaces what it found with • (the text as written kept for service calls), `off`. Either way a `message.flagged` webhook",
    ),
  FILTER_REFRESH_MS: positiveInt.max(600_000).default(2000).describe('How often each instance reads the word filters again (a change made on one instance applies on the others within this; at once on its own)'),
  REPORTS_PER_HOUR: positiveInt.max(1_000_000).default(30).describe('Reports an hour per user, bursts of a quarter of it (more: 429); ten times that per client address'),
  WEBHOOK_URL: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .optional()
    .describe("Where events are POSTed for the app's backend (pushes to users who are away); unset: no webhooks, nothing written for them"),
  WEBHOOK_SECRET: z.string().min(16, 'must be at least 16 characters').optional().describe('Signs each webhook (X-Chat-Signature, HMAC-SHA256); required with WEBHOOK_URL'),
  WEBHOOK_TIMEOUT: positiveInt.max(300).default(10).describe('Seconds a webhook request may take before it counts as failed (and is retried)'),
  WEBHOOK_CONCURRENCY: positiveInt.max(256).default(8).describe('Webhook requests in flight at once, per instance'),
  WEBHOOK_BATCH: positiveInt
    .max(1000)
    .default(1)
    .describe("Events per webhook POST: 1 sends each event as its own JSON object; more sends up to that many as one JSON array (in order per room, one signature over the array; receivers still dedupe by each event's id)"),
  WEBHOOK_POLL_MS: positiveInt
    .min(50)
    .max(600_000)
    .default(500)
    .describe('How often each instance looks for webhook events nothing announced: retries come due, lanes whose nudge was lost. Every event is looked at as it commits, on whichever instance'),
  WEBHOOK_PASS_GAP_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1000)
    .default(50)
    .describe(
      "Least time between the starts of two webhook passes over the same lane: an idle room's event goes out at once, a busy room's events of the next moments go out together (one pass, one POST) instead of a pass each. 0 starts a pass for every commit",
    ),
  WEBHOOK_RETRY_MIN_MS: positiveInt.max(600_000).default(1000).describe('About how long before the first retry of a failed webhook (then doubling, with jitter)'),
  WEBHOOK_RETRY_MAX: positiveInt.max(86_400).default(300).describe('Longest wait between retries of a webhook, in seconds'),
  WEBHOOK_MAX_AGE: positiveInt
    .max(30 * 86_400)
    .default(86_400)
    .describe('Seconds after which a webhook that still fails is dead-lettered (kept, listed, re-queueable)'),
  HTTP_PROXY: z.string().optional().describe('Proxy for webhooks to an http:// WEBHOOK_URL (they are then sent with fetch, which also reads NO_PROXY); https:// URLs follow HTTPS_PROXY'),
  OFFLINE_USERS_LIMIT: positiveInt.max(100_000).default(1000).describe("Most users listed in a message.created webhook's offline_user_ids (huge open rooms)"),
  INBOX_LIVE_ROOMS: positiveInt.max(100_000).default(1000).describe("Most rooms one user stream follows live (the most recently active); the others show on the inbox's next fetch"),
  INBOX_ROOM_PARTICIPANTS: positiveInt
    .max(1_000_000)
    .default(500)
    .describe('Open rooms with more participants than this are not followed live by user streams (a message there is not sent to every participant); their counts show on fetch'),
  TRUSTED_PROXIES: list('an IP address or CIDR range', parseCidr).transform(toRanges).optional().describe('Comma-separated CIDR ranges (e.g. 10.0.0.0/8,::1); when set, requests from other peers are refused'),
  ALLOWED_ORIGINS: list('an origin like https://app.example.com', parseOrigin).optional().describe('Comma-separated browser origins allowed to open WebSockets; when set, other origins get 403'),
  TEST_PAGE: z
    .enum(['true', 'false', 'public'])
    .default('true')
    .transform((v) => (v === 'false' ? false : v))
    .describe('Serve the chat test page at /chat_gateway_test.html: true (behind GATEWAY_SECRET and TRUSTED_PROXIES like everything else), false, or public (no secret needed for the page itself; for local use)'),
  PUBLIC_URL: z.string().transform(parsePublicUrl).optional().describe('Public base URL of this server as clients reach it (https://chat.example.com); chat_url is built from it instead of the request Host'),
  IDENTITY_SOURCES: identitySources.default(['headers', 'query']).describe("Where WebSocket identity may come from: headers,query (the seed's gateways put it in the query) or headers (recommended)"),
  MAX_BODY_BYTES: positiveInt
    .min(1024)
    .max(16 * 1024 * 1024)
    .default(64 * 1024)
    .describe('Largest request body accepted; bigger ones get 413 before they are read'),
  HANDSHAKES_PER_MINUTE: positiveInt.default(60).describe('WebSocket handshakes a minute per user, in bursts of up to a quarter of it; more get 429 with Retry-After'),
  HANDSHAKES_PER_MINUTE_PER_ADDRESS: positiveInt.default(600).describe('WebSocket handshakes a minute per client address (when the address is known), in bursts of up to a quarter of it'),
  ROOMS_PER_HOUR: positiveInt.default(60).describe('Rooms a user may create an hour, in bursts of up to a quarter of it; more get 429 with Retry-After'),
  ROOMS_PER_HOUR_PER_ADDRESS: positiveInt.default(600).describe('Rooms created an hour per client address (when the address is known)'),
  MEMBER_CHANGES_PER_MINUTE: positiveInt
    .max(1_000_000)
    .default(60)
    .describe('Members a user may add to or remove from private rooms a minute, in bursts of up to a quarter of it (more: 429 with Retry-After); ten times that per client address; service calls have no limit'),
  PRESENCE_GRACE_MS: z.coerce.number().int().min(0).max(60_000).default(3000).describe('How long a user whose last socket in a room closed still counts as present; a reconnect within it announces no leave and no join'),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info').describe('Lowest log level written to stdout'),
})

export type Config = z.infer<typeof configSchema>

/** Raised when a setting is invalid; the message names every bad setting. */
export class ConfigError extends Error {
  constructor(readonly problems: { key: string; message: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.key} (${flagOf(p.key)}): ${p.message}`).join('\n')}`)
    this.name = 'ConfigError'
  }
}

/** The command-line flag of a setting: `DATABASE_PATH` is `--database-path`. */
export const flagOf = (key: string) => `--${key.toLowerCase().replaceAll('_', '-')}`

/** Each setting with its flag, default and meaning, for `--help`. */
export function describeSettings(): { key: string; flag: string; default: unknown; description: string }[] {
  const properties = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }).properties ?? {}
  return Object.entries(properties).map(([key, schema]) => {
    const s = typeof schema === 'object' ? schema : {}
    return { key, flag: flagOf(key), default: s.default, description: s.description ?? '' }
  })
}

/** Parses settings from an environment-like record; empty strings count as unset. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const input: Record<string, string> = {}
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key]
    if (value !== undefined && value !== '') input[key] = value
  }
  const result = configSchema
    .refine((c) => c.UPLOADS !== 's3' || (c.S3_BUCKET && c.S3_ACCESS_KEY_ID && c.S3_SECRET_ACCESS_KEY), {
      message: 'UPLOADS=s3 needs S3_BUCKET, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY',
      path: ['UPLOADS'],
    })
    .refine((c) => !c.REDIS_URL || c.DATABASE_URL, { message: 'REDIS_URL needs DATABASE_URL: instances sharing Redis must share one Postgres database', path: ['REDIS_URL'] })
    .refine((c) => !c.REUSE_PORT || (c.REDIS_URL && c.DATABASE_URL), {
      message: 'REUSE_PORT needs REDIS_URL and DATABASE_URL: processes sharing a port must share one Postgres database and one Redis',
      path: ['REUSE_PORT'],
    })
    .refine((c) => !c.WEBHOOK_URL || c.WEBHOOK_SECRET, { message: 'WEBHOOK_URL needs WEBHOOK_SECRET: every webhook is signed', path: ['WEBHOOK_SECRET'] })
    .safeParse(input)
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((issue) => ({
        key: String(issue.path[0] ?? 'config'),
        // Secrets are never echoed back.
        message: /SECRET|_URL/.test(String(issue.path[0])) ? issue.message : `${issue.message} (got ${JSON.stringify(input[String(issue.path[0])])})`,
      })),
    )
  }
  return result.data
}

// Variables every shell or tool sets, some of them two edits from a setting (HTTPS_PROXY, FTP_PROXY).
const USUAL_ENVIRONMENT = new Set(['HTTPS_PROXY', 'FTP_PROXY', 'ALL_PROXY', 'NO_PROXY', 'HOSTNAME', 'LOGNAME', 'NODE_ENV', 'TMPDIR'])
const TOOL_PREFIXES = /^(BUN|NODE|NPM|XDG|LC|SSH|PG)_/

/** Edits (insert, delete, substitute, swap two neighbours) turning `a` into `b`. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

/**
 * Set variables that are not settings but within two edits of one (`MAX_MESAGE_LENGTH` →
 * `MAX_MESSAGE_LENGTH`), for a warning at start. Only upper-case names of six characters or more
 * count, and at most one edit in three characters, so HOME, PATH or PGPORT never pass for HOST or PORT.
 */
export function suggestSettings(env: Record<string, string | undefined>): { name: string; meant: string }[] {
  const settings = Object.keys(configSchema.shape)
  const suggestions: { name: string; meant: string }[] = []
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || name.length < 6 || !/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/.test(name)) continue
    if (name in configSchema.shape || USUAL_ENVIRONMENT.has(name) || TOOL_PREFIXES.test(name)) continue
    let best: { meant: string; distance: number } | undefined
    for (const setting of settings) {
      const distance = editDistance(name, setting)
      if (distance <= 2 && distance * 3 <= Math.min(name.length, setting.length) && (!best || distance < best.distance)) best = { meant: setting, distance }
    }
    if (best) suggestions.push({ name, meant: best.meant })
  }
  return suggestions
}
