import { messageRow, testLinks } from './support/message-rows.ts'
import { describe, expect, it } from 'bun:test'
import fc from 'fast-check'
import { encodeMessageFrame, parseClientFrame, parseWithSchema } from '../src/realtime/codec.ts'
import { characterCount } from '../src/text.ts'

describe('characterCount', () => {
  it('should count code points, so emoji and Korean are one character each', () => {
    expect(characterCount('')).toBe(0)
    expect(characterCount('abc')).toBe(3)
    expect(characterCount('안녕')).toBe(2)
    expect(characterCount('😀😀')).toBe(2)
    expect(characterCount('\ud800x')).toBe(2) // a lone surrogate still counts once
  })
})

describe('parseClientFrame', () => {
  it('should accept the two client frames', () => {
    expect(parseClientFrame({ type: 'chat.message', message: 'hi' }, 10)).toEqual({ ok: true, frame: { type: 'chat.message', message: 'hi' } })
    expect(parseClientFrame({ type: 'chat.message', message: 'hi', client_msg_id: 'x' }, 10)).toMatchObject({ ok: true })
    expect(parseClientFrame({ type: 'chat.typing' }, 10)).toEqual({ ok: true, frame: { type: 'chat.typing' } })
  })

  it('should refuse each kind of bad frame with its own code', () => {
    const code = (data: unknown) => {
      const result = parseClientFrame(data, 3)
      return result.ok ? 'ok' : result.code
    }
    expect(code('text')).toBe('invalid_json')
    expect(code(null)).toBe('invalid_json')
    expect(code([1])).toBe('invalid_json')
    expect(code({})).toBe('missing_type')
    expect(code({ type: 'x' })).toBe('unknown_type')
    expect(code({ type: 'chat.message', message: 1 })).toBe('invalid_field')
    expect(code({ type: 'chat.message', message: 'a', client_msg_id: '' })).toBe('invalid_field')
    expect(code({ type: 'chat.message', message: ' ' })).toBe('message_empty')
    expect(code({ type: 'chat.message', message: 'abcd' })).toBe('message_too_long')
    expect(code({ type: 'chat.message', message: '😀😀😀' })).toBe('ok')
    expect(code(new Uint8Array([1]))).toBe('binary_not_supported')
  })
})

describe('encodeMessageFrame', () => {
  it('should put the seed five fields first and add the rest', () => {
    const frame = JSON.parse(encodeMessageFrame(messageRow({ id: 7, roomId: 2, email: 'e@x.co', nickname: 'n', body: 'hi' }), testLinks))
    // The fields of a message that hold their defaults are left out (a plain new message: all of them).
    expect(Object.keys(frame)).toEqual(['type', 'message', 'sender', 'nickname', 'profile_picture_url', 'id', 'room', 'user_id', 'created_at', 'client_msg_id', 'version'])
    expect(frame.created_at).toBe('1970-01-01T00:00:00.000Z')
    const changed = JSON.parse(
      encodeMessageFrame(messageRow({ id: 8, editedAt: 0, replyTo: { id: 7, userId: 'u', nickname: 'n', body: 'hi', deleted: false }, reactions: [{ emoji: '👍', count: 1, userIds: ['v'] }] }), testLinks),
    )
    expect(Object.keys(changed).slice(11)).toEqual(['edited_at', 'reply_to', 'reactions'])
  })
})

describe('the frame fast path', () => {
  it('should agree with the zod schema of record on every frame', () => {
    const text = fc.oneof(fc.string({ maxLength: 80 }), fc.constantFrom('', ' ', '\n', '안녕', '😀'.repeat(5)), fc.string({ minLength: 60, maxLength: 70 }))
    const value = fc.oneof(text, fc.integer(), fc.constant(null), fc.boolean(), fc.constant(undefined), fc.array(fc.string(), { maxLength: 2 }), fc.object({ maxDepth: 1 }))
    const frame = fc.record(
      {
        type: fc.oneof({ arbitrary: fc.constantFrom('chat.message', 'chat.typing', 'chat.shout', ''), weight: 4 }, { arbitrary: value, weight: 1 }),
        message: fc.oneof({ arbitrary: text, weight: 3 }, { arbitrary: value, weight: 1 }),
        // Lengths around the 1..64 bounds, where a hand-written check is most likely to differ.
        client_msg_id: fc.oneof(fc.string({ maxLength: 2 }), fc.string({ minLength: 63, maxLength: 66 }), value),
        extra: value,
      },
      { requiredKeys: [] },
    )
    const anything = fc.oneof(frame, fc.anything(), fc.constant(new Uint8Array([1, 2])))
    fc.assert(
      fc.property(anything, fc.integer({ min: 1, max: 100 }), (data, max) => {
        expect(parseClientFrame(data, max)).toEqual(parseWithSchema(data, max))
      }),
      { numRuns: 5000 },
    )
  })
})
