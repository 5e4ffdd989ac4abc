import { describe, expect, it } from 'bun:test'
import { MessageStore } from '../client/src/messages.ts'
import { Resume } from '../client/src/resume.ts'
import type { Message, ReactionFrame } from '../client/src/index.ts'

function message(id: number, version: number, fields: Partial<Message> = {}): Message {
  return {
    id,
    room: 1,
    user_id: '42',
    sender: 'hong@example.com',
    nickname: '홍길동',
    profile_picture_url: null,
    message: `메시지 ${id}`,
    created_at: '2026-12-01T00:00:00.000Z',
    client_msg_id: null,
    kind: 'text',
    edited_at: null,
    deleted: false,
    reply_to: null,
    reactions: [],
    attachments: [],
    data: null,
    version,
    ...fields,
  }
}

const reaction = (id: number, version: number, user_id: string, added: boolean, emoji = '👍'): ReactionFrame => ({ type: 'chat.reaction', id, emoji, user_id, added, version })

describe('the message store', () => {
  it('should apply an edit, an unsend and reactions, and report the highest version applied', () => {
    const store = new MessageStore(3)
    store.put(message(1, 1))
    expect(store.apply({ type: 'chat.message.updated', message: message(1, 4, { message: '고친 글', edited_at: '2026-12-01T00:01:00.000Z' }), version: 4 })).toMatchObject([{ id: 1, message: '고친 글', version: 4 }])
    expect(store.apply(reaction(1, 5, '7', true))).toMatchObject([{ reactions: [{ emoji: '👍', count: 1, user_ids: ['7'] }] }])
    expect(store.apply(reaction(1, 6, '8', true))).toMatchObject([{ reactions: [{ emoji: '👍', count: 2, user_ids: ['7', '8'] }] }])
    expect(store.apply(reaction(1, 7, '7', false))).toMatchObject([{ reactions: [{ emoji: '👍', count: 1, user_ids: ['8'] }] }])
    expect(store.apply({ type: 'chat.message.deleted', id: 1, room: 1, version: 8 })).toMatchObject([{ message: '', deleted: true, reactions: [], version: 8 }])
    expect(store.version).toBe(8)
  })

  it('should ignore a change it has applied already, or one older than the form it holds', () => {
    const store = new MessageStore()
    store.put(message(1, 1))
    const added = reaction(1, 2, '7', true)
    expect(store.apply(added)).toHaveLength(1)
    expect(store.apply(added)).toEqual([])
    // Read over REST in a newer form: the frames it already includes change nothing.
    expect(store.put(message(1, 5, { message: '새 글', reactions: [{ emoji: '👍', count: 2, user_ids: ['7', '9'] }] }))).toHaveLength(1)
    expect(store.apply(reaction(1, 4, '9', true))).toEqual([])
    expect(store.apply({ type: 'chat.message.updated', message: message(1, 3, { message: '옛 글' }), version: 3 })).toEqual([])
    expect(store.put(message(1, 5))).toEqual([])
    expect(store.messages.get(1)).toMatchObject({ message: '새 글', version: 5 })
  })

  it('should change nothing for a message it does not hold, yet count its version as applied', () => {
    const store = new MessageStore(2)
    expect(store.apply(reaction(9, 6, '7', true))).toEqual([])
    expect(store.messages.size).toBe(0)
    expect(store.version).toBe(6)
  })

  it('should keep the quotes of replies as the answered message now reads', () => {
    const store = new MessageStore()
    store.put(message(1, 1))
    store.put(message(2, 2, { reply_to: { id: 1, user_id: '42', nickname: '홍길동', message: '메시지 1' } }))
    const long = '가'.repeat(150)
    const edited = store.apply({ type: 'chat.message.updated', message: message(1, 3, { message: long }), version: 3 })
    expect(edited.map((m) => m.id)).toEqual([1, 2])
    expect(store.messages.get(2)?.reply_to?.message).toBe('가'.repeat(100))
    store.apply({ type: 'chat.message.deleted', id: 1, room: 1, version: 4 })
    expect(store.messages.get(2)?.reply_to?.message).toBe('')
  })
})

describe('where a room connection resumes', () => {
  it('should ask for the changes after the highest version applied, beside since= and epoch=', () => {
    const store = new MessageStore(7)
    const resume = new Resume(3, 'e1', store)
    expect(resume.query()).toEqual({ since: 3, since_version: 7, epoch: 'e1' })
    expect(resume.replaying).toBe(true)
    expect(new Resume(null, 'e1', new MessageStore()).query()).toEqual({})
  })

  it('should deliver the new messages of a replay sent in version order in id order, once, when it is over', () => {
    const store = new MessageStore(7)
    const resume = new Resume(3, 'e1', store)
    resume.query()
    for (const m of [message(5, 9), message(4, 10), message(5, 9), message(2, 11)]) expect(resume.arrived(m)).toEqual([])
    expect(resume.recovered({ type: 'chat.recovered', count: 3, truncated: false, epoch: 'e1', version: 11 }).map((m) => m.id)).toEqual([4, 5])
    expect(store.version).toBe(11)
    expect(resume.arrived(message(6, 12)).map((m) => m.id)).toEqual([6])
  })

  it('should ask again from where a replay began when it is cut short', () => {
    const store = new MessageStore(7)
    const resume = new Resume(3, 'e1', store)
    resume.query()
    resume.arrived(message(5, 9))
    store.reached(9)
    resume.dropped()
    expect(resume.query()).toEqual({ since: 3, since_version: 7, epoch: 'e1' })
    expect(resume.recovered({ type: 'chat.recovered', count: 0, truncated: false, epoch: 'e1', version: 7 })).toEqual([])
  })
})
