/**
 * The contact guard: finds what takes a marketplace chat outside the app (a phone number, a bank
 * account, a KakaoTalk id, an open-chat or payment link, an e-mail address, a messenger id) however it
 * is dodged: "공일공-12삼4-5678", "０１０", "01O🙂1234🙂5678", "open . kakao . com".
 *
 * The text is folded into a comparison form of exactly the same length: ASCII in lower case,
 * full-width and other compatibility forms through NFKC (０ → 0, Ｏ → o), an astral character (an
 * emoji) into a placeholder and a zero-width filler. As folding never adds or drops a UTF-16 unit, an
 * offset in the folded text is the offset in the original, and a mask lands on what the sender typed.
 *
 * Numbers are chains of digit groups joined by separators (spaces, punctuation, emoji, a letter or
 * two of filler between digits). Hangul numerals (공 일 이 삼…) count as digits only in a chain of
 * nine digits or more, O/l/I only beside digits, and a group glued to a unit (15만원, 12월, 3시) or
 * to letters (SM-S928N, 256GB) is no part of a number, so words, prices, dates and model numbers stay
 * words. A chain holds a phone number where part of it has a Korean number's shape (`phoneShapes`),
 * and is an account when it has 10 to 16 digits beside a bank's name (`bankWords`). The rest is the
 * table `contactPatterns`: regular expressions over the folded text. The folding is contact-text.ts,
 * the digit groups contact-digits.ts, phone numbers and accounts contact-numbers.ts.
 */
import { findNumbers } from './contact-numbers.ts'
import { IEUNG, MIN_DIGITS } from './contact-digits.ts'
import { ASCII_CLASS, HANGUL_FIRST, LOOKALIKE, NUMERALS, escapeRegExp, fold, foldsToItself, isHangul } from './contact-text.ts'

export type ContactKind = 'phone' | 'bank_account' | 'kakao_id' | 'open_chat' | 'payment_link' | 'email' | 'messenger_id'

/** A contact detail in a text: UTF-16 offsets into the original text, `end` exclusive. */
export interface ContactMatch {
  kind: ContactKind
  start: number
  end: number
}

/** One row of the text patterns. */
export interface ContactPattern {
  kind: ContactKind
  /** Words (lower case) of which any text the row matches holds one: a text with none skips the row. */
  hints: readonly string[]
  /** Global with indices (`dg`), over the folded text; its group `contact`, when it has one, is what is reported. */
  pattern: RegExp
}

/** Every kind, in the order contactKinds lists them and a tie between overlapping matches is settled. */
const KINDS: readonly ContactKind[] = ['phone', 'bank_account', 'kakao_id', 'open_chat', 'payment_link', 'email', 'messenger_id']

// Building blocks of the patterns, over folded (lower-case) text. Every repetition is bounded or
// stops at a delimiter, and every pattern starts at a literal or behind a look-behind, so a scan stays
// linear however long the text.
const DOT = String.raw`\s{0,3}(?:\.|·|。|점|쩜|닷|dot|\(dot\)|\[dot\]|\[\.\]|\(\.\))\s{0,3}`
/** Between a messenger's name and the word for id: "카톡으로 연락주세요 아이디 …", at most 12 characters. */
const AFTER_NAME = '[^a-z0-9@]{0,12}?'
const MARKER = String.raw`(?:아이디|아디|id|친구\s?추가|친추|추가|검색|계정|주소)[\s:=\-~>→은는이가요]{0,6}`
/** An id after a word saying it is one: 3 to 30 letters, digits, dots, dashes and underscores. */
const ID = '(?<contact>@?[a-z][a-z0-9._-]{1,28}[a-z0-9])(?![a-z0-9])'
/** An id with nothing saying it is one, right after the name: a word with a digit, a dot or an underscore. */
const BARE_ID = String.raw`[\s:=]{0,3}(?<contact>[a-z][a-z0-9]{0,28}[0-9_.][a-z0-9._-]{0,28}(?<=[a-z0-9]))(?![a-z0-9])`
/** An @handle (not an address's domain) shortly after the name: "인스타 DM 주세요 @shop_lee". */
const HANDLE = String.raw`[^@\n]{0,16}?(?<![a-z0-9._%+-])(?<contact>@[a-z0-9_][a-z0-9._]{1,30}(?<=[a-z0-9_]))(?![a-z0-9_])`
const KAKAO = String.raw`(?:카\s?카\s?오\s?톡|카\s?카\s?오|카[\s.·\-]{0,2}톡|까\s?똑|카\s?똑|깨\s?톡|ㅋ[\s.·\-]{0,2}ㅌ|kakao\s?talk|kakao|ka\s?talk|(?<![가-힣])톡)`
const MESSENGER = String.raw`(?:텔\s?레\s?그\s?램|텔레|텔그|telegram|(?<![a-z])tg|(?<![가-힣])라인|(?<![a-z])line|위챗|wechat|왓츠\s?앱|whatsapp|시그널|signal|인스타(?:그램)?|instagram|insta|(?<![a-z])ig)`
const KAKAO_HINTS = ['톡', '똑', 'ㅌ', '카카오', '카 카', 'kakao', 'talk']
const MESSENGER_HINTS = ['텔', 'tele', 'tg', '라인', 'line', '위챗', 'wechat', '왓츠', 'whatsapp', '시그널', 'signal', '인스타', 'insta', 'ig']

/** A site's address, its dots possibly dodged ("toss . me", "toss쩜me"), with any scheme, subdomain and path. */
function site(host: string): RegExp {
  const labels = host.split('.').map(escapeRegExp)
  const scheme = String.raw`(?:https?\s{0,2}:\s{0,2}/\s{0,2}/\s{0,2})?(?:www\.)?(?:[a-z0-9-]{1,30}\.)?`
  const segment = String.raw`\s{0,2}/\s{0,2}[a-z0-9_\-~%=?&#+.]{1,64}`
  // With its dots dropped ("open kakao com/o/…") the name is only an address when a path follows.
  const dotted = `${labels.join(DOT)}(?![a-z0-9])(?:${segment}){0,8}`
  const spaced = `${labels.join(String.raw`\s{1,3}`)}(?:${segment}){1,8}`
  return new RegExp(`(?<![a-z0-9])${scheme}(?:${dotted}|${spaced})`, 'dg')
}

/** The text patterns. A new payment site or messenger is one more row. */
export const contactPatterns: readonly ContactPattern[] = [
  // "카톡 아이디 abc123", "톡 아이디는 kim1234", "카카오톡 친추 abc123"
  { kind: 'kakao_id', hints: KAKAO_HINTS, pattern: new RegExp(KAKAO + AFTER_NAME + MARKER + ID, 'dg') },
  // "ㅋㅌ abc123", "카톡: seller_kim", "카톡 @abc": no word says it is an id, so it must look like one
  { kind: 'kakao_id', hints: KAKAO_HINTS, pattern: new RegExp(KAKAO + BARE_ID, 'dg') },
  { kind: 'kakao_id', hints: KAKAO_HINTS, pattern: new RegExp(KAKAO + HANDLE, 'dg') },
  // 오픈채팅 (open chat) rooms, and Kakao's short links that mostly lead to one
  { kind: 'open_chat', hints: ['kakao'], pattern: site('open.kakao.com') },
  { kind: 'open_chat', hints: ['kko'], pattern: site('kko.to') },
  // Transfer links: Toss, KakaoPay (qr., link.), Naver Pay, PayPal
  { kind: 'payment_link', hints: ['toss'], pattern: site('toss.me') },
  { kind: 'payment_link', hints: ['toss'], pattern: site('toss.im') },
  { kind: 'payment_link', hints: ['kakaopay'], pattern: site('kakaopay.com') },
  { kind: 'payment_link', hints: ['naver'], pattern: site('pay.naver.com') },
  { kind: 'payment_link', hints: ['paypal'], pattern: site('paypal.me') },
  { kind: 'payment_link', hints: ['paypal'], pattern: site('paypal.com') },
  // "텔레그램 @abc", "라인 아이디 kim_22", "인스타 shop.kim"
  { kind: 'messenger_id', hints: MESSENGER_HINTS, pattern: new RegExp(MESSENGER + AFTER_NAME + MARKER + ID, 'dg') },
  { kind: 'messenger_id', hints: MESSENGER_HINTS, pattern: new RegExp(MESSENGER + BARE_ID, 'dg') },
  { kind: 'messenger_id', hints: MESSENGER_HINTS, pattern: new RegExp(MESSENGER + HANDLE, 'dg') },
  { kind: 'messenger_id', hints: ['me'], pattern: site('t.me') },
  { kind: 'messenger_id', hints: ['line'], pattern: site('line.me') },
  // "kim@naver.com", "kim 골뱅이 naver 쩜 com"; the last label is the top-level domain, letters only
  {
    kind: 'email',
    hints: ['@', '골뱅이', '(at)', '[at]'],
    pattern: new RegExp(String.raw`(?<![a-z0-9._%+-])[a-z0-9][a-z0-9._%+-]{0,63}\s{0,2}(?:@|골뱅이|\(at\)|\[at\])\s{0,2}[a-z0-9][a-z0-9-]{0,62}(?:${DOT}[a-z0-9][a-z0-9-]{0,62}){0,2}${DOT}[a-z]{2,10}(?![a-z0-9])`, 'dg'),
  },
]

/** A text holding none of these words can match no row. */
const HINTS = new RegExp([...new Set(contactPatterns.flatMap((row) => row.hints))].map(escapeRegExp).join('|'), 'i')

// --- The API ----------------------------------------------------------------------------------------

/** Finds the contact details in a text: sorted by start, overlapping ones merged (the first one's kind kept). */
export function detectContacts(text: string): ContactMatch[] {
  // The fast path, one pass over the text: a number needs MIN_DIGITS digits at least (ASCII digits,
  // characters that may fold into one, Hangul numerals, look-alikes beside them), and the patterns
  // need one of their words; a text with neither has nothing to find, and most chat has neither.
  let digits = 0
  let numerals = 0
  let lookalikes = 0
  let plain = true
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code < 0x80) {
      if (code >= 0x30 && code <= 0x39) digits++
      else if (ASCII_CLASS[code | 0x20] === LOOKALIKE) lookalikes++
    } else if (isHangul(code)) {
      if (NUMERALS[code - HANGUL_FIRST] !== 0) numerals++
    } else if (code === IEUNG) lookalikes++
    else if (!foldsToItself(code)) {
      plain = false
      // A full-width or astral character may fold into a digit (one per code point).
      if ((code & 0xfc00) !== 0xdc00) digits++
    }
  }
  const numbers = digits + numerals > 0 && digits + numerals + lookalikes >= MIN_DIGITS
  const rawHints = HINTS.test(text)
  if (!numbers && plain && !rawHints) return []
  const folded = plain ? text.toLowerCase() : fold(text)
  // Folding may spell a pattern's word (ｋａｋａｏ).
  const words = rawHints || (!plain && HINTS.test(folded))
  if (!numbers && !words) return []
  const found: ContactMatch[] = []
  if (numbers) findNumbers(text, folded, found)
  if (words) {
    for (const row of contactPatterns) {
      if (!row.hints.some((hint) => folded.includes(hint))) continue
      for (const match of folded.matchAll(row.pattern)) {
        const [start, end] = match.indices?.groups?.contact ?? match.indices![0]!
        found.push({ kind: row.kind, start, end: end + ((text.charCodeAt(end - 1) & 0xfc00) === 0xd800 ? 1 : 0) })
      }
    }
  }
  return merge(found)
}

function merge(found: ContactMatch[]): ContactMatch[] {
  if (found.length < 2) return found
  found.sort((a, b) => a.start - b.start || KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind))
  const merged: ContactMatch[] = [found[0]!]
  for (let i = 1; i < found.length; i++) {
    const match = found[i]!
    const last = merged[merged.length - 1]!
    if (match.start < last.end) last.end = Math.max(last.end, match.end)
    else merged.push(match)
  }
  return merged
}

/** The distinct kinds among matches, in a fixed order (phone, bank_account, kakao_id, open_chat, payment_link, email, messenger_id). */
export function contactKinds(matches: readonly ContactMatch[]): ContactKind[] {
  return KINDS.filter((kind) => matches.some((match) => match.kind === kind))
}

/** JavaScript's white space (what `\s` matches), which a mask keeps so the message keeps its shape. */
const isWhiteSpace = (code: number) =>
  (code >= 9 && code <= 13) ||
  code === 32 ||
  code === 0xa0 ||
  code === 0x1680 ||
  (code >= 0x2000 && code <= 0x200a) ||
  code === 0x2028 ||
  code === 0x2029 ||
  code === 0x202f ||
  code === 0x205f ||
  code === 0x3000 ||
  code === 0xfeff

/** The text with every code point of every match, white space aside, replaced by '•'. */
export function maskContacts(text: string, matches: readonly ContactMatch[]): string {
  let masked = ''
  let copied = 0
  for (const { start, end } of matches) {
    if (start < copied) continue
    masked += text.slice(copied, start)
    for (let i = start; i < Math.min(end, text.length); i++) {
      const code = text.charCodeAt(i)
      if ((code & 0xfc00) === 0xd800 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) i++
      masked += isWhiteSpace(code) ? text[i] : '•'
    }
    copied = Math.max(copied, end)
  }
  return masked + text.slice(copied)
}
