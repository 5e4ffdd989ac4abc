/**
 * Phone numbers and bank accounts in the digit groups of a text (contact-digits.ts): a chain of
 * groups holds a phone number where part of it has a Korean number's shape (`phoneShapes`), and an
 * account where 10 to 16 digits stand beside a bank's name (`bankWords`).
 */
import { ACCOUNT_MAX, ACCOUNT_MIN, EXCLUDED, HANGUL_ITEM, LOOSE_BEFORE, MIN_DIGITS, WEAK_ITEM, WORD_BEFORE, digits, joined, scanDigits } from './contact-digits.ts'
import { SEPARATOR, classOf, escapeRegExp } from './contact-text.ts'

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

/** A phone number or an account found: UTF-16 offsets into the original text, `end` exclusive. */
export interface NumberMatch {
  kind: 'phone' | 'bank_account'
  start: number
  end: number
}

/** Finds phone numbers and accounts in the folded text. */
export function findNumbers(text: string, folded: string, found: { push(match: NumberMatch): unknown }): void {
  scanDigits(folded)
  let banks: BankHit[] | null = null
  const report = (kind: NumberMatch['kind'], first: number, end: number) => {
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
