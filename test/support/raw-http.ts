import { connect } from 'node:net'

/** An HTTP response read off the wire. */
export interface RawResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/**
 * Sends `request` byte for byte over a fresh TCP connection and reads the answer until the server
 * closes or `timeoutMs` passes: for what fetch() will not send (any Host, any request target).
 * `status` is 0 when nothing came back.
 */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 2000): Promise<RawResponse> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let received = Buffer.alloc(0)
    const finish = () => {
      clearTimeout(timer)
      socket.destroy()
      resolve(parseResponse(received))
    }
    const timer = setTimeout(finish, timeoutMs)
    socket.on('connect', () => socket.write(request))
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (complete(received)) finish()
    })
    socket.on('close', finish)
    socket.on('error', finish)
  })
}

/** A request in HTTP/1.1 wire form, `Connection: close` added. */
export function requestText(method: string, target: string, headers: Record<string, string>, body = ''): string {
  const lines = [`${method} ${target} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), 'Connection: close']
  if (body !== '' || method === 'POST') lines.push(`Content-Length: ${Buffer.byteLength(body)}`)
  return `${lines.join('\r\n')}\r\n\r\n${body}`
}

function complete(data: Buffer): boolean {
  const end = data.indexOf('\r\n\r\n')
  if (end === -1) return false
  const head = parseHead(data.toString('latin1', 0, end))
  const length = head.headers['content-length']
  if (length === undefined) return head.status === 101
  return data.length - end - 4 >= Number(length)
}

function parseHead(text: string) {
  const [statusLine = '', ...lines] = text.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0) || 0, headers }
}

function parseResponse(data: Buffer): RawResponse {
  const end = data.indexOf('\r\n\r\n')
  if (end === -1) return { status: 0, headers: {}, body: data.toString('latin1') }
  const head = parseHead(data.toString('latin1', 0, end))
  return { ...head, body: data.subarray(end + 4).toString('utf8') }
}
