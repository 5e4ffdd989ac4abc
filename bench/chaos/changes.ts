import type { MessageDto } from '../../src/realtime/codec.ts'
import type { MessageCopy } from '../../test/support/message-copy.ts'
import type { ChangeOp, ChaosUser, MessageForm, RestChange } from './history.ts'
import type { Random } from './random.ts'

/** The reactions tabs use: few, so tabs often meet on the same one (and never reach 20 kinds). */
const EMOJIS = ['👍', '❤️', '😂', '🎉', '🔥'] as const
/** Changes aim at the newest messages of the copy, where people look. */
const RECENT = 40
const REST_TIMEOUT_MS = 5000

/** One change a tab decided on. */
export interface Change {
  op: ChangeOp
  id: number
  /** edit: the new text. */
  text?: string
  /** react / unreact. */
  emoji?: string
}

/** The identity headers the gateway adds for `user`. */
export function identityHeaders(user: ChaosUser): Record<string, string> {
  return { 'x-user-id': encodeURIComponent(user.user_id), 'x-nickname': encodeURIComponent(user.nickname), 'x-email': encodeURIComponent(user.email) }
}

/**
 * A change to make, drawn from the tab's copy: an edit (most often) or an unsend of one of the
 * user's own recent messages, a reaction on any recent message, or one of the user's reactions
 * (on any message) taken back. Null when the copy holds nothing to change.
 */
export function pickChange(copy: MessageCopy, user: ChaosUser, tab: string, n: number, rng: Random): Change | null {
  const standing = copy.list().filter((m) => !m.deleted)
  const recent = standing.slice(-RECENT)
  const own = recent.filter((m) => m.user_id === user.user_id)
  // Taken back from any message: on a busy room the user's reactions soon scroll out of the recent ones.
  const reacted = standing.flatMap((m) => m.reactions.filter((r) => r.user_ids.includes(user.user_id)).map((r) => ({ id: m.id, emoji: r.emoji })))
  const kind = rng.weighted({ edit: 3, unsend: 1, react: 4, unreact: 2 })
  if ((kind === 'edit' || kind === 'unsend') && own.length > 0) {
    const target = rng.pick(own)
    return kind === 'edit' ? { op: 'edit', id: target.id, text: `${target.id} edited by ${tab} (${n})` } : { op: 'unsend', id: target.id }
  }
  if (kind === 'unreact' && reacted.length > 0) return { op: 'unreact', ...rng.pick(reacted) }
  if (recent.length === 0) return null
  const target = rng.pick(recent)
  const emoji = rng.pick(EMOJIS)
  // Adding one already there changes nothing: take it back instead.
  const mine = target.reactions.some((r) => r.emoji === emoji && r.user_ids.includes(user.user_id))
  return { op: mine ? 'unreact' : 'react', id: target.id, emoji }
}

/** The change as a socket frame. */
export function changeFrame(change: Change): Record<string, unknown> {
  switch (change.op) {
    case 'edit':
      return { type: 'chat.edit', id: change.id, message: change.text }
    case 'unsend':
      return { type: 'chat.delete', id: change.id }
    default:
      return { type: 'chat.react', id: change.id, emoji: change.emoji, add: change.op === 'react' }
  }
}

/** Makes the change over REST on `instance`; the attempt with its answer (status 0: none). */
export async function restChange(base: string, instance: number, room: number, user: ChaosUser, tab: string, change: Change): Promise<RestChange> {
  const path = `${base}/chat/v1/room/${room}/messages/${change.id}/`
  const headers = identityHeaders(user)
  const attempt: RestChange = { tab, op: change.op, id: change.id, instance, at: Date.now(), status: 0 }
  try {
    const signal = AbortSignal.timeout(REST_TIMEOUT_MS)
    const res =
      change.op === 'edit'
        ? await fetch(path, { method: 'PATCH', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ message: change.text }), signal })
        : change.op === 'unsend'
          ? await fetch(path, { method: 'DELETE', headers, signal })
          : await fetch(`${path}reactions/${encodeURIComponent(change.emoji!)}/`, { method: change.op === 'react' ? 'PUT' : 'DELETE', headers, signal })
    attempt.at = Date.now()
    attempt.status = res.status
    const body = (await res.json().catch(() => ({}))) as { code?: string }
    if (body.code) attempt.code = body.code
  } catch {
    // No answer (instance down, timeout).
  }
  return attempt
}

/** The answer settles the change: done, or refused for good; otherwise it is tried again. */
export const settled = (status: number) => status !== 0 && status !== 429 && status < 500

/** What a client compares of a message. */
export function formOf(m: MessageDto): MessageForm {
  return { user_id: m.user_id ?? '', message: m.message, deleted: m.deleted, edited_at: m.edited_at, reactions: m.reactions, reply_to: m.reply_to, version: m.version }
}

/**
 * A room as a page load reads it: its version first, then every message in its latest form, paged
 * by id. Each message is at least as new as the version, so a socket asking since_version= it
 * brings the copy up to date. Throws when a read fails.
 */
export async function readRoom(base: string, room: number, user: ChaosUser): Promise<{ version: number; messages: MessageDto[] }> {
  const read = async <T>(path: string) => {
    const res = await fetch(`${base}${path}`, { headers: identityHeaders(user), signal: AbortSignal.timeout(REST_TIMEOUT_MS) })
    if (res.status !== 200) throw new Error(`${path} answered ${res.status}`)
    return (await res.json()) as T
  }
  const { version } = await read<{ version: number }>(`/chat/v1/room/${room}/`)
  const messages: MessageDto[] = []
  for (let after = 0; ; ) {
    const page = await read<MessageDto[]>(`/chat/v1/room/${room}/messages/?after=${after}&limit=200`)
    if (page.length === 0) break
    messages.push(...page)
    after = page.at(-1)!.id
  }
  return { version, messages }
}
