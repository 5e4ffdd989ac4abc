import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { connect, type Socket } from 'node:net'
import { FaultProxy } from './support/fault-proxy.ts'
import { until } from './support/wait.ts'

// An echo server behind the proxy: what a client writes comes back through both directions.
let echo: import('bun').TCPSocketListener
let proxy: FaultProxy

beforeAll(async () => {
  echo = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data: (socket, data) => void socket.write(data) } })
  proxy = await FaultProxy.start(echo.port, 'echo')
})
afterAll(async () => {
  await proxy.close()
  echo.stop(true)
})

/** A client of the proxy that keeps what it reads and how its connection ended. */
function client(): { socket: Socket; text: () => string; ended: Promise<string> } {
  const socket = connect(proxy.port, '127.0.0.1')
  let received = ''
  socket.on('data', (chunk: Buffer) => (received += chunk.toString()))
  const ended = new Promise<string>((resolve) => {
    socket.on('error', (err) => resolve(err.message))
    socket.on('close', () => resolve('closed'))
  })
  return { socket, text: () => received, ended }
}

describe('fault proxy', () => {
  it('should forward both ways while healthy', async () => {
    const c = client()
    c.socket.write('hello')
    expect(await until(() => c.text() === 'hello')).toBe(true)
    c.socket.destroy()
  })

  it('should add the delay to each direction', async () => {
    const c = client()
    c.socket.write('warm')
    await until(() => c.text() === 'warm')
    proxy.delay(150)
    const started = Date.now()
    c.socket.write('late')
    expect(await until(() => c.text() === 'warmlate')).toBe(true)
    expect(Date.now() - started).toBeGreaterThanOrEqual(280)
    proxy.heal()
    c.socket.destroy()
  })

  it('should hold bytes while stalled and deliver them in order once resumed', async () => {
    const c = client()
    c.socket.write('a')
    await until(() => c.text() === 'a')
    proxy.stall('down')
    c.socket.write('b')
    c.socket.write('c')
    await Bun.sleep(200)
    expect(c.text()).toBe('a')
    proxy.stall(null)
    expect(await until(() => c.text() === 'abc')).toBe(true)
    c.socket.destroy()
  })

  it('should reset new connections while dropping, and every open one on cut', async () => {
    const open = client()
    open.socket.write('x')
    await until(() => open.text() === 'x')
    proxy.dropNewConnections(true)
    const refused = client()
    refused.socket.write('y')
    expect(await refused.ended).not.toBe('')
    expect(refused.text()).toBe('')
    proxy.dropNewConnections(false)
    expect(proxy.cut()).toBe(1)
    expect(await open.ended).not.toBe('')
  })
})
