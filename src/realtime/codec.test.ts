import { messageRow, testLinks } from '../../test/support/message-rows.ts'
import { describe, expect, it } from 'bun:test'
import type { MessageRow } from '../store/store.ts'
import { encodeMessageFrame, toMessageDto, withFrameDefaults } from './codec.ts'

const photo = { id: 'up-1', kind: 'image' as const, contentType: 'image/jpeg', size: 2048, name: '자전거.jpg', width: 640, height: 480, thumbnailType: 'image/webp' }
const pdf = { id: 'up-2', kind: 'file' as const, contentType: 'application/pdf', size: 9000, name: '계약서.pdf', width: null, height: null, thumbnailType: null }

/** Messages of every shape a room carries. */
const rows: [string, MessageRow][] = [
  ['plain', messageRow({ id: 1, body: '안녕하세요, 자전거 아직 있나요?', createdAt: Date.UTC(2026, 11, 7, 9, 30) })],
  ['with a client_msg_id and a picture', messageRow({ id: 2, clientMsgId: 'c-2', profileUrl: 'https://cdn.example.com/u.png', createdAt: 1 })],
  ['edited', messageRow({ id: 3, editedAt: Date.UTC(2026, 11, 7, 9, 31, 5, 250), createdAt: Date.UTC(2026, 11, 7, 9, 30) })],
  ['unsent', messageRow({ id: 4, deleted: true, body: '' })],
  ['a reply', messageRow({ id: 5, replyTo: { id: 1, userId: 'seller', nickname: '판매자', body: '네, 있어요. 직거래 가능합니다.', deleted: false } })],
  ['reacted to', messageRow({ id: 6, reactions: [{ emoji: '👍', count: 2, userIds: ['a', 'b'] }] })],
  ['photos', messageRow({ id: 7, attachments: [photo, photo] })],
  ['a photo and a file', messageRow({ id: 8, attachments: [photo, pdf] })],
  ['a silent system message with data', messageRow({ id: 9, system: true, silent: true, userId: '', body: '거래가 완료되었어요', data: { event: 'sold' } })],
  ['a system message without data', messageRow({ id: 10, system: true, userId: '', body: '판매자가 가격을 내렸어요', data: null })],
]

describe('chat.message frames', () => {
  it.each(rows)('should carry the message as REST gives it, less the fields at their defaults: %s', (_, row) => {
    const { type, ...fields } = JSON.parse(encodeMessageFrame(row, testLinks)) as { type: string }
    expect(type).toBe('chat.message')
    expect(withFrameDefaults(fields as never)).toEqual(toMessageDto(row, testLinks))
  })

  it("should start with the seed's five fields and leave a plain message's defaults out", () => {
    const frame = JSON.parse(encodeMessageFrame(rows[0]![1], testLinks)) as Record<string, unknown>
    expect(Object.keys(frame)).toEqual(['type', 'message', 'sender', 'nickname', 'profile_picture_url', 'id', 'room', 'user_id', 'created_at', 'client_msg_id', 'version'])
    expect(frame.created_at).toBe('2026-12-07T09:30:00.000Z')
  })
})
