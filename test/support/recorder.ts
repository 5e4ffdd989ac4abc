/** One request as it reached the upstream, byte for byte. */
export interface Recorded {
  method: string
  /** The request target exactly as nginx sent it. */
  uri: string
  /** Every header line in order, the name lower-cased. */
  headers: [name: string, value: string][]
}

/** The values of every header called `name` in a recorded request. */
export const headerValues = (request: Recorded, name: string) => request.headers.filter(([n]) => n === name).map(([, v]) => v)

/** A stand-in for the chat server that records every request it receives and answers 200. */
export interface Recorder {
  port: number
  received: Recorded[]
  stop(): void
}

/**
 * A plain TCP server reading HTTP/1.1 requests itself: Bun.serve would hand over the URL already
 * normalised (`\` to `/`, `..` resolved), which is what the gateway must be checked against.
 */
export function startRecorder(): Recorder {
  const received: Recorded[] = []
  const server = Bun.listen<{ buffer: Buffer }>({
    hostname: '127.0.0.1',
    port: 0,
    socket: {
      open(socket) {
        socket.data = { buffer: Buffer.alloc(0) }
      },
      data(socket, chunk) {
        socket.data.buffer = Buffer.concat([socket.data.buffer, chunk])
        // nginx keeps upstream connections alive: several requests may follow one another.
        for (;;) {
          const buffer = socket.data.buffer
          const end = buffer.indexOf('\r\n\r\n')
          if (end === -1) return
          const [requestLine = '', ...lines] = buffer.toString('latin1', 0, end).split('\r\n')
          const headers = lines.map((line): [string, string] => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()])
          const length = Number(headers.find(([name]) => name === 'content-length')?.[1] ?? 0)
          if (buffer.length < end + 4 + length) return
          const [method = '', uri = ''] = requestLine.split(' ')
          received.push({ method, uri, headers })
          socket.data.buffer = buffer.subarray(end + 4 + length)
          socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok')
        }
      },
    },
  })
  return { port: server.port, received, stop: () => server.stop(true) }
}
