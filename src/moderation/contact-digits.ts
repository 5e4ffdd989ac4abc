/**
 * The digit groups of a folded text (see contact-text.ts): runs of digits, Hangul numerals and
 * look-alikes, each with where it stands and how it joins the next (separators, filler, a word),
 * in arrays reused from call to call. contact-numbers.ts reads phone numbers and accounts from them.
 */
import { ASCII_CLASS, BREAK, DIGIT, HANGUL, HANGUL_FIRST, INVISIBLE, LOOKALIKE, NUMERALS, SEPARATOR, UNITS, classOf, isHangul } from './contact-text.ts'

const MAX_GAP = 8 // separators allowed between two groups of one number ("010 - 1234", an emoji with spaces)
export const MIN_DIGITS = 9 // the shortest number: 02-123-4567
export const ACCOUNT_MIN = 10
export const ACCOUNT_MAX = 16

const ASCII_ITEM = 1 // an ASCII (or folded full-width) digit, or a look-alike inside a word with digits
export const HANGUL_ITEM = 2
export const WEAK_ITEM = 3 // a look-alike in a word of nothing but look-alikes ("OlO")

export const EXCLUDED = 1 // glued to a unit or to letters: no part of a number
const JOIN_NEXT = 2 // joined to the next group by filler inside a word ("010a1234")
export const LOOSE_BEFORE = 4 // joined to the group before by more than one dash, dot or slash: a new number may start here
export const WORD_BEFORE = 8 // joined to the group before by a word ("010 하고 1234"): never inside an account

/** Digits found in one text; the arrays are reused from call to call and grow as needed. */
export const digits = {
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

export const IEUNG = 0x3147 // ㅇ, typed for 0 as well: ㅇ1ㅇ
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
export function joined(folded: string, group: number): boolean {
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
export function scanDigits(folded: string): void {
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
