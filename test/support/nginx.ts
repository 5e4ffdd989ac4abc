import type { Subprocess } from 'bun'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const deploy = join(import.meta.dir, '..', '..', 'deploy', 'nginx')

/** A free TCP port on loopback (bound, then released). */
export function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } })
  const port = probe.port
  probe.stop(true)
  return port
}

/** An HTTP answer read off the wire. */
export interface RawResponse {
  status: number
  /** Header names lower-cased; repeated headers joined with ", ". */
  headers: Record<string, string>
  body: string
}

/**
 * Sends `head` (request line and headers, "\r\n" between lines, without the blank line) and a
 * body over a fresh TCP connection, exactly as written: fetch() would normalise `\` and `..` in
 * the path before they reach the gateway. Reads one answer (just the head of a 101), then closes.
 */
export async function rawRequest(port: number, head: string, body = ''): Promise<RawResponse> {
  const socket = connect(port, '127.0.0.1')
  let received = Buffer.alloc(0)
  const done = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => (socket.destroy(), reject(new Error(`no complete answer within 5 s to ${head.split('\r\n')[0]}`))), 5000)
    const finish = () => (clearTimeout(timer), socket.destroy(), resolve())
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      if (answerComplete(received)) finish()
    })
    socket.on('close', finish)
    socket.on('error', (error) => (clearTimeout(timer), reject(error)))
  })
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  const length = body === '' ? '' : `\r\nContent-Length: ${Buffer.byteLength(body)}`
  const close = /^connection:/im.test(head) ? '' : '\r\nConnection: close'
  // Not end(): nginx takes a half-closed connection for a client that went away.
  socket.write(`${head}${length}${close}\r\n\r\n${body}`, 'latin1')
  await done
  const text = received.toString('latin1')
  const split = text.indexOf('\r\n\r\n')
  const [statusLine = '', ...lines] = text.slice(0, split === -1 ? text.length : split).split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    const name = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value
  }
  return { status: Number(statusLine.split(' ')[1] ?? 0), headers, body: split === -1 ? '' : text.slice(split + 4) }
}

/** True once `data` holds a whole answer: a 101 head, a body of its Content-Length, or a last chunk. */
function answerComplete(data: Buffer): boolean {
  const split = data.indexOf('\r\n\r\n')
  if (split === -1) return false
  const head = data.toString('latin1', 0, split)
  if (head.startsWith('HTTP/1.1 101')) return true
  const length = /^content-length:\s*(\d+)/im.exec(head)
  if (length) return data.length - split - 4 >= Number(length[1])
  return /^transfer-encoding:\s*chunked/im.test(head) && data.subarray(-5).toString('latin1') === '0\r\n\r\n'
}

/** Real nginx running the reference gateway config (or a test's own), from a temp dir. */
export interface Gateway {
  base: string
  wsBase: string
  port: number
  /** What nginx wrote to its error log (stderr) so far. */
  errorLog(): string
  /** What nginx wrote to its access log (stdout) so far. */
  accessLog(): string
  stop(): Promise<void>
}

export interface GatewayOptions {
  /** Port of the upstream on 127.0.0.1: the chat server, or a recording stand-in. */
  chatPort: number
  jwtSecret: string
  gatewaySecret: string
  /** Further environment for jwt.js: JWT_ISSUER, JWT_AUDIENCE, JWT_LEEWAY_SECONDS. */
  env?: Record<string, string>
}

export async function startGateway(options: GatewayOptions): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-nginx-'))
  const port = freePort()
  const values: Record<string, string> = {
    LISTEN: `127.0.0.1:${port}`,
    CHAT_UPSTREAM: `127.0.0.1:${options.chatPort}`,
    NJS_DIR: deploy,
    NGINX_MODULES: process.env.NGINX_MODULES ?? '/usr/lib/nginx/modules',
    NGINX_PID: join(dir, 'nginx.pid'),
  }
  // The same substitution envsubst makes, limited to these names.
  const config = readFileSync(join(deploy, 'chat-gateway.conf.template'), 'utf8').replace(/\$\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole)
  return runNginx(dir, port, config, { JWT_SECRET: options.jwtSecret, GATEWAY_SECRET: options.gatewaySecret, ...options.env })
}

/**
 * Real nginx with a config of the test's own: `http` is the body of the http block, given the
 * address to listen on (127.0.0.1:<free port>). Errors go to the error log, requests to the
 * access log, as with the reference gateway.
 */
export async function startNginx(http: (listen: string) => string): Promise<Gateway> {
  const dir = mkdtempSync(join(tmpdir(), 'chat-nginx-'))
  const port = freePort()
  const config = [`pid ${join(dir, 'nginx.pid')};`, 'error_log stderr warn;', 'events { worker_connections 256; }', 'http {', '    access_log /dev/stdout;', http(`127.0.0.1:${port}`), '}', ''].join('\n')
  return runNginx(dir, port, config, {})
}

/** Runs nginx in the foreground on `config` (written into `dir`, removed at stop) until it answers on `port`. */
async function runNginx(dir: string, port: number, config: string, env: Record<string, string>): Promise<Gateway> {
  writeFileSync(join(dir, 'nginx.conf'), config)
  // The configs log errors to stderr and requests to stdout; both land in files the tests read.
  const errorLogPath = join(dir, 'error.log')
  const accessLogPath = join(dir, 'access.log')
  const proc: Subprocess = Bun.spawn(['nginx', '-e', 'stderr', '-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdout: Bun.file(accessLogPath),
    stderr: Bun.file(errorLogPath),
  })
  const read = (path: string) => {
    try {
      return readFileSync(path, 'latin1')
    } catch {
      return ''
    }
  }
  const base = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      // Any answer will do: nginx answers / itself, whether or not the upstream is up.
      await fetch(`${base}/`)
      break
    } catch {}
    if (proc.exitCode !== null || Date.now() > deadline) {
      const log = read(errorLogPath)
      proc.kill('SIGQUIT')
      await proc.exited
      rmSync(dir, { recursive: true, force: true })
      throw new Error(`nginx did not start: ${log}`)
    }
    await Bun.sleep(50)
  }
  return {
    base,
    wsBase: `ws://127.0.0.1:${port}`,
    port,
    errorLog: () => read(errorLogPath),
    accessLog: () => read(accessLogPath),
    async stop() {
      proc.kill('SIGQUIT')
      await proc.exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
