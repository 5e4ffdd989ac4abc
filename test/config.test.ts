import { describe, expect, it } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ConfigError, loadConfig, suggestSettings } from '../src/config.ts'
import { startInstance } from './support/cluster.ts'

describe('config', () => {
  it('should default to port 8000 and a SQLite file under ./data/', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({ PORT: 8000, DATABASE_PATH: './data/chat.db', MAX_MESSAGE_LENGTH: 2000, RECOVERY_LIMIT: 500, LOG_LEVEL: 'info' })
  })

  it('should read and coerce values from the environment, treating empty as unset', () => {
    const config = loadConfig({ PORT: '9001', MAX_MESSAGE_LENGTH: '500', HOST: '', LOG_LEVEL: 'debug' })
    expect(config).toMatchObject({ PORT: 9001, MAX_MESSAGE_LENGTH: 500, HOST: '0.0.0.0', LOG_LEVEL: 'debug' })
  })

  it('should name every bad setting and what was wrong', () => {
    let error: unknown
    try {
      loadConfig({ PORT: 'eighty', RECOVERY_LIMIT: '0', LOG_LEVEL: 'loud' })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems.map((p) => p.key).sort()
    expect(problems).toEqual(['LOG_LEVEL', 'PORT', 'RECOVERY_LIMIT'])
    expect((error as ConfigError).message).toContain('"eighty"')
  })

  it('should take a webhook poll between 50 ms and ten minutes (500 ms unless set), and a pass gap up to a second (50 ms unless set)', () => {
    expect(loadConfig({}).WEBHOOK_POLL_MS).toBe(500)
    expect(loadConfig({ WEBHOOK_POLL_MS: '60000' }).WEBHOOK_POLL_MS).toBe(60_000)
    for (const bad of ['10', '600001', '0.5', 'often']) expect(() => loadConfig({ WEBHOOK_POLL_MS: bad })).toThrow(/WEBHOOK_POLL_MS/)
    expect(loadConfig({}).WEBHOOK_PASS_GAP_MS).toBe(50)
    expect(loadConfig({ WEBHOOK_PASS_GAP_MS: '0' }).WEBHOOK_PASS_GAP_MS).toBe(0)
    for (const bad of ['-1', '1001', '2.5', 'soon']) expect(() => loadConfig({ WEBHOOK_PASS_GAP_MS: bad })).toThrow(/WEBHOOK_PASS_GAP_MS/)
  })

  it('should refuse REDIS_URL without DATABASE_URL, and never echo URLs (they may hold passwords)', () => {
    expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/REDIS_URL needs DATABASE_URL/)
    try {
      loadConfig({ DATABASE_URL: 'mysql://user:hunter2@db/chat' })
      throw new Error('accepted a mysql URL')
    } catch (error) {
      expect((error as Error).message).toContain('DATABASE_URL')
      expect((error as Error).message).not.toContain('hunter2')
    }
  })

  it('should refuse REUSE_PORT=true unless REDIS_URL and DATABASE_URL make the processes one cluster', () => {
    expect(loadConfig({}).REUSE_PORT).toBe(false)
    expect(() => loadConfig({ REUSE_PORT: 'true' })).toThrow(/REUSE_PORT needs REDIS_URL and DATABASE_URL/)
    expect(() => loadConfig({ REUSE_PORT: 'true', DATABASE_URL: 'postgres://db/chat' })).toThrow(/REUSE_PORT needs REDIS_URL and DATABASE_URL/)
    expect(loadConfig({ REUSE_PORT: 'true', DATABASE_URL: 'postgres://db/chat', REDIS_URL: 'redis://cache:6379' }).REUSE_PORT).toBe(true)
    expect(loadConfig({ REUSE_PORT: 'false' }).REUSE_PORT).toBe(false)
    expect(() => loadConfig({ REUSE_PORT: 'sometimes' })).toThrow(ConfigError)
  })
})

describe('settings that look like typos', () => {
  it('should name the setting a variable within two edits resembles', () => {
    expect(suggestSettings({ MAX_MESAGE_LENGTH: '10' })).toEqual([{ name: 'MAX_MESAGE_LENGTH', meant: 'MAX_MESSAGE_LENGTH' }])
    expect(suggestSettings({ DATABASE_URI: 'postgres://db/chat', REDIS_PERFIX: 'x:', SHUTDOWN_TIMEUOT: '5', LOG_LEVLE: 'debug' })).toEqual([
      { name: 'DATABASE_URI', meant: 'DATABASE_URL' },
      { name: 'REDIS_PERFIX', meant: 'REDIS_PREFIX' },
      { name: 'SHUTDOWN_TIMEUOT', meant: 'SHUTDOWN_TIMEOUT' },
      { name: 'LOG_LEVLE', meant: 'LOG_LEVEL' },
    ])
  })

  it('should say nothing of real settings, of names three edits away, or of unset ones', () => {
    expect(suggestSettings({ MAX_MESSAGE_LENGTH: '10', PORT: '80', HOST: '::', HTTP_PROXY: 'http://proxy:3128' })).toEqual([])
    expect(suggestSettings({ MAX_MSG_LENGTH: '10', WEBHOOK_URLS: undefined })).toEqual([])
  })

  it('should leave the usual environment alone, short names, proxies and tool variables included', () => {
    const usual = [
      'HOME',
      'PATH',
      'PWD',
      'OLDPWD',
      'TERM',
      'SHELL',
      'LANG',
      'LANGUAGE',
      'USER',
      'LOGNAME',
      'HOSTNAME',
      'HOSTTYPE',
      'TZ',
      'LC_ALL',
      'LC_CTYPE',
      'TMPDIR',
      'EDITOR',
      'DISPLAY',
      'NODE_ENV',
      'NODE_OPTIONS',
      'BUN_INSTALL',
      'BUN_CONFIG_VERBOSE_FETCH',
      'BUN_PORT',
      'HTTPS_PROXY',
      'FTP_PROXY',
      'ALL_PROXY',
      'NO_PROXY',
      'PGHOST',
      'PGPORT',
      'PGUSER',
      'REDIS_HOST',
      'REDIS_PORT',
      'DATABASE_HOST',
      'DATABASE_USER',
      'SHLVL',
      'MAIL',
      'PORTS',
      'HOTS',
      'TEST_POSTGRES_URL',
      'XDG_RUNTIME_DIR',
      'SSH_AUTH_SOCK',
      'INVOCATION_ID',
      'JOURNAL_STREAM',
    ]
    expect(suggestSettings(Object.fromEntries(usual.map((name) => [name, 'x'])))).toEqual([])
    expect(suggestSettings({ max_mesage_length: '10', 'MAX-MESAGE-LENGTH': '10' })).toEqual([])
  })

  it('should log one warning line at start for each typo, naming the setting meant', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-typo-'))
    const server = await startInstance({ DATABASE_PATH: join(dir, 'chat.db'), MAX_MESAGE_LENGTH: '10' })
    try {
      const warnings = server.lines.map((line) => JSON.parse(line)).filter((entry) => entry.level === 'warn' && entry.msg.includes('is not a setting'))
      expect(warnings).toEqual([expect.objectContaining({ msg: 'MAX_MESAGE_LENGTH is not a setting; did you mean MAX_MESSAGE_LENGTH?', name: 'MAX_MESAGE_LENGTH', meant: 'MAX_MESSAGE_LENGTH' })])
    } finally {
      server.proc.kill()
      await server.exited
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
