import { connect, type Socket } from 'node:net'

/**
 * A WebSocket client written on a bare TCP socket, for what a well-behaved client never does:
 * stop reading, ignore pings, send invalid UTF-8. It collects the raw bytes the server sends.
 */
export class RawWebSocket {
  private received = Buffer.alloc(0)
  readonly ended: Promise<void>

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])))
    this.ended = new Promise((resolve) => {
      socket.on('close', () => resolve())
      socket.on('error', () => resolve())
    })
  }

  /** Opens a TCP connection and completes the WebSocket handshake for `path`; `headers` go as written (UTF-8). */
  static async open(port: number, path: string, headers: string[] = []): Promise<RawWebSocket> {
    const socket = connect(port, '127.0.0.1')
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    const raw = new RawWebSocket(socket)
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${headers.map((h) => `${h}\r\n`).join('')}\r\n`,
    )
    for (let i = 0; i < 200 && !raw.received.includes('\r\n\r\n'); i++) await Bun.sleep(10)
    const head = raw.received.toString('latin1', 0, raw.received.indexOf('\r\n\r\n'))
    if (!head.startsWith('HTTP/1.1 101')) throw new Error(`handshake refused: ${head.split('\r\n')[0]}`)
    raw.received = raw.received.subarray(raw.received.indexOf('\r\n\r\n') + 4)
    return raw
  }

  /** Sends one masked frame (clients must mask) with the given opcode (1 text, 2 binary). */
  send(payload: Buffer | string, opcode = 1): void {
    const data = typeof payload === 'string' ? Buffer.from(payload) : payload
    const mask = Buffer.from([1, 2, 3, 4])
    const header = data.length < 126 ? Buffer.from([0x80 | opcode, 0x80 | data.length]) : Buffer.from([0x80 | opcode, 0x80 | 126, data.length >> 8, data.length & 0xff])
    const masked = Buffer.from(data.map((b, i) => b ^ mask[i % 4]!))
    this.socket.write(Buffer.concat([header, mask, masked]))
  }

  /** Stops reading: the kernel's buffers fill, then the server's queue for this socket grows. */
  pause(): void {
    this.socket.pause()
  }

  resume(): void {
    this.socket.resume()
  }

  /** The frames received so far, parsed (server frames are not masked). */
  frames(): { opcode: number; payload: Buffer }[] {
    const frames: { opcode: number; payload: Buffer }[] = []
    let at = 0
    const buf = this.received
    while (at + 2 <= buf.length) {
      const opcode = buf[at]! & 0x0f
      let length = buf[at + 1]! & 0x7f
      let offset = at + 2
      if (length === 126) {
        if (offset + 2 > buf.length) break
        length = buf.readUInt16BE(offset)
        offset += 2
      } else if (length === 127) {
        if (offset + 8 > buf.length) break
        length = Number(buf.readBigUInt64BE(offset))
        offset += 8
      }
      if (offset + length > buf.length) break
      frames.push({ opcode, payload: buf.subarray(offset, offset + length) })
      at = offset + length
    }
    return frames
  }

  /** The close code the server sent, if its close frame has arrived. */
  closeCode(): number | null {
    const close = this.frames().find((f) => f.opcode === 8)
    return close && close.payload.length >= 2 ? close.payload.readUInt16BE(0) : null
  }

  destroy(): void {
    this.socket.destroy()
  }
}
