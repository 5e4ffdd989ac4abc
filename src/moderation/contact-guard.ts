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
 * table `contactPatterns`: regular expressions over the folded text.
 */

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

const escapeRegExp = (word: string) => word.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

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

/** Korean numbers as dialled at home: a prefix, and the lengths in digits (prefix included) of a number with it. */
const phoneShapes: readonly { prefix: string; lengths: readonly number[] }[] = [
  { prefix: '010', lengths: [11] }, // mobile: 010-XXXX-XXXX
  ...['011', '016', '017', '018', '019'].map((prefix) => ({ prefix, lengths: [10, 11] })), // older mobile prefixes
  { prefix: '02', lengths: [9, 10] }, // Seoul
  // the other regions: 경기 인천 강원, 충남 대전 충북 세종, 부산 울산 대구 경북 경남, 전남 광주 전북 제주
  ...['031', '032', '033', '041', '042', '043', '044', '051', '052', '053', '054', '055', '061', '062', '063', '064'].map((prefix) => ({ prefix, lengths: [10, 11] })),
  { prefix: '070', lengths: [11] }, // internet phones
  ...['0502', '0503', '0504', '0505', '0506', '0507', '0508'].map((prefix) => ({ prefix, lengths: [11, 12] })), // 안심번호: numbers that forward to a hidden one
  { prefix: '080', lengths: [10, 11] }, // toll-free
]

/** Bit `length` set for each length a prefix allows, keyed by prefix length × 10,000 + its value. */
const PHONE_LENGTHS = new Map<number, number>()
for (const { prefix, lengths } of phoneShapes) {
  const key = prefix.length * 10_000 + Number(prefix)
  for (const length of lengths) PHONE_LENGTHS.set(key, (PHONE_LENGTHS.get(key) ?? 0) | (1 << length))
}

/**
 * Words that make a 10–16 digit number a bank account. `near` ones count within 15 characters;
 * `adjacent` ones are also everyday words (우리 "we", 하나 "one", 대구 a city, 우체국 parcels) and count only right
 * before or after the number.
 */
const bankWords = {
  near: [
    ...['국민', '신한', '농협', '카뱅', '카카오뱅크', '토스뱅크', '토뱅', '케이뱅크', '케뱅', 'k뱅크', '새마을', '신협', '수협', '제일은행', '씨티', '산업은행', '아이엠뱅크'],
    ...['kb', 'nh', 'ibk', 'kdb', 'sc제일', 'im뱅크'],
    ...['은행', '뱅크', 'bank', '계좌', '입금', '송금', '이체', '예금주', '통장'],
  ],
  adjacent: ['우리', '하나', '기업', '대구', '부산', '광주', '경남', '전북', '제주', '토스', '카카오', '우체국', 'sc'],
}
const BANK_NEAR = 15
const wordPattern = (words: readonly string[]) => new RegExp(words.map((word) => (/^[a-z]/.test(word) ? `(?<![a-z])${escapeRegExp(word)}(?![a-z])` : escapeRegExp(word))).join('|'), 'g')
const BANK_NEAR_WORDS = wordPattern(bankWords.near)
const BANK_ADJACENT_WORDS = wordPattern(bankWords.adjacent)

// --- Folding --------------------------------------------------------------------------------------

const PLACEHOLDER = 0xfffc // an astral character that is not a digit or letter in disguise (an emoji)
const FILLER = 0x200b // the second half of a folded astral character: zero width, counts for nothing
const HANGUL_FIRST = 0xac00
const HANGUL_LAST = 0xd7a3

const isHangul = (code: number) => code >= HANGUL_FIRST && code <= HANGUL_LAST
/** Characters that fold to themselves (ASCII aside): Hangul, compatibility jamo, punctuation and symbol blocks. */
const foldsToItself = (code: number) =>
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
function fold(text: string): string {
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

const BREAK = 0 // a letter of another script, a jamo, a comma or a colon: ends a number (15,000 · 15:30)
const DIGIT = 1
const LATIN = 2
const LOOKALIKE = 3 // o, l, i: 0 and 1 when beside digits
const HANGUL = 4
const SEPARATOR = 5
const INVISIBLE = 6 // zero-width characters, which cost nothing between digits

const ASCII_CLASS = new Uint8Array(128).fill(SEPARATOR)
for (let c = 0x30; c <= 0x39; c++) ASCII_CLASS[c] = DIGIT
for (let c = 0x61; c <= 0x7a; c++) ASCII_CLASS[c] = LATIN
for (const c of 'oli') ASCII_CLASS[c.charCodeAt(0)] = LOOKALIKE
ASCII_CLASS[0x2c] = BREAK // ,
ASCII_CLASS[0x3a] = BREAK // :

function classOf(code: number): number {
  if (code < 0x80) return ASCII_CLASS[code]!
  if (isHangul(code)) return HANGUL
  if (code === FILLER || code === 0x200c || code === 0x200d || code === 0x2060 || code === 0xfe0e || code === 0xfe0f || code === 0xfeff) return INVISIBLE
  // ㅡ (the jamo eu) is typed as a dash: 010ㅡ1234
  if ((code >= 0x2000 && code <= 0x2bff) || (code >= 0x3000 && code <= 0x303f) || (code >= 0xa0 && code <= 0xbf) || code === 0xd7 || code === 0xf7 || code === PLACEHOLDER || code === 0x3161) return SEPARATOR
  return BREAK
}

/** Hangul numerals: the digit plus one, by syllable. 공/영 0, 일 1, 이 2, 삼 3, 사 4, 오 5, 육/륙 6, 칠 7, 팔 8, 구 9. */
const NUMERALS = new Uint8Array(HANGUL_LAST - HANGUL_FIRST + 1)
for (const [digit, syllables] of ['공영', '일', '이', '삼', '사', '오', '육륙', '칠', '팔', '구'].entries()) {
  for (const syllable of syllables) NUMERALS[syllable.charCodeAt(0) - HANGUL_FIRST] = digit + 1
}
/** Units that make the digits right before them a quantity, a price, a date or a time: the most digits such a quantity has (255: any). */
const UNITS = new Uint8Array(HANGUL_LAST - HANGUL_FIRST + 1)
const unitRows: [string, number][] = [
  ['원만천백억십개명대장권병벌켤쌍평동배곳칸줄', 255], // money, counts: 15만원, 2개, 3장
  ['년호기메미그', 4], // 2023년식, 302호, 256기가, 270미리
  ['번층살세회차인리센키킬프퍼테학등위', 3], // 11번 출구, 3층, 13인치, 5키로, 10프로
  ['월시분초주박', 2], // dates and times: 12월, 3시 30분, 2주, 1박 (not 일, a numeral too: "…56칠일")
]
for (const [syllables, most] of unitRows) for (const syllable of syllables) UNITS[syllable.charCodeAt(0) - HANGUL_FIRST] = most

// --- Digit groups ----------------------------------------------------------------------------------

const MAX_GAP = 8 // separators allowed between two groups of one number ("010 - 1234", an emoji with spaces)
const MIN_DIGITS = 9 // the shortest number: 02-123-4567
const ACCOUNT_MIN = 10
const ACCOUNT_MAX = 16

const ASCII_ITEM = 1 // an ASCII (or folded full-width) digit, or a look-alike inside a word with digits
const HANGUL_ITEM = 2
const WEAK_ITEM = 3 // a look-alike in a word of nothing but look-alikes ("OlO")

const EXCLUDED = 1 // glued to a unit or to letters: no part of a number
const JOIN_NEXT = 2 // joined to the next group by filler inside a word ("010a1234")
const LOOSE_BEFORE = 4 // joined to the group before by more than one dash, dot or slash: a new number may start here
const WORD_BEFORE = 8 // joined to the group before by a word ("010 하고 1234"): never inside an account

/** Digits found in one text; the arrays are reused from call to call and grow as needed. */
const digits = {
  capacity: 0,
  items: 0,
  groups: 0,
  position: new Int32Array(0),
  value: new Uint8Array(0),
  kind: new Uint8Array(0),
  first: new Int32Array(0), // by group: its first item; first[groups] is the item count
  flags: new Uint8Array(0),
}

function reserve(length: number): void {
  digits.items = 0
  digits.groups = 0
  if (length < digits.capacity) return
  const capacity = Math.max(length + 1, digits.capacity * 2, 256)
  Object.assign(digits, {
    capacity,
    position: new Int32Array(capacity),
    value: new Uint8Array(capacity),
    kind: new Uint8Array(capacity),
    first: new Int32Array(capacity + 1),
    flags: new Uint8Array(capacity + 1),
  })
}

function openGroup(flags: number): void {
  digits.first[digits.groups] = digits.items
  digits.flags[digits.groups++] = flags
}

function addItem(position: number, value: number, kind: number): void {
  digits.position[digits.items] = position
  digits.value[digits.items] = value
  digits.kind[digits.items++] = kind
}

const IEUNG = 0x3147 // ㅇ, typed for 0 as well: ㅇ1ㅇ
const lookalikeValue = (code: number) => (code === 0x6f || code === IEUNG ? 0 : 1)
/** The class of a character inside a word of letters and digits: ASCII, or ㅇ as a look-alike. */
const wordClass = (code: number) => (code < 0x80 ? ASCII_CLASS[code]! : code === IEUNG ? LOOKALIKE : BREAK)
const inWord = (code: number) => {
  const type = wordClass(code)
  return type >= DIGIT && type <= LOOKALIKE
}

/** A word of ASCII letters and digits, [start, end). */
function scanWord(folded: string, start: number, end: number): void {
  let hasDigit = false
  let onlyLookalikes = true
  for (let k = start; k < end; k++) {
    const type = wordClass(folded.charCodeAt(k))
    if (type === DIGIT) hasDigit = true
    if (type !== LOOKALIKE) onlyLookalikes = false
  }
  if (!hasDigit) {
    // "OlO" is a dodged 010 in a chain with real digits (see findNumbers), a word anywhere else.
    if (onlyLookalikes) {
      openGroup(0)
      for (let k = start; k < end; k++) addItem(k, lookalikeValue(folded.charCodeAt(k)), WEAK_ITEM)
    }
    return
  }
  const firstGroup = digits.groups
  let inGroup = false
  let letters = 0 // letters since the last group
  let k = start
  while (k < end) {
    const type = wordClass(folded.charCodeAt(k))
    let run = k + 1
    let isDigit = type === DIGIT
    if (type === LOOKALIKE) {
      // A run of look-alikes is digits when it touches one: "01O", "O1O", "l234".
      while (run < end && wordClass(folded.charCodeAt(run)) === LOOKALIKE) run++
      isDigit = (k > start && wordClass(folded.charCodeAt(k - 1)) === DIGIT) || (run < end && wordClass(folded.charCodeAt(run)) === DIGIT)
    }
    if (!isDigit) {
      inGroup = false
      letters += run - k
    } else {
      if (!inGroup) {
        // One or two letters between digits are filler ("010a1234b5678"); more make it a code.
        if (digits.groups > firstGroup && letters <= 2) digits.flags[digits.groups - 1]! |= JOIN_NEXT
        openGroup(0)
        inGroup = true
        letters = 0
      }
      for (let j = k; j < run; j++) addItem(j, type === DIGIT ? folded.charCodeAt(j) - 0x30 : lookalikeValue(folded.charCodeAt(j)), ASCII_ITEM)
    }
    k = run
  }
  // Letters before the first digit or after the last make a model number or a size: SM-S928N, 256gb.
  const isCode = digits.position[digits.first[firstGroup]!] !== start || !inGroup
  if (isCode) for (let g = firstGroup; g < digits.groups; g++) digits.flags[g]! |= EXCLUDED
  else excludeBeforeUnit(folded, end)
}

/** Marks the group just closed as a quantity when a unit follows it: 15만원, 12월, 3시, 302호. */
function excludeBeforeUnit(folded: string, next: number): void {
  const code = folded.charCodeAt(next)
  if (!isHangul(code)) return
  const group = digits.groups - 1
  const most = UNITS[code - HANGUL_FIRST]!
  const size = digits.items - digits.first[group]!
  if (most > 0 && size <= most) digits.flags[group]! |= EXCLUDED
}

/** A word of Hangul syllables, [start, end): its runs of numerals are groups. */
function scanHangul(folded: string, start: number, end: number): void {
  let k = start
  while (k < end) {
    if (NUMERALS[folded.charCodeAt(k) - HANGUL_FIRST] === 0) {
      k++
      continue
    }
    openGroup(0)
    while (k < end && NUMERALS[folded.charCodeAt(k) - HANGUL_FIRST] !== 0) {
      addItem(k, NUMERALS[folded.charCodeAt(k) - HANGUL_FIRST]! - 1, HANGUL_ITEM)
      k++
    }
    if (k < end) excludeBeforeUnit(folded, k)
  }
}

/** Whether groups g and g + 1 are joined: adjacent, filler inside a word, or only separators between. */
function joined(folded: string, group: number): boolean {
  const flags = digits.flags[group]!
  if ((flags | digits.flags[group + 1]!) & EXCLUDED) return false
  if (flags & JOIN_NEXT) return true
  const last = digits.first[group + 1]! - 1
  let separators = 0
  let syllables = 0
  for (let k = digits.position[last]! + 1, end = digits.position[last + 1]!; k < end; k++) {
    const type = classOf(folded.charCodeAt(k))
    if (type === SEPARATOR) separators++
    else if (type === HANGUL) syllables++
    else if (type !== INVISIBLE) return false
    if (separators > MAX_GAP || syllables > 2) return false
  }
  // One dash, dot or slash binds digits into one code (2024-0315-000123); more, a space or an emoji
  // may separate two things (2026.12.06 010-1234-5678).
  const gap = digits.position[last + 1]! - digits.position[last]! - 1
  if (gap > 1 || (gap === 1 && !TIGHT.includes(folded[digits.position[last]! + 1]!))) digits.flags[group + 1]! |= LOOSE_BEFORE
  // A word of a syllable or two between ASCII digits is filler: "010빵1234", "010 하고 1234".
  if (syllables === 0) return true
  digits.flags[group + 1]! |= WORD_BEFORE
  return digits.kind[last] === ASCII_ITEM && digits.kind[last + 1] === ASCII_ITEM
}
const TIGHT = '-./_'

/** Lists the digit groups of a folded text. */
function scanDigits(folded: string): void {
  reserve(folded.length)
  let k = 0
  while (k < folded.length) {
    const code = folded.charCodeAt(k)
    let end = k + 1
    if (inWord(code)) {
      while (end < folded.length && inWord(folded.charCodeAt(end))) end++
      scanWord(folded, k, end)
    } else if (isHangul(code)) {
      while (end < folded.length && isHangul(folded.charCodeAt(end))) end++
      scanHangul(folded, k, end)
    }
    k = end
  }
  digits.first[digits.groups] = digits.items
}

// --- Phone numbers and accounts ---------------------------------------------------------------------

const national = new Uint8Array(16)

/** Whether the digits [start, start + length) are a Korean phone number, at home or as +82. */
function isPhone(start: number, length: number): boolean {
  const value = digits.value
  let from = start
  let count = length
  if (value[start] === 8) {
    // +82 10-1234-5678, or +82 010-… with the leading zero kept
    if (value[start + 1] !== 2) return false
    from = start + 2
    count = length - 2
    if (value[from] === 0) {
      from++
      count--
    }
    national[0] = 0
    for (let k = 0; k < count; k++) national[k + 1] = value[from + k]!
    count++
  } else {
    if (value[start] !== 0) return false
    for (let k = 0; k < count; k++) national[k] = value[from + k]!
  }
  let prefix = 0
  for (let size = 1; size <= 4 && size < count; size++) {
    prefix = prefix * 10 + national[size - 1]!
    const lengths = PHONE_LENGTHS.get(size * 10_000 + prefix)
    if (lengths !== undefined) return (lengths & (1 << count)) !== 0
  }
  return false
}

const isGroupStart = (item: number, group: number) => digits.first[group] === item
/**
 * A number may start where a chain, a loosely joined group or the number before it does, and end
 * where a group does; or either next to a Hangul numeral, as those are words too ("5678이에요").
 */
const canStart = (item: number, group: number) => (isGroupStart(item, group) && (digits.flags[group]! & LOOSE_BEFORE) !== 0) || digits.kind[item] === HANGUL_ITEM || digits.kind[item - 1] === HANGUL_ITEM
const canEnd = (item: number, group: number, chainEnd: number) => item === chainEnd - 1 || digits.first[group + 1] === item + 1 || digits.kind[item] === HANGUL_ITEM || digits.kind[item + 1] === HANGUL_ITEM

/** The group of an item, found by walking forward from a group known to be at or before it. */
function groupOf(item: number, from: number): number {
  let group = from
  while (digits.first[group + 1]! <= item) group++
  return group
}

/** Two-digit groups counting up by one are a numbered list ("01 02 03 04 05"), not a number. */
function isList(start: number, end: number, group: number): boolean {
  let groups = 0
  let previous = -1
  for (let g = groupOf(start, group); g < digits.groups && digits.first[g]! < end; g++, groups++) {
    const first = digits.first[g]!
    const value = digits.value[first]! * 10 + digits.value[first + 1]!
    if (digits.first[g + 1]! - first !== 2 || (previous >= 0 && value !== previous + 1)) return false
    previous = value
  }
  return groups >= 4
}

interface Span {
  start: number // items
  end: number
}

/** The phone numbers in the chain of items [chainStart, chainEnd), longest first where several fit. */
function phonesIn(chainStart: number, chainEnd: number, firstGroup: number): Span[] {
  const found: Span[] = []
  let group = firstGroup
  let afterPhone = -1
  for (let item = chainStart; item < chainEnd; item++) {
    group = groupOf(item, group)
    const first = digits.value[item]
    if ((first !== 0 && first !== 8) || !(item === chainStart || item === afterPhone || canStart(item, group))) continue
    for (let length = 13; length >= MIN_DIGITS; length--) {
      const last = item + length - 1
      if (last >= chainEnd || !canEnd(last, groupOf(last, group), chainEnd) || !isPhone(item, length) || isList(item, last + 1, group)) continue
      found.push({ start: item, end: last + 1 })
      item = last
      afterPhone = last + 1
      break
    }
  }
  return found
}

interface BankHit {
  start: number
  end: number
  adjacent: boolean
}

/** The bank words of a text, by start. */
function findBankWords(folded: string): BankHit[] {
  const hits: BankHit[] = []
  for (const match of folded.matchAll(BANK_NEAR_WORDS)) hits.push({ start: match.index, end: match.index + match[0].length, adjacent: false })
  for (const match of folded.matchAll(BANK_ADJACENT_WORDS)) hits.push({ start: match.index, end: match.index + match[0].length, adjacent: true })
  return hits.sort((a, b) => a.start - b.start)
}

/** Whether [from, to) of the folded text holds only spaces and light punctuation, at most three, on one line. */
function onlyPunctuation(folded: string, from: number, to: number): boolean {
  if (to - from > 3) return false
  for (let k = from; k < to; k++) {
    const code = folded.charCodeAt(k)
    if ((classOf(code) !== SEPARATOR && code !== 0x3a) || code === 0x0a) return false
  }
  return true
}

/** Whether a bank word is near enough to [start, end) of the folded text to make it an account. */
function nearBank(folded: string, banks: readonly BankHit[], start: number, end: number): boolean {
  // Only words starting within reach can count: find the first by bisection, so many accounts and
  // bank words in one long text stay cheap.
  let low = 0
  let high = banks.length
  while (low < high) {
    const middle = (low + high) >>> 1
    if (banks[middle]!.start < start - BANK_NEAR - 16) low = middle + 1
    else high = middle
  }
  for (let i = low; i < banks.length && banks[i]!.start <= end + BANK_NEAR; i++) {
    const bank = banks[i]!
    const gap = bank.end <= start ? start - bank.end : bank.start >= end ? bank.start - end : -1
    if (gap < 0) continue
    if (bank.adjacent ? onlyPunctuation(folded, Math.min(bank.end, end), Math.max(bank.start, start)) : gap <= BANK_NEAR) return true
  }
  return false
}

/** A run of digits that starts like a date (2026.12.06), which no bank account does. */
function startsWithDate(item: number, group: number): boolean {
  const value = digits.value
  const size = digits.first[group + 1]! - digits.first[group]!
  const year = value[item]! * 1000 + value[item + 1]! * 100 + value[item + 2]! * 10 + value[item + 3]!
  return isGroupStart(item, group) && size === 4 && year >= 1950 && year <= 2099 && group + 1 < digits.groups && digits.first[group + 2]! - digits.first[group + 1]! <= 2
}

/** Finds phone numbers and accounts in the folded text. */
function findNumbers(text: string, folded: string, found: ContactMatch[]): void {
  scanDigits(folded)
  let banks: BankHit[] | null = null
  const report = (kind: ContactKind, first: number, end: number) => {
    const last = digits.position[end - 1]!
    // The + of +82 goes with the number it belongs to.
    const start = digits.position[first]! - (kind === 'phone' && digits.value[first] === 8 && folded.charCodeAt(digits.position[first]! - 1) === 0x2b ? 1 : 0)
    found.push({ kind, start, end: last + ((text.charCodeAt(last) & 0xfc00) === 0xd800 ? 2 : 1) })
  }
  /** Whether the items [first, end) are an account: of its length, beside a bank's name, not a date. */
  const isAccount = (first: number, end: number, group: number) => {
    if (end - first < ACCOUNT_MIN || end - first > ACCOUNT_MAX || startsWithDate(first, groupOf(first, group))) return false
    banks ??= findBankWords(folded)
    return nearBank(folded, banks, digits.position[first]!, digits.position[end - 1]! + 1)
  }
  let chainGroup = 0
  while (chainGroup < digits.groups) {
    let lastGroup = chainGroup
    while (lastGroup + 1 < digits.groups && joined(folded, lastGroup)) lastGroup++
    const group = chainGroup
    const start = digits.first[group]!
    const end = digits.first[lastGroup + 1]!
    chainGroup = lastGroup + 1
    // Numerals and look-alikes are digits only in a chain of nine or more (이번 사이즈 오후 stay
    // words), and look-alikes alone never make one ("lol oil ill").
    let weak = 0
    for (let k = start; k < end; k++) if (digits.kind[k] === WEAK_ITEM) weak++
    if (digits.flags[group]! & EXCLUDED || end - start < MIN_DIGITS || weak === end - start) continue
    const phones = phonesIn(start, end, group)
    // Accounts lie within stretches no word splits: "010 하고 1234" joins a phone number, not an account.
    let from = start
    for (let g = group + 1; g <= lastGroup + 1; g++) {
      if (g <= lastGroup && !(digits.flags[g]! & WORD_BEFORE)) continue
      const to = digits.first[g]!
      // A stretch of account length is an account, unless a phone number is all of it: some
      // banks' numbers read as a phone number and more. Else the account is what phones leave.
      const inside = phones.filter((phone) => phone.start < to && phone.end > from)
      const covered = inside.reduce((sum, phone) => sum + Math.min(to, phone.end) - Math.max(from, phone.start), 0)
      if (inside.length > 0 && covered < to - from && inside.every((phone) => phone.start >= from && phone.end <= to) && isAccount(from, to, group)) {
        report('bank_account', from, to)
        for (const phone of inside) phone.end = phone.start
      } else {
        let rest = from
        for (const phone of inside) {
          if (isAccount(rest, Math.max(from, phone.start), group)) report('bank_account', rest, phone.start)
          rest = Math.min(to, phone.end)
        }
        if (isAccount(rest, to, group)) report('bank_account', rest, to)
      }
      from = to
    }
    for (const phone of phones) if (phone.end > phone.start) report('phone', phone.start, phone.end)
  }
}

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
