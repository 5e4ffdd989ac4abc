/**
 * The contact guard's view of a text's characters: folding (full-width and other compatibility
 * forms through NFKC, an astral character into a placeholder and a zero-width filler, the folded
 * text the same length as the text so an offset in it is one in the original), the class of each
 * folded character, and the Hangul syllables that are numerals (공 일 이…) or units (원 월 시…).
 */

/** `word` as a regular expression matching it literally. */
export const escapeRegExp = (word: string) => word.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

const PLACEHOLDER = 0xfffc // an astral character that is not a digit or letter in disguise (an emoji)
const FILLER = 0x200b // the second half of a folded astral character: zero width, counts for nothing
export const HANGUL_FIRST = 0xac00
const HANGUL_LAST = 0xd7a3

export const isHangul = (code: number) => code >= HANGUL_FIRST && code <= HANGUL_LAST
/** Characters that fold to themselves (ASCII aside): Hangul, compatibility jamo, punctuation and symbol blocks. */
export const foldsToItself = (code: number) =>
  isHangul(code) ||
  (code >= 0x3131 && code <= 0x318e) ||
  (code >= 0x2000 && code <= 0x206f) ||
  (code >= 0x20a0 && code <= 0x20ff) ||
  (code >= 0x2190 && code <= 0x245f) ||
  (code >= 0x2500 && code <= 0x2bff) ||
  (code >= 0x3000 && code <= 0x303f) ||
  code === 0xa0 ||
  code === 0xb7 ||
  code === 0xfe0e ||
  code === 0xfe0f

const foldCache = new Map<number, number>()
/** The one UTF-16 unit a code point folds to: its NFKC form in lower case when that is one BMP character. */
function foldCodePoint(codePoint: number): number {
  const cached = foldCache.get(codePoint)
  if (cached !== undefined) return cached
  const form = String.fromCodePoint(codePoint).normalize('NFKC').toLowerCase()
  const unit = form.charCodeAt(0)
  // Half-width jamo would become conjoining jamo, which no pattern spells: keep them as typed.
  let folded = codePoint > 0xffff ? PLACEHOLDER : codePoint
  if (form.length === 1 && !(unit >= 0x1100 && unit <= 0x11ff)) folded = unit
  if (foldCache.size < 4096) foldCache.set(codePoint, folded)
  return folded
}

const utf16 = new TextDecoder('utf-16le')
/** The folded text, the same length as the text. */
export function fold(text: string): string {
  const units = new Uint16Array(text.length)
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) units[i] = code >= 0x41 && code <= 0x5a ? code + 32 : code
    else if (foldsToItself(code)) units[i] = code
    else if (code >= 0xff01 && code <= 0xff5e) units[i] = foldCodePoint(code)
    else if (code >= 0xd800 && code <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      units[i] = foldCodePoint(text.codePointAt(i)!)
      units[++i] = FILLER
    } else if (code >= 0xd800 && code <= 0xdfff) units[i] = PLACEHOLDER
    else units[i] = foldCodePoint(code)
  }
  return utf16.decode(units)
}

// --- Character classes of the folded text -----------------------------------------------------------

export const BREAK = 0 // a letter of another script, a jamo, a comma or a colon: ends a number (15,000 · 15:30)
export const DIGIT = 1
const LATIN = 2
export const LOOKALIKE = 3 // o, l, i: 0 and 1 when beside digits
export const HANGUL = 4
export const SEPARATOR = 5
export const INVISIBLE = 6 // zero-width characters, which cost nothing between digits

export const ASCII_CLASS = new Uint8Array(128).fill(SEPARATOR)
for (let c = 0x30; c <= 0x39; c++) ASCII_CLASS[c] = DIGIT
for (let c = 0x61; c <= 0x7a; c++) ASCII_CLASS[c] = LATIN
for (const c of 'oli') ASCII_CLASS[c.charCodeAt(0)] = LOOKALIKE
ASCII_CLASS[0x2c] = BREAK // ,
ASCII_CLASS[0x3a] = BREAK // :

export function classOf(code: number): number {
  if (code < 0x80) return ASCII_CLASS[code]!
  if (isHangul(code)) return HANGUL
  if (code === FILLER || code === 0x200c || code === 0x200d || code === 0x2060 || code === 0xfe0e || code === 0xfe0f || code === 0xfeff) return INVISIBLE
  // ㅡ (the jamo eu) is typed as a dash: 010ㅡ1234
  if ((code >= 0x2000 && code <= 0x2bff) || (code >= 0x3000 && code <= 0x303f) || (code >= 0xa0 && code <= 0xbf) || code === 0xd7 || code === 0xf7 || code === PLACEHOLDER || code === 0x3161) return SEPARATOR
  return BREAK
}

/** Hangul numerals: the digit plus one, by syllable. 공/영 0, 일 1, 이 2, 삼 3, 사 4, 오 5, 육/륙 6, 칠 7, 팔 8, 구 9. */
export const NUMERALS = new Uint8Array(HANGUL_LAST - HANGUL_FIRST + 1)
for (const [digit, syllables] of ['공영', '일', '이', '삼', '사', '오', '육륙', '칠', '팔', '구'].entries()) {
  for (const syllable of syllables) NUMERALS[syllable.charCodeAt(0) - HANGUL_FIRST] = digit + 1
}
/** Units that make the digits right before them a quantity, a price, a date or a time: the most digits such a quantity has (255: any). */
export const UNITS = new Uint8Array(HANGUL_LAST - HANGUL_FIRST + 1)
const unitRows: [string, number][] = [
  ['원만천백억십개명대장권병벌켤쌍평동배곳칸줄', 255], // money, counts: 15만원, 2개, 3장
  ['년호기메미그', 4], // 2023년식, 302호, 256기가, 270미리
  ['번층살세회차인리센키킬프퍼테학등위', 3], // 11번 출구, 3층, 13인치, 5키로, 10프로
  ['월시분초주박', 2], // dates and times: 12월, 3시 30분, 2주, 1박 (not 일, a numeral too: "…56칠일")
]
for (const [syllables, most] of unitRows) for (const syllable of syllables) UNITS[syllable.charCodeAt(0) - HANGUL_FIRST] = most
