/**
 * Rules for text that people see: names, messages, ids. Text that would render as nothing, that
 * reorders what follows it, or that carries terminal and protocol control characters is refused
 * at the edge, whichever way it arrives.
 */

/** C0 and C1 controls and DEL, but tab and newline (which text may carry). */
const CONTROL_BUT_TAB_AND_NEWLINE = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/
/** Every C0 and C1 control and DEL. */
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/
/** Bidirectional embedding, override and isolate controls, and the marks. */
const BIDI_CONTROL = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/
/**
 * A character that shows something: not white space, not a default-ignorable code point (zero-width
 * characters, Hangul fillers, variation selectors, soft hyphen…), not a lone combining mark, not
 * a control, not the blank Braille pattern.
 */
const VISIBLE = /[^\p{White_Space}\p{Default_Ignorable_Code_Point}\p{Mn}\p{Me}\p{Cc}\u2800]/u

/** True when the text contains at least one character that renders as something. */
const hasVisible = (text: string): boolean => VISIBLE.test(text)

/** True when the text has a control character other than tab and newline. */
const hasControlInText = (text: string): boolean => CONTROL_BUT_TAB_AND_NEWLINE.test(text)

/** True when a one-line value (an id, a name, a URL) has any control character. */
export const hasControl = (text: string): boolean => CONTROL.test(text)

/** True for an opaque token clients choose (a client message id): no controls, well-formed Unicode. */
export const isCleanToken = (text: string): boolean => !CONTROL.test(text) && text.isWellFormed()

/** True when the text has bidirectional control characters. */
const hasBidiControl = (text: string): boolean => BIDI_CONTROL.test(text)

/** Why a one-line label (a user id, a nickname) is refused, or null when it is fine. */
export function labelProblem(text: string): string | null {
  if (hasControl(text)) return 'must not contain control characters'
  if (!text.isWellFormed()) return 'must be well-formed Unicode (no lone surrogates)'
  if (hasBidiControl(text)) return 'must not contain bidirectional control characters'
  if (!hasVisible(text)) return 'must contain a visible character'
  return null
}

/** Why a text body (a message, a room name) is refused, or null; `empty` when nothing shows. */
export function textProblem(text: string): { kind: 'empty' | 'invalid'; message: string } | null {
  if (hasControlInText(text)) return { kind: 'invalid', message: 'must not contain control characters (other than tab and newline)' }
  if (!text.isWellFormed()) return { kind: 'invalid', message: 'must be well-formed Unicode (no lone surrogates)' }
  if (!hasVisible(text)) return { kind: 'empty', message: 'must not be empty' }
  return null
}

/** Counts characters as code points, so an emoji is one character. */
export function characterCount(text: string): number {
  let count = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1)
      if (next >= 0xdc00 && next <= 0xdfff) i++
    }
    count++
  }
  return count
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' })
/** What makes a grapheme an emoji: a pictograph, a flag's regional indicators, or a keycap. */
const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u

/** True for one emoji grapheme (`👍`, `❤️`, `👍🏽`, `👨‍👩‍👧`, `🇰🇷`, `1️⃣`): a reaction. */
export function isOneEmoji(text: string): boolean {
  if (text.length === 0 || text.length > 32 || !text.isWellFormed() || !EMOJI.test(text)) return false
  let count = 0
  for (const _ of graphemes.segment(text)) if (++count > 1) return false
  return true
}
