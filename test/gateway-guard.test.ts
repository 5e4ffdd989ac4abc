import { describe, expect, it } from 'bun:test'
import { createApp } from '../src/app.ts'
import { ConfigError, loadConfig } from '../src/config.ts'
import { originAllowed, secretMatches } from '../src/gateway.ts'
import { createLogger } from '../src/logger.ts'
import { createMetrics } from '../src/metrics.ts'
import { ipInRanges, isIpAddress, parseCidr, toRanges } from '../src/net.ts'
import { SqliteStore } from '../src/store/sqlite-store.ts'
import { alice, createRoom, handshake, startTestServer } from './support/server.ts'
import { TestSocket } from './support/socket.ts'

const ranges = (...cidrs: string[]) => toRanges(cidrs.map((c) => parseCidr(c)!))

describe('secretMatches', () => {
  it('should accept only the exact secret', () => {
    const secret = 'correct-horse-battery-staple'
    expect(secretMatches(secret, secret)).toBe(true)
    expect(secretMatches(`${secret} `, secret)).toBe(false)
    expect(secretMatches('correct-horse-battery-stapl', secret)).toBe(false)
    expect(secretMatches('', secret)).toBe(false)
    expect(secretMatches(null, secret)).toBe(false)
  })
})

describe('trusted proxy ranges', () => {
  it('should tell addresses from anything else, and parse ranges', () => {
    for (const good of ['10.1.2.3', '::ffff:10.1.2.3', '::1', 'fe80::1%eth0']) expect(isIpAddress(good)).toBe(true)
    for (const bad of ['256.1.1.1', '1.2.3', 'x', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', '']) expect(isIpAddress(bad)).toBe(false)
    expect(parseCidr(' 10.0.0.0/8 ')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' })
    expect(parseCidr('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' })
    for (const bad of ['10.0.0.0/33', 'fd00::/129', '10.0.0.0/8/8', '10.0.0.0/x', 'fe80::1%eth0/64', 'garbage']) expect(parseCidr(bad)).toBeNull()
  })

  it('should match addresses against CIDR ranges', () => {
    const trusted = ranges('10.0.0.0/8', '192.168.1.7', 'fd00::/8')
    expect(ipInRanges('10.255.0.1', trusted)).toBe(true)
    expect(ipInRanges('::ffff:10.0.0.1', trusted)).toBe(true)
    expect(ipInRanges('11.0.0.1', trusted)).toBe(false)
    expect(ipInRanges('192.168.1.7', trusted)).toBe(true)
    expect(ipInRanges('192.168.1.8', trusted)).toBe(false)
    expect(ipInRanges('fd12:3456::1', trusted)).toBe(true)
    expect(ipInRanges('fe80::1', trusted)).toBe(false)
    expect(ipInRanges('garbage', trusted)).toBe(false)
    expect(ipInRanges('8.8.8.8', ranges('0.0.0.0/0'))).toBe(true)
  })

  it('should refuse invalid ranges in the config, naming each', () => {
    expect(() => loadConfig({ TRUSTED_PROXIES: '10.0.0.0/33, fd00::/129, 10.0.0.0/8' })).toThrow(/10\.0\.0\.0\/33[\s\S]*fd00::\/129/)
  })
})

describe('originAllowed', () => {
  it('should allow listed origins and clients that send none', () => {
    const allowed = ['https://app.example.com']
    expect(originAllowed('https://app.example.com', allowed)).toBe(true)
    expect(originAllowed('https://evil.example.com', allowed)).toBe(false)
    expect(originAllowed(null, allowed)).toBe(true)
    expect(originAllowed('https://anything.example', undefined)).toBe(true)
  })

  it('should refuse origins with a path in the config', () => {
    expect(() => loadConfig({ ALLOWED_ORIGINS: 'https://app.example.com/chat' })).toThrow(ConfigError)
  })
})

describe('GATEWAY_SECRET in the config', () => {
  it('should refuse a short secret without echoing it', () => {
    try {
      loadConfig({ GATEWAY_SECRET: 'hunter2' })
      throw new Error('accepted a short secret')
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError)
      expect((error as Error).message).toContain('GATEWAY_SECRET')
      expect((error as Error).message).not.toContain('hunter2')
    }
  })

  it('should warn at start-up when no secret is set', () => {
    const lines: string[] = []
    const store = SqliteStore.open(':memory:')
    createApp({ config: loadConfig({}), store, logger: createLogger('info', (l) => lines.push(l)), metrics: createMetrics() })
    void store.close()
    expect(lines.map((l) => JSON.parse(l))).toContainEqual(expect.objectContaining({ level: 'warn', msg: expect.stringContaining('GATEWAY_SECRET is not set') }))
  })
})

describe('TRUSTED_PROXIES on a running server', () => {
  it('should refuse peers outside the ranges with 403, except for /healthz', async () => {
    const server = await startTestServer({ TRUSTED_PROXIES: '10.0.0.0/8' })
    try {
      const res = await server.http('/chat/v1/rooms/')
      expect(res.status).toBe(403)
      expect(await res.json()).toMatchObject({ code: 'untrusted_peer' })
      expect((await handshake(server, '/ws/chat/1/chat/?user_id=a&nickname=b&email=a@b.co')).status).toBe(403)
      expect((await server.http('/healthz')).status).toBe(200)
    } finally {
      await server.destroy()
    }
  })

  it('should serve peers inside the ranges', async () => {
    const server = await startTestServer({ TRUSTED_PROXIES: '127.0.0.0/8,::1' })
    try {
      expect((await server.http('/chat/v1/rooms/')).status).toBe(200)
    } finally {
      await server.destroy()
    }
  })
})

describe('ALLOWED_ORIGINS on a running server', () => {
  it('should refuse WebSocket upgrades from other origins with 403 and allow listed or absent ones', async () => {
    const server = await startTestServer({ ALLOWED_ORIGINS: 'https://app.example.com' })
    try {
      const roomId = await createRoom(server)
      const path = `/ws/chat/${roomId}/chat/?user_id=a&nickname=b&email=a@b.co`
      const refused = await handshake(server, path, { origin: 'https://evil.example.com' })
      expect(refused.status).toBe(403)
      expect(await refused.json()).toMatchObject({ code: 'origin_not_allowed' })
      const allowed = await TestSocket.open(`${server.wsBase}${path}`, { headers: { origin: 'https://app.example.com' } })
      const noOrigin = await TestSocket.connect(server, roomId, alice)
      await Promise.all([allowed.close(), noOrigin.close()])
      const metrics = await (await server.http('/metrics')).text()
      expect(metrics).toContain('chat_handshakes_refused_total{reason="origin_not_allowed"} 1')
    } finally {
      await server.destroy()
    }
  })
})
