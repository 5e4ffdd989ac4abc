import { afterEach, describe, expect, it } from 'bun:test'
import { Http1Client, ResponseReader } from './http1.ts'

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
    for (const text of [
      'SSH-2.0-OpenSSH\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
      'HTTP/1.1 200 OK\r\nno colon here\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
      'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n',
    ])
      expect(() => new ResponseReader().feed(Buffer.from(text))).toThrow()
    expect(() => new ResponseReader().feed(Buffer.alloc(70_000, 'a'))).toThrow('too long')
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

  it('should fail when nothing listens', async () => {
    const { server } = start(() => ok)
    const url = server.url
    server.stop()
    await expect(new Http1Client(url).post({}, 'a', 1000)).rejects.toMatchObject({ name: 'RequestFailed' })
  })
})
