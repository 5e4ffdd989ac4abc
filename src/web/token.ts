// The test page behind a gateway: a bearer token in "Who you are", whose claims name the page's
// own user for display, and the prompt for a fresh one when the gateway refuses it.
import type { AuthSignal } from '../../client/src/index.ts'
import { $ } from './dom.ts'
import { onLanguageChange, t } from './labels.ts'

/** Who a token names, as the reference gateway reads its claims. */
export interface TokenUser {
  user_id: string
  nickname: string
  email: string
  profile_url?: string
}

/**
 * How long a refusal waits for a fresh token. Then the refused one goes out again, the gateway
 * refuses it again, and after its last allowed refusal the client stops ('unauthorized').
 */
const FRESH_TOKEN_WAIT_MS = 30_000

/** The token field, trimmed ('' when the page names its user by the identity fields). */
export const bearerToken = () => $<HTMLInputElement>('token').value.trim()

/**
 * The claims of a JWT (its payload, base64url JSON), or null when `token` is not one. Read for
 * display only: the signature is not checked here, and nothing is decided on them. The gateway
 * verifies the token and forwards the identity the server goes by.
 */
function tokenClaims(token: string): Record<string, unknown> | null {
  const parts = token.split('.')
  if (parts.length !== 3 || !parts[1]) return null
  try {
    const base64 = parts[1].replaceAll('-', '+').replaceAll('_', '/')
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4))
    const claims: unknown = JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))))
    return claims !== null && typeof claims === 'object' && !Array.isArray(claims) ? (claims as Record<string, unknown>) : null
  } catch {
    return null
  }
}

/** The user a token names, with the gateway's fallbacks (nickname, else name, else sub); null without a `sub`. */
export function tokenUser(token: string): TokenUser | null {
  const claims = tokenClaims(token)
  const text = (name: string) => (typeof claims?.[name] === 'string' ? (claims[name] as string) : '')
  const user_id = text('sub')
  if (!user_id) return null
  const user: TokenUser = { user_id, nickname: text('nickname') || text('name') || user_id, email: text('email') }
  if (text('picture')) user.profile_url = text('picture')
  return user
}

/** Says under the token field who it names (or that it names no one). */
export function showTokenUser() {
  const token = bearerToken()
  const line = $('token-identity')
  line.hidden = !token
  const user = tokenUser(token)
  line.textContent = user ? t('tokenUser', `${user.nickname} (${user.user_id}${user.email ? `, ${user.email}` : ''})`) : t('notAToken')
  // The gateway supplies the identity: the fields below would not be sent.
  $<HTMLFieldSetElement>('identity-fields').disabled = token !== ''
}

/** The wait for a fresh token after `refused`, shared by every connection and call that was refused. */
let waiting: { refused: string; token: Promise<string>; waiters: number; give: (token: string) => void } | null = null

/**
 * Shows the refusal prompt (with `why`, the gateway's words) and resolves with the next token
 * pasted into the field (a JWT other than `refused`), or with `refused` itself if none comes
 * within the wait or every connection waiting on it was closed (`signal`).
 */
export function freshToken(refused: string, why: string, signal?: AuthSignal): Promise<string> {
  if (waiting?.refused !== refused) waiting = promptFor(refused, why)
  const wait = waiting
  wait.waiters++
  signal?.addEventListener('abort', () => {
    if (--wait.waiters === 0) wait.give(refused)
  })
  return wait.token
}

/** The gateway's words of the refusal shown: the prompt says them again in another language. */
let refusal = ''
const showRefusal = () => ($('token-refused').textContent = t('tokenRefused', refusal ? ` (${refusal})` : ''))
onLanguageChange(() => {
  showTokenUser()
  showRefusal()
})

function promptFor(refused: string, why: string): NonNullable<typeof waiting> {
  const field = $<HTMLInputElement>('token')
  const prompt = $('token-refused')
  refusal = why
  showRefusal()
  prompt.hidden = false
  let give: (token: string) => void = () => {}
  const token = new Promise<string>((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    // Not on every keystroke: only once the field holds a whole token again.
    const changed = () => {
      const next = bearerToken()
      if (next !== refused && tokenClaims(next)) give(next)
    }
    give = (next) => {
      clearTimeout(timer)
      field.removeEventListener('input', changed)
      prompt.hidden = true
      if (waiting?.token === token) waiting = null
      resolve(next)
    }
    timer = setTimeout(() => give(refused), FRESH_TOKEN_WAIT_MS)
    field.addEventListener('input', changed)
  })
  return { refused, token, waiters: 0, give: (next) => give(next) }
}
