import { describe, expect, it } from 'bun:test'
import { ConfigError, loadConfig } from '../src/config.ts'

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
