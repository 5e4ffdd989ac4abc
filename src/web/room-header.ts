// The header of the room shown: who or what the room is (the other member of a direct room, or
// its name), and the post it is about as the app's backend keeps it in the room's data: picture,
// title, price, and the deal's state (판매중, 예약중, 거래완료); and a badge while the room is in
// slow mode. Drawn again on chat.room.updated.
import type { RoomSummary } from '../../client/src/index.ts'
import { onLanguageChange, t } from './labels.ts'

/** What the header shows of a room: its summary, or its detail (which has the same fields). */
export type HeaderRoom = Pick<RoomSummary, 'id' | 'kind' | 'name' | 'data' | 'status' | 'slow_mode_seconds' | 'peer'>

/** The deal states the app's backend writes, each with its label and style (others show as written). */
const DEAL_STATES: Record<string, { label: 'onSale' | 'reserved' | 'sold'; style: string }> = {
  판매중: { label: 'onSale', style: 'on-sale' },
  예약중: { label: 'reserved', style: 'reserved' },
  거래완료: { label: 'sold', style: 'sold' },
}

const text = (value: unknown): string => (typeof value === 'string' ? value.trim() : '')

/** A price in won as the page's language writes it: 950,000원, or ₩950,000. */
function formatPrice(won: number): string {
  return won === 0 ? t('free') : t('price', won)
}

/** The post's price in won, when its data has one (a number, or a number written as text). */
function priceOf(data: Record<string, unknown>): number | null {
  const price = typeof data.price === 'string' && /^\d+$/.test(data.price.trim()) ? Number(data.price) : data.price
  return typeof price === 'number' && Number.isSafeInteger(price) && price >= 0 ? price : null
}

/** The deal's state as the badge shows it: the data's own word, or 거래완료 for an archived room without one. */
function dealState(room: HeaderRoom): { text: string; style: string } | null {
  const written = text(room.data?.status)
  if (written) {
    const known = DEAL_STATES[written]
    return known ? { text: t(known.label), style: known.style } : { text: written, style: 'other' }
  }
  return room.status === 'archived' ? { text: t('sold'), style: 'sold' } : null
}

/** A picture only from the web (http or https): the data is the backend's, but it is still not trusted to be a URL. */
function thumbnailUrl(data: Record<string, unknown>): string | null {
  const url = text(data.thumbnail)
  if (!/^https?:\/\//i.test(url)) return null
  try {
    return new URL(url).href
  } catch {
    return null
  }
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, className: string, testid?: string): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag)
  el.className = className
  if (testid) el.dataset.testid = testid
  return el
}

export class RoomHeader {
  private room: HeaderRoom | null = null

  constructor(private readonly el: HTMLElement) {
    onLanguageChange(() => this.render())
  }

  /** Shows `room` (its detail when opened, its summary from each chat.room.updated after). */
  show(room: HeaderRoom) {
    this.room = room
    this.render()
  }

  /** No room is shown. */
  clear() {
    this.room = null
    this.render()
  }

  private render() {
    const room = this.room
    this.el.hidden = room === null
    if (!room) return this.el.replaceChildren()
    this.el.dataset.status = room.status
    const name = element('div', 'room-name', 'room-name')
    // A direct room is named after the other member (its name, if any, is the backend's).
    name.textContent = room.kind === 'direct' && room.peer ? (room.peer.nickname ?? room.peer.user_id) : room.name || t('roomNumber', room.id)
    const title = element('div', 'room-title')
    title.append(name)
    if (room.slow_mode_seconds > 0) {
      const badge = element('span', 'slow-mode-badge', 'slow-mode-badge')
      badge.textContent = t('slowModeBadge', room.slow_mode_seconds)
      title.append(badge)
    }
    this.el.replaceChildren(title)
    if (room.data) this.el.append(this.post(room, room.data))
  }

  /** The post: its picture, deal state and title, and price. */
  private post(room: HeaderRoom, data: Record<string, unknown>): HTMLElement {
    const post = element('div', 'post', 'post')
    const url = thumbnailUrl(data)
    if (url) {
      const img = element('img', 'post-thumbnail', 'post-thumbnail')
      img.alt = ''
      img.width = img.height = 48
      img.referrerPolicy = 'no-referrer'
      img.src = url
      // A picture that does not load leaves its space to the text.
      img.addEventListener('error', () => (img.hidden = true), { once: true })
      post.append(img)
    }
    const lines = element('div', 'post-lines')
    const first = element('div', 'post-line')
    const state = dealState(room)
    if (state) {
      const badge = element('span', 'deal-state', 'post-status')
      badge.dataset.state = state.style
      badge.textContent = state.text
      first.append(badge)
    }
    const title = element('span', 'post-title', 'post-title')
    title.textContent = text(data.title)
    first.append(title)
    lines.append(first)
    const price = priceOf(data)
    if (price !== null) {
      const priceLine = element('div', 'post-price', 'post-price')
      priceLine.textContent = formatPrice(price)
      lines.append(priceLine)
    }
    post.append(lines)
    return post
  }
}
