import { afterEach, describe, expect, it } from 'bun:test'
import { Http1Client } from './http1.ts'
import { MAX_CHUNK_LINE_BYTES, MAX_HEAD_BYTES, MAX_INFORMATIONAL_HEADS, MAX_RESPONSE_BYTES, MAX_TRAILER_BYTES, MAX_TRAILER_FIELDS, ResponseReader } from './response-reader.ts'

/** Feeds `text` to a reader in pieces of `size` bytes; the answer, once complete. */
function read(text: string, size = text.length) {
  const reader = new ResponseReader()
  const bytes = Buffer.from(text, 'latin1')
  let answer = null
  for (let at = 0; at < bytes.length; at += size) {
    expect(answer).toBeNull()
    answer = reader.feed(bytes.subarray(at, at + size))
  }
  return { answer, reader }
}

describe('ResponseReader', () => {
  it('should read a status and Retry-After, skipping a Content-Length body, in any split', () => {
    const text = 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 11\r\n\r\nhello world'
    for (const size of [1, 2, 7, text.length]) expect(read(text, size).answer).toEqual({ status: 503, retryAfter: '7', keepAlive: true })
  })

  it('should skip a chunked body, with extensions and trailers, in any split', () => {
    const text = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n'
    for (const size of [1, 3, 10, text.length]) expect(read(text, size).answer).toEqual({ status: 200, retryAfter: null, keepAlive: true })
  })

  it('should pass over informational heads and know bodiless statuses', () => {
    expect(read('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n').answer).toEqual({ status: 204, retryAfter: null, keepAlive: true })
  })

  it('should not reuse a connection the server closes, or HTTP/1.0 without keep-alive', () => {
    expect(read('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').answer?.keepAlive).toBe(false)
    expect(read('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').answer?.keepAlive).toBe(false)
    expect(read('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').answer?.keepAlive).toBe(true)
  })

  it('should take a body without length as running to the end of the connection', () => {
    const { answer, reader } = read('HTTP/1.1 200 OK\r\n\r\nsome body')
    expect(answer).toBeNull()
    expect(reader.ended()).toEqual({ status: 200, retryAfter: null, keepAlive: false })
    // A connection that ends before the body it announced gives no answer.
    expect(read('HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort').reader.ended()).toBeNull()
  })

  it('should refuse what is not a well-formed answer', () => {
    for (const text of ['SSH-2.0-OpenSSH\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n', 'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n'])
      expect(() => new ResponseReader().feed(Buffer.from(text))).toThrow()
    expect(() => new ResponseReader().feed(Buffer.alloc(70_000, 'a'))).toThrow('too long')
  })

  it('should answer with the status once the head is in, whatever follows, and not reuse the connection', () => {
    for (const text of [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n',
      'HTTP/1.1 503 Busy\r\nRetry-After: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n',
    ])
      expect(new ResponseReader().feed(Buffer.from(text))).toEqual({ status: text.includes('503') ? 503 : 200, retryAfter: text.includes('503') ? '3' : null, keepAlive: false })
  })
})

/**
 * Feeds `start`, then `repeat` over and over, as a peer that never stops would; returns the error
 * the reader refused with and how many bytes it had taken by then (past `upTo` bytes: none came).
 */
function refusal(start: string, repeat: string | Buffer, upTo = 4 * MAX_RESPONSE_BYTES) {
  const reader = new ResponseReader()
  const piece = typeof repeat === 'string' ? Buffer.from(repeat, 'latin1') : repeat
  let fed = 0
  try {
    expect(reader.feed(Buffer.from(start, 'latin1'))).toBeNull()
    fed = start.length
    while (fed < upTo) {
      expect(reader.feed(piece)).toBeNull()
      fed += piece.length
    }
  } catch (error) {
    return { error: error as Error, fed }
  }
  return { error: null, fed }
}

/**
 * Feeds `start`, then `repeat` over and over, as a peer that never stops would, until the reader
 * answers; returns the answer and how many bytes it had taken by then (past `upTo` bytes: none came).
 */
function cutShort(start: string, repeat: string | Buffer, upTo = 4 * MAX_RESPONSE_BYTES) {
  const reader = new ResponseReader()
  const piece = typeof repeat === 'string' ? Buffer.from(repeat, 'latin1') : repeat
  let answer = reader.feed(Buffer.from(start, 'latin1'))
  let fed = start.length
  while (!answer && fed < upTo) {
    answer = reader.feed(piece)
    fed += piece.length
  }
  return { answer, fed }
}

describe('ResponseReader bounds', () => {
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
  /** The status, read before the endless part; not to be reused. */
  const cut = { status: 200, retryAfter: null, keepAlive: false }

  it('should end endless trailers at their bound, by their bytes and by their count', () => {
    const long = cutShort(`${chunked}0\r\nX-Trailer: `, 'a'.repeat(100))
    expect(long.answer).toEqual(cut)
    expect(long.fed).toBeLessThan(chunked.length + MAX_TRAILER_BYTES + 200)
    const many = cutShort(`${chunked}0\r\n`, 'X: 1\r\n')
    expect(many.answer).toEqual(cut)
    expect(many.fed).toBe(chunked.length + 3 + (MAX_TRAILER_FIELDS + 1) * 6)
  })

  it('should refuse endless informational heads', () => {
    const { error, fed } = refusal('', 'HTTP/1.1 100 Continue\r\n\r\n')
    expect(error?.message).toContain('too many informational answers')
    expect(fed).toBe(MAX_INFORMATIONAL_HEADS * 25)
    // As many as allowed, then the answer: read as usual.
    const allowed = 'HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n'.repeat(MAX_INFORMATIONAL_HEADS)
    expect(read(`${allowed}HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n`, 5).answer).toEqual({ status: 202, retryAfter: null, keepAlive: true })
  })

  it('should refuse an endless header line, and a head of endless headers', () => {
    for (const [start, repeat] of [
      ['HTTP/1.1 200 OK\r\nX-Long: ', 'a'.repeat(1000)],
      ['HTTP/1.1 200 OK\r\n', 'X-Many: 1\r\n'],
      ['', 'garbage without any line end '],
    ] as const) {
      const { error, fed } = refusal(start, repeat)
      expect(error?.message).toContain('head is too long')
      expect(fed).toBeLessThanOrEqual(MAX_HEAD_BYTES + 1000)
    }
  })

  it('should end at once at huge chunk sizes, and at an endless chunk-size line', () => {
    for (const size of ['ffffffff', (MAX_RESPONSE_BYTES + 1).toString(16), '1ffffffff', '00000000001']) expect(new ResponseReader().feed(Buffer.from(`${chunked}${size}\r\n`))).toEqual(cut)
    const endless = cutShort(`${chunked}1`, '0'.repeat(100))
    expect(endless.answer).toEqual(cut)
    expect(endless.fed).toBeLessThanOrEqual(chunked.length + MAX_CHUNK_LINE_BYTES + 100)
  })

  it('should end an answer at the bound, however its body is framed', () => {
    expect(new ResponseReader().feed(Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${MAX_RESPONSE_BYTES + 1}\r\n\r\n`))).toEqual(cut)
    const body = Buffer.alloc(64 * 1024, 'b')
    for (const start of ['HTTP/1.1 200 OK\r\n\r\n', `HTTP/1.1 200 OK\r\nContent-Length: ${MAX_RESPONSE_BYTES}\r\n\r\n`]) {
      const { answer, fed } = cutShort(start, body)
      expect(answer).toEqual(cut)
      expect(fed).toBeLessThanOrEqual(MAX_RESPONSE_BYTES + body.length)
    }
    // Chunks each within the bound, endless together.
    const chunks = cutShort(chunked, `10000\r\n${'c'.repeat(0x10000)}\r\n`)
    expect(chunks.answer).toEqual(cut)
    expect(chunks.fed).toBeLessThanOrEqual(MAX_RESPONSE_BYTES + 0x10000 + 8)
    // Up to the bound, an answer is read whole (and its connection may be reused).
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: '
    const fits = `${head}${MAX_RESPONSE_BYTES - head.length - 11}\r\n\r\n`
    expect(new ResponseReader().feed(Buffer.concat([Buffer.from(fits), Buffer.alloc(MAX_RESPONSE_BYTES - fits.length, 'x')]))).toEqual({ status: 200, retryAfter: null, keepAlive: true })
  })

  it('should take bytes trickled one at a time up to the same bounds', () => {
    const { error, fed } = refusal('HTTP/1.1 200 OK\r\nX-Long: ', 'a')
    expect(error?.message).toContain('head is too long')
    expect(fed).toBe(MAX_HEAD_BYTES)
    const trailer = cutShort(`${chunked}0\r\n`, 'b')
    expect(trailer.answer).toEqual(cut)
    expect(trailer.fed).toBe(chunked.length + 3 + MAX_TRAILER_BYTES + 1)
    const text = `HTTP/1.1 429 Slow\r\nRetry-After: 9\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: ${'t'.repeat(5000)}\r\n\r\n`
    expect(read(text, 1).answer).toEqual({ status: 429, retryAfter: '9', keepAlive: true })
  })

  it('should refuse lines not ended by CRLF', () => {
    expect(() => new ResponseReader().feed(Buffer.from('HTTP/1.1 200 OK\nContent-Length: 0\n\n'))).toThrow('CRLF')
  })
})

/** A TCP server that answers each request with what `answer` says (null: never answers). */
function rawServer(answer: (request: string, n: number) => string | null | 'close') {
  let requests = 0
  let connections = 0
  const server = Bun.listen<{ buffered: string }>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(socket) {
        connections++
        socket.data = { buffered: '' }
      },
      data(socket, data) {
        socket.data.buffered += data.toString('latin1')
        for (;;) {
          const end = socket.data.buffered.indexOf('\r\n\r\n')
          if (end === -1) return
          const length = Number(/content-length: (\d+)/i.exec(socket.data.buffered.slice(0, end))?.[1] ?? 0)
          if (socket.data.buffered.length < end + 4 + length) return
          const request = socket.data.buffered.slice(0, end + 4 + length)
          socket.data.buffered = socket.data.buffered.slice(request.length)
          const reply = answer(request, ++requests)
          if (reply === 'close') return void socket.end()
          if (reply === null) continue
          socket.write(reply)
          if (/\r\nconnection: close\r\n/i.test(reply)) socket.end()
        }
      },
    },
  })
  return { url: new URL(`http://127.0.0.1:${server.port}/hook?x=1`), stop: () => server.stop(true), requests: () => requests, connections: () => connections }
}

const ok = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'

describe('Http1Client', () => {
  const servers: ReturnType<typeof rawServer>[] = []
  const clients: Http1Client[] = []
  const start = (answer: Parameters<typeof rawServer>[0]) => {
    const server = rawServer(answer)
    servers.push(server)
    const client = new Http1Client(server.url)
    clients.push(client)
    return { server, client }
  }
  afterEach(() => {
    for (const client of clients.splice(0)) client.close()
    for (const server of servers.splice(0)) server.stop()
  })

  it('should POST the body with its headers and length, and reuse the connection', async () => {
    const seen: string[] = []
    const { server, client } = start((request) => (seen.push(request), ok))
    const body = JSON.stringify({ text: '안녕하세요' })
    for (let i = 0; i < 3; i++) expect(await client.post({ 'x-chat-event-id': `e${i}` }, body, 1000)).toEqual({ status: 200, retryAfter: null })
    expect(server.connections()).toBe(1)
    // The server read it as bytes (latin1): the body went as UTF-8.
    expect(Buffer.from(seen[0]!, 'latin1').toString()).toBe(`POST /hook?x=1 HTTP/1.1\r\nhost: ${server.url.host}\r\nx-chat-event-id: e0\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
  })

  it('should send credentials given in the URL as Basic auth', async () => {
    const seen: string[] = []
    const { server } = start((request) => (seen.push(request), ok))
    const client = new Http1Client(new URL(`http://hook%20user:p%40ss@${server.url.host}/hook`))
    clients.push(client)
    expect((await client.post({}, '{}', 1000)).status).toBe(200)
    expect(seen[0]).toContain(`\r\nauthorization: Basic ${btoa('hook user:p@ss')}\r\n`)
  })

  it('should send a request again on a fresh connection when the server closed the idle one', async () => {
    // The second request finds its connection closed by the server: it is sent again, once.
    const { server, client } = start((_, n) => (n === 2 ? 'close' : ok))
    expect((await client.post({}, 'a', 1000)).status).toBe(200)
    expect((await client.post({}, 'b', 1000)).status).toBe(200)
    expect(server.requests()).toBe(3)
    expect(server.connections()).toBe(2)
  })

  it('should fail a request the server closes on a fresh connection, without sending it twice', async () => {
    const { server, client } = start(() => 'close')
    await expect(client.post({}, 'a', 1000)).rejects.toMatchObject({ name: 'RequestFailed' })
    expect(server.requests()).toBe(1)
  })

  it('should give up when no answer comes in time, and use a new connection after', async () => {
    const { server, client } = start((_, n) => (n === 1 ? null : ok))
    await expect(client.post({}, 'a', 200)).rejects.toMatchObject({ name: 'TimeoutError' })
    expect((await client.post({}, 'b', 1000)).status).toBe(200)
    expect(server.connections()).toBe(2)
  })

  it('should answer a close-delimited body, then open a new connection', async () => {
    const { server, client } = start(() => 'HTTP/1.1 500 Oops\r\nRetry-After: 3\r\nConnection: close\r\n\r\nbroken')
    // The server sends the answer and closes: the body runs to the end of the connection.
    expect(await client.post({}, 'a', 1000)).toEqual({ status: 500, retryAfter: '3' })
    expect(await client.post({}, 'b', 1000)).toEqual({ status: 500, retryAfter: '3' })
    expect(server.connections()).toBe(2)
  })

  it('should send a body larger than the socket takes at once, whole', async () => {
    let got = 0
    const { client } = start((request) => ((got = request.length), ok))
    const body = 'x'.repeat(4 * 1024 * 1024)
    expect((await client.post({}, body, 5000)).status).toBe(200)
    expect(got).toBeGreaterThan(body.length)
  })

  it('should not reuse a connection answered before its request went out whole', async () => {
    // Answers 413 as soon as a head arrives, without reading bodies: the rest of a large one is
    // still to be written when the answer comes.
    let connections = 0
    const server = Bun.listen<{ answered: boolean }>({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        open(socket) {
          connections++
          socket.data = { answered: false }
        },
        data(socket, data) {
          if (socket.data.answered || !data.includes('\r\n\r\n')) return
          socket.data.answered = true
          const small = /content-length: 1\r\n/.test(data.toString('latin1'))
          socket.write(small ? ok : 'HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n')
        },
      },
    })
    const client = new Http1Client(new URL(`http://127.0.0.1:${server.port}/hook`))
    try {
      expect((await client.post({}, 'x'.repeat(8 * 1024 * 1024), 5000)).status).toBe(413)
      expect((await client.post({}, 'y', 2000)).status).toBe(200)
      expect(connections).toBe(2)
    } finally {
      client.close()
      server.stop(true)
    }
  })

  it('should carry requests side by side on as many connections, and keep them for the next', async () => {
    const { server, client } = start(() => ok)
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => client.post({}, String(i), 2000)))
    expect(answers.every((a) => a.status === 200)).toBe(true)
    const opened = server.connections()
    expect(opened).toBeLessThanOrEqual(12)
    await Promise.all(Array.from({ length: opened }, (_, i) => client.post({}, String(i), 2000)))
    expect(server.connections()).toBe(opened)
  })

  it('should take the status of an answer that never ends, at its bound rather than the timeout, and drop its connection', async () => {
    // Once asked, sends a head, then trailers (or body bytes) for as long as the connection lasts.
    let connections = 0
    let closed = 0
    const endless: Record<'trailer' | 'body', [head: string, more: string]> = {
      trailer: ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n', 'X-Trailer: 1\r\n'.repeat(1000)],
      body: ['HTTP/1.1 200 OK\r\n\r\n', 'b'.repeat(16 * 1024)],
    }
    let mode: keyof typeof endless = 'trailer'
    const server = Bun.listen<{ pump?: ReturnType<typeof setInterval> }>({
      hostname: '127.0.0.1',
      port: 0,
      socket: {
        open: (socket) => void (connections++, (socket.data = {})),
        data(socket) {
          if (socket.data.pump) return
          const [head, more] = endless[mode]
          socket.write(head)
          socket.data.pump = setInterval(() => socket.write(more), 1)
        },
        close: (socket) => void (closed++, clearInterval(socket.data.pump)),
      },
    })
    const client = new Http1Client(new URL(`http://127.0.0.1:${server.port}/hook`))
    try {
      for (const next of ['trailer', 'body'] as const) {
        mode = next
        // A timeout past the test's own: only the bound can end this request.
        expect(await client.post({}, 'a', 120_000)).toEqual({ status: 200, retryAfter: null })
      }
      expect(connections).toBe(2)
      for (let i = 0; i < 100 && closed < 2; i++) await Bun.sleep(10)
      expect(closed).toBe(2)
    } finally {
      client.close()
      server.stop(true)
    }
  })

  it('should fail when nothing listens', async () => {
    const { server } = start(() => ok)
    const url = server.url
    server.stop()
    await expect(new Http1Client(url).post({}, 'a', 1000)).rejects.toMatchObject({ name: 'RequestFailed' })
  })
})
