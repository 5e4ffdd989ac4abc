// The "Who you are" fields and the room id, remembered in localStorage, and the credentials the
// chat client sends for them.
import type { AuthParams } from '../../client/src/index.ts'
import { $ } from './dom.ts'

const fields = ['user_id', 'nickname', 'email', 'profile_url', 'room_id'] as const
type Field = (typeof fields)[number]
const STORAGE_KEY = 'chat-gateway-test'

/** A field's value, trimmed. */
export const value = (field: Field) => $<HTMLInputElement>(field).value.trim()

/** The page's user, or null while user id, nickname or email is missing. */
export function currentUser(): { user_id: string; nickname: string; email: string; profile_url?: string } | null {
  const [user_id, nickname, email, profile_url] = [value('user_id'), value('nickname'), value('email'), value('profile_url')]
  if (!user_id || !nickname || !email) return null
  return profile_url ? { user_id, nickname, email, profile_url } : { user_id, nickname, email }
}

/** Puts the remembered fields back, and remembers every change from now on. */
export function restoreSettings() {
  const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? '{}') as Record<string, string>
  for (const f of fields) if (saved[f] !== undefined) $<HTMLInputElement>(f).value = saved[f]
  for (const f of fields) $(f).addEventListener('change', saveSettings)
}

export function saveSettings() {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(Object.fromEntries(fields.map((f) => [f, value(f)]))))
}

/** Puts a room id in its field (and remembers it). */
export function selectRoom(id: number) {
  $<HTMLInputElement>('room_id').value = String(id)
  saveSettings()
}

/**
 * What a gateway would forward from a verified token, from the fields: the identity query on
 * sockets, and on REST calls the identity headers (headers are Latin-1, so values are
 * percent-encoded). A real gateway replaces both. Nothing while there is no user id.
 */
export function identityAuth(): AuthParams {
  const user_id = value('user_id')
  if (!user_id) return {}
  const query: Record<string, string> = { user_id, nickname: value('nickname'), email: value('email') }
  if (value('profile_url')) query.profile_url = value('profile_url')
  const headers = Object.fromEntries(Object.entries(query).map(([name, v]) => [`x-${name.replaceAll('_', '-')}`, encodeURIComponent(v)]))
  return { query, headers }
}
