import { filtered } from '../../errors.ts'
import type { Logger } from '../../logger.ts'
import { contactKinds, detectContacts, maskContacts, type ContactKind } from '../../moderation/contact-guard.ts'
import type { FilterAction, WordFilter } from '../../store/moderation.ts'
import type { FlagReason, Screened, Store } from '../../store/store.ts'

/** CONTACT_GUARD: what the guard does with a contact it finds. */
export type GuardMode = 'warn' | 'mask' | 'off'

/** What masking puts in place of each character of a match (whitespace stays). */
const MASK = '•'

/** A word filter ready to match. */
interface CompiledFilter {
  pattern: string
  action: FilterAction
  matcher: RegExp
  rooms: ReadonlySet<number> | null
}

/** A text as moderation lets it be stored: what to store, what to keep and tell (`screened`), what to warn of (`notice`). */
export interface ScreenedText {
  text: string
  screened: Screened | undefined
  /** CONTACT_GUARD=warn: the kinds of contact found, which the room's other sockets are warned of; else null. */
  notice: ContactKind[] | null
}

/** A word filter's pattern as a regular expression: a word matches anywhere, ignoring case (Korean has no word boundaries to look for). */
export function filterMatcher(pattern: string, regex: boolean): RegExp {
  return new RegExp(regex ? pattern : RegExp.escape(pattern), 'giu')
}

/** Every character of each match but whitespace becomes •. */
const maskAll = (text: string, matcher: RegExp) => text.replace(matcher, (found) => found.replace(/\S/gu, MASK))

/**
 * Moderation of text before it is stored, in one place for messages, edits and room names: the
 * word filters (refuse → 422 `filtered`, mask, flag), then the contact and scam guard
 * (moderation/contact-guard.ts) on messages and edits. The filters are read from the store and
 * kept; each instance reads them again every FILTER_REFRESH_MS (at once after its own change), in
 * the background, so a send never waits for them once they were read.
 */
export class Screening {
  private filters: CompiledFilter[] = []
  private readAt = Number.NEGATIVE_INFINITY
  private reading: Promise<void> | null = null

  constructor(
    private readonly store: Pick<Store, 'moderation'>,
    private readonly guard: GuardMode,
    private readonly refreshMs: number,
    private readonly logger: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * A message's or an edit's text, screened: 422 `filtered` when a filter refuses it. Answered at
   * once (no promise: this runs on every message) once the filters were read; before that, when read.
   */
  message(roomId: number, text: string): ScreenedText | Promise<ScreenedText> {
    const filters = this.filtersNow()
    return filters === null ? this.firstRead().then((read) => this.screen(read, roomId, text)) : this.screen(filters, roomId, text)
  }

  /** A room's name, screened by the filters (flags do not apply to names): 422 `filtered` when one refuses it. */
  async roomName(roomId: number | null, name: string): Promise<string> {
    return this.applyFilters(this.filtersNow() ?? (await this.firstRead()), roomId, name, 'name', null)
  }

  private screen(filters: readonly CompiledFilter[], roomId: number, text: string): ScreenedText {
    const reasons: FlagReason[] = []
    let stored = filters.length === 0 ? text : this.applyFilters(filters, roomId, text, 'message', reasons)
    let notice: ContactKind[] | null = null
    if (this.guard !== 'off') {
      const found = detectContacts(stored)
      if (found.length > 0) {
        const kinds = contactKinds(found)
        reasons.push({ source: 'contact_guard', kinds })
        if (this.guard === 'mask') stored = maskContacts(stored, found)
        else notice = kinds
      }
    }
    const original = stored === text ? null : text
    return { text: stored, screened: reasons.length > 0 || original !== null ? { original, reasons } : undefined, notice }
  }

  /** Reads the filters again now (after a change on this instance). */
  async reload(): Promise<void> {
    await this.refresh()
  }

  private applyFilters(filters: readonly CompiledFilter[], roomId: number | null, text: string, field: string, reasons: FlagReason[] | null): string {
    let out = text
    for (const filter of filters) {
      if (filter.rooms !== null && (roomId === null || !filter.rooms.has(roomId))) continue
      filter.matcher.lastIndex = 0
      if (!filter.matcher.test(out)) continue
      if (filter.action === 'refuse') throw filtered(field)
      if (filter.action === 'mask') out = maskAll(out, filter.matcher)
      reasons?.push({ source: 'word_filter', pattern: filter.pattern, action: filter.action })
    }
    return out
  }

  /**
   * The filters as last read, or null before the first read. Past FILTER_REFRESH_MS they are read
   * again in the background (the old ones serve meanwhile).
   */
  private filtersNow(): readonly CompiledFilter[] | null {
    if (this.readAt === Number.NEGATIVE_INFINITY) return null
    if (this.reading === null && this.now() - this.readAt >= this.refreshMs)
      this.refresh().catch((err: unknown) => {
        this.logger.warn('reading the word filters failed; the ones read before still apply', { err })
      })
    return this.filters
  }

  /** The first read, which a caller waits for (a failed one fails the call: text is never stored unscreened). */
  private async firstRead(): Promise<readonly CompiledFilter[]> {
    await this.refresh()
    return this.filters
  }

  /** One read at a time, however many ask. */
  private refresh(): Promise<void> {
    this.reading ??= this.read().finally(() => {
      this.reading = null
    })
    return this.reading
  }

  private async read(): Promise<void> {
    const rows = await this.store.moderation.filters()
    this.filters = rows.map(compile)
    this.readAt = this.now()
  }
}

const compile = (row: WordFilter): CompiledFilter => ({ pattern: row.pattern, action: row.action, matcher: filterMatcher(row.pattern, row.regex), rooms: row.rooms === null ? null : new Set(row.rooms) })
