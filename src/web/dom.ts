// The test page's DOM helpers: every string that comes from a user goes in as text, never HTML.

export interface Message {
  id: number
  user_id: string
  nickname: string
  profile_picture_url: string | null
  message: string
  created_at: string
}
export type ServerFrame =
  | ({ type: 'chat.message' } & Message)
  | { type: 'chat.user.join' | 'chat.user.leave'; username: string; user_id: string }
  | { type: 'chat.typing'; user_id: string; nickname: string }
  | { type: 'chat.error'; code: string; message: string }
  | { type: 'chat.recovered'; count: number; truncated: boolean }

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

/** Shows an error above the composer (the three newest). */
export function showError(text: string) {
  const p = document.createElement('p')
  p.textContent = text
  const box = $('errors')
  box.append(p)
  while (box.childElementCount > 3) box.firstElementChild?.remove()
}

/** The sender's picture, or their initial when there is none or it does not load. */
export function avatar(m: Message): HTMLElement {
  const url = m.profile_picture_url
  if (url && (url.startsWith('/') || /^https?:\/\//i.test(url))) {
    const img = document.createElement('img')
    img.className = 'avatar'
    img.alt = ''
    img.src = url
    img.addEventListener('error', () => img.replaceWith(initials(m)), { once: true })
    return img
  }
  return initials(m)
}
function initials(m: Message): HTMLElement {
  const span = document.createElement('span')
  span.className = 'avatar'
  span.textContent = [...m.nickname][0]?.toUpperCase() ?? '?'
  return span
}

/** A message as a list item; `mine` when the page's own user sent it. */
export function messageItem(m: Message, mine: boolean): HTMLLIElement {
  const li = document.createElement('li')
  li.className = mine ? 'message mine' : 'message'
  li.dataset.id = String(m.id)
  const body = document.createElement('div')
  const meta = document.createElement('div')
  meta.className = 'meta'
  const who = document.createElement('strong')
  who.textContent = m.nickname
  meta.append(who, new Date(m.created_at).toLocaleTimeString())
  const text = document.createElement('div')
  text.className = 'text'
  text.textContent = m.message
  body.append(meta, text)
  li.append(avatar(m), body)
  return li
}
