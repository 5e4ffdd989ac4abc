/** What the dispatcher needs of an answer. */
export interface PostAnswer {
  status: number
  retryAfter: string | null
}

/** A request that got no answer: the connection failed, or nothing came in time (`name` 'TimeoutError'). */
export class RequestFailed extends Error {
  constructor(message: string, name: 'TimeoutError' | 'RequestFailed' = 'RequestFailed') {
    super(message)
    this.name = name
  }
}

// The receiver is a peer, and may be hostile or broken: every part of its answer is bounded. Before
// the final head is read, past any bound the request fails; once it is read, its status is the
// answer and the rest is only skipped, so a body or trailers past their bounds (or out of their
// framing) end the reading with that status, as the fetch path reads a prefix of a body and lets
// the rest go. Either way the connection is dropped, never reused. Only the status and Retry-After
// are kept, so the bounds are far above what any answer needs.

/** All the bytes of one answer: informational heads, head, body (skipped, yet counted) and trailers. */
export const MAX_RESPONSE_BYTES = 1024 * 1024
/** One head: its status line and header lines. */
export const MAX_HEAD_BYTES = 64 * 1024
/** Informational (1xx) heads before the answer: servers send one or two (100 Continue, 103 Early Hints). */
export const MAX_INFORMATIONAL_HEADS = 8
/** A chunk-size line, extensions included. */
export const MAX_CHUNK_LINE_BYTES = 1024
/** The trailer section of a chunked body, and the fields in it. */
export const MAX_TRAILER_BYTES = 16 * 1024
export const MAX_TRAILER_FIELDS = 64

const CR = 0x0d
const LF = 0x0a

/** The status line and the few headers that matter. */
interface Head {
  status: number
  retryAfter: string | null
  keepAlive: boolean
  length: number | null
  chunked: boolean
}

/** Where the reader is in an answer: reading lines (of a head, a chunked body, trailers), skipping data, or done. */
type Part = { at: 'head' } | { at: 'chunk-size' } | { at: 'data'; left: number; chunked: boolean } | { at: 'chunk-end' } | { at: 'trailers' } | { at: 'to-close' } | { at: 'done' }

/**
 * The line being read, as its bytes come: one buffer that doubles when full, so a line trickled a
 * byte at a time is copied a few times over rather than once per byte, and never grows past its bound.
 */
class LineBuffer {
  private bytes = Buffer.allocUnsafe(128)
  private length = 0

  /** Adds `piece`; false, keeping nothing of it, if the line would pass `limit` bytes. */
  add(piece: Uint8Array, limit: number): boolean {
    const length = this.length + piece.length
    if (length > limit) return false
    if (length > this.bytes.length) {
      const grown = Buffer.allocUnsafe(Math.min(limit, Math.max(length, this.bytes.length * 2)))
      this.bytes.copy(grown, 0, 0, this.length)
      this.bytes = grown
    }
    this.bytes.set(piece, this.length)
    this.length = length
    return true
  }

  /** The line without its CRLF (null if it ends in a bare LF), and the buffer emptied. */
  take(): string | null {
    const crlf = this.length >= 2 && this.bytes[this.length - 2] === CR && this.bytes[this.length - 1] === LF
    const text = crlf ? this.bytes.toString('latin1', 0, this.length - 2) : null
    this.length = 0
    return text
  }
}

/**
 * Reads one HTTP/1.1 response from the bytes of a connection, as they come: the status,
 * Retry-After, whether the connection may carry another request, and where the body ends (its
 * bytes are skipped, never kept). Informational (1xx) heads are passed over. Holds at most one
 * line (of a head, a chunk size or a trailer), whatever the peer sends.
 */
export class ResponseReader {
  private part: Part = { at: 'head' }
  private readonly line = new LineBuffer()
  /** The head being read (null until its status line), and the final one once read. */
  private reading: Head | null = null
  private head: Head | null = null
  private total = 0
  private headBytes = 0
  private informational = 0
  private trailerBytes = 0
  private trailerFields = 0

  /**
   * Feeds bytes; returns the answer once it is complete, or once what follows its head breaks a
   * bound (then with `keepAlive` false). Throws RequestFailed when no status could be read.
   */
  feed(chunk: Buffer): (PostAnswer & { keepAlive: boolean }) | null {
    try {
      this.total += chunk.length
      if (this.total > MAX_RESPONSE_BYTES) throw tooLarge()
      let at = 0
      while (at < chunk.length) {
        // Bytes after a whole answer: nothing was asked (the connection will not carry another).
        if (this.part.at === 'done') throw new RequestFailed('the server sent more than one answer')
        if (this.part.at === 'to-close') return null
        at = this.part.at === 'data' ? this.skip(chunk, at) : this.readLine(chunk, at)
      }
      return this.part.at === 'done' ? this.answer(this.head!.keepAlive) : null
    } catch (error) {
      if (!this.head || !(error instanceof RequestFailed)) throw error
      this.part = { at: 'done' }
      return this.answer(false)
    }
  }

  /** The connection ended: the answer, if its body was to run until the end; otherwise none. */
  ended(): (PostAnswer & { keepAlive: false }) | null {
    return this.part.at === 'to-close' ? this.answer(false) : null
  }

  private answer<K extends boolean>(keepAlive: K): PostAnswer & { keepAlive: K } {
    return { status: this.head!.status, retryAfter: this.head!.retryAfter, keepAlive }
  }

  /** Skips what of the body's data is in `chunk` from `at`; returns where it stopped. */
  private skip(chunk: Buffer, at: number): number {
    const part = this.part as Extract<Part, { at: 'data' }>
    const take = Math.min(part.left, chunk.length - at)
    part.left -= take
    if (part.left === 0) this.part = part.chunked ? { at: 'chunk-end' } : { at: 'done' }
    return at + take
  }

  /** Reads what of a line is in `chunk` from `at`, and takes the line once its end has come; returns where it stopped. */
  private readLine(chunk: Buffer, at: number): number {
    const lf = chunk.indexOf(LF, at)
    const end = lf === -1 ? chunk.length : lf + 1
    const { limit, tooLong } = this.lineBound()
    if (!this.line.add(chunk.subarray(at, end), limit)) throw new RequestFailed(tooLong)
    if (lf === -1) return end
    const line = this.line.take()
    if (line === null) throw new RequestFailed('the answer has a line not ended by CRLF')
    if (this.part.at === 'head') this.headLine(line)
    else if (this.part.at === 'chunk-size') this.chunkSize(line)
    else if (this.part.at === 'trailers') this.trailer(line)
    else if (line === '') this.part = { at: 'chunk-size' }
    else throw malformedChunks()
    return end
  }

  /** How long the line under way may grow: what is left of its head's or its trailers' bound, or its own. */
  private lineBound(): { limit: number; tooLong: string } {
    if (this.part.at === 'head') return { limit: MAX_HEAD_BYTES - this.headBytes, tooLong: 'the answer’s head is too long' }
    if (this.part.at === 'trailers') return { limit: MAX_TRAILER_BYTES - this.trailerBytes, tooLong: 'the answer’s trailers are too long' }
    if (this.part.at === 'chunk-size') return { limit: MAX_CHUNK_LINE_BYTES, tooLong: 'a chunk size line is too long' }
    // The CRLF after a chunk's data.
    return { limit: 2, tooLong: 'the answer’s chunked body is malformed' }
  }

  /** A status line, a header, or the empty line that ends a head (an informational one is passed over). */
  private headLine(line: string): void {
    this.headBytes += line.length + 2
    if (!this.reading) return void (this.reading = statusLine(line))
    if (line !== '') return addHeader(this.reading, line)
    const head = this.reading
    this.reading = null
    this.headBytes = 0
    if (head.status >= 200) {
      this.head = head
      this.part = bodyOf(head)
    } else if (++this.informational > MAX_INFORMATIONAL_HEADS) throw new RequestFailed('the server sent too many informational answers')
  }

  /** A chunk's size: its data follows, or none does and the trailers come. A size past the bound fails now, not a megabyte later. */
  private chunkSize(line: string): void {
    const size = /^([0-9a-fA-F]{1,8})(?:;.*)?$/.exec(line)
    if (!size) throw malformedChunks()
    const n = Number.parseInt(size[1]!, 16)
    if (n > MAX_RESPONSE_BYTES) throw tooLarge()
    this.part = n === 0 ? { at: 'trailers' } : { at: 'data', left: n, chunked: true }
  }

  /** A trailer field (skipped, but counted), or the empty line that ends the answer. */
  private trailer(line: string): void {
    this.trailerBytes += line.length + 2
    if (line === '') this.part = { at: 'done' }
    else if (++this.trailerFields > MAX_TRAILER_FIELDS) throw new RequestFailed('the answer has too many trailers')
  }
}

const tooLarge = () => new RequestFailed(`the answer is longer than ${MAX_RESPONSE_BYTES} bytes`)
const malformedChunks = () => new RequestFailed('the answer’s chunked body is malformed')

function statusLine(line: string): Head {
  const status = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(line)
  if (!status) throw new RequestFailed('the answer is not HTTP/1.x')
  return { status: Number(status[2]), retryAfter: null, keepAlive: status[1] === '1', length: null, chunked: false }
}

/** Notes what a header says of the length, the connection and Retry-After. */
function addHeader(head: Head, line: string): void {
  const colon = line.indexOf(':')
  if (colon <= 0) throw new RequestFailed('the answer has a malformed header')
  const name = line.slice(0, colon).trim().toLowerCase()
  const value = line.slice(colon + 1).trim()
  if (name === 'content-length') {
    if (!/^\d{1,15}$/.test(value) || (head.length !== null && head.length !== Number(value))) throw new RequestFailed('the answer’s Content-Length is malformed')
    head.length = Number(value)
  } else if (name === 'transfer-encoding') head.chunked = value.toLowerCase().split(',').at(-1)?.trim() === 'chunked'
  else if (name === 'connection') {
    const tokens = value
      .toLowerCase()
      .split(',')
      .map((t) => t.trim())
    head.keepAlive = tokens.includes('keep-alive') || (head.keepAlive && !tokens.includes('close'))
  } else if (name === 'retry-after') head.retryAfter = value
}

/** How the body of a final answer ends. A length past the bound fails at once. */
function bodyOf(head: Head): Part {
  if (head.status === 204 || head.status === 304) return { at: 'done' }
  if (head.chunked) return { at: 'chunk-size' }
  if (head.length === null) return { at: 'to-close' }
  if (head.length > MAX_RESPONSE_BYTES) throw tooLarge()
  return head.length === 0 ? { at: 'done' } : { at: 'data', left: head.length, chunked: false }
}
