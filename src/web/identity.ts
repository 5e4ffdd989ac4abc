// The "Who you are" section and the room id, and the credentials the chat client sends for them:
// a bearer token for a gateway (which supplies the identity), or else the identity fields,
// remembered in localStorage, as a gateway would forward them.
import type { AuthContext, AuthParams } from '../../client/src/index.ts'
import { $ } from './dom.ts'
import { t } from './labels.ts'
import { bearerToken, freshToken, showTokenUser, tokenUser } from './token.ts'

// The token is not among them: it is a credential, so it stays in its field only. In
// localStorage it would outlive the tab and be readable by any script of this origin; after a
// reload the page asks for one again.
const fields = ['user_id', 'nickname', 'email', 'profile_url', 'room_id'] as const
type Field = (typeof fields)[number]
const STORAGE_KEY = 'chat-gateway-test'

/** A field's value, trimmed. */
export const value = (field: Field) => $<HTMLInputElement>(field).value.trim()

/** The page's user: named by the token when there is one, else by the fields; null while incomplete. */
export function currentUser(): { user_id: string; nickname: string; email: string; profile_url?: string } | null {
  if (bearerToken()) return tokenUser(bearerToken())
  const [user_id, nickname, email, profile_url] = [value('user_id'), value('nickname'), value('email'), value('profile_url')]
  if (!user_id || !nickname || !email) return null
  return profile_url ? { user_id, nickname, email, profile_url } : { user_id, nickname, email }
}

/** Why there is no `currentUser()`, to tell the user. */
export function missingUserText(): string {
  return bearerToken() ? t('tokenNamesNoUser') : t('identityMissing')
}

/** The page's own user id ('' while there is none). */
export const myId = () => (bearerToken() ? (tokenUser(bearerToken())?.user_id ?? '') : value('user_id'))

/** Whose name and picture the page's own sends show until the server has them. */
export function mySender(): { nickname: string; profile_picture_url: string | null } {
  if (!bearerToken()) return { nickname: value('nickname'), profile_picture_url: value('profile_url') || null }
  const user = tokenUser(bearerToken())
  return { nickname: user?.nickname ?? '', profile_picture_url: user?.profile_url ?? null }
}

/** Puts the remembered fields back, and remembers every change from now on. */
export function restoreSettings() {
  const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as Record<string, string>
  for (const f of fields) if (saved[f] !== undefined) $<HTMLInputElement>(f).value = saved[f]
  for (const f of fields) $(f).addEventListener('change', saveSettings)
  $('token').addEventListener('input', showTokenUser)
  showTokenUser()
}

export function saveSettings() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(Object.fromEntries(fields.map((f) => [f, value(f)]))))
}

/** Puts a room id in its field (and remembers it). */
export function selectRoom(id: number) {
  $<HTMLInputElement>('room_id').value = String(id)
  saveSettings()
}

/** The token last handed to the client: a refusal is about this one. */
let lastToken = ''

/**
 * The chat client's auth hook. With a token: the token alone, the gateway forwards who it names;
 * when the gateway refused it, the next one pasted (a token changed in the meantime goes out at
 * once). Without one: the fields, as a gateway would forward them.
 */
export function identityAuth({ refresh, refused, signal }: AuthContext): AuthParams | Promise<AuthParams> {
  const token = bearerToken()
  if (!token) return fieldsAuth()
  if (refresh && token === lastToken) return freshToken(token, refused?.detail ?? '', signal).then((next) => ({ token: (lastToken = next) }))
  lastToken = token
  return { token }
}

/**
 * What a gateway would forward from a verified token, from the fields: the identity query on
 * sockets, and on REST calls the identity headers (headers are Latin-1, so values are
 * percent-encoded). A real gateway replaces both. Nothing while there is no user id.
 */
function fieldsAuth(): AuthParams {
  const user_id = value('user_id')
  if (!user_id) return {}
  const query: Record<string, string> = { user_id, nickname: value('nickname'), email: value('email') }
  if (value('profile_url')) query.profile_url = value('profile_url')
  const headers = Object.fromEntries(Object.entries(query).map(([name, v]) => [`x-${name.replaceAll('_', '-')}`, encodeURIComponent(v)]))
  return { query, headers }
}
