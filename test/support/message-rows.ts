import type { MessageRow } from '../../src/store/store.ts'

/**
 * A stored message for unit tests: what the test gives, the rest as a fresh text message has it
 * (its versions its position, else its id: one change per message, as in a room of only sends).
 */
export function messageRow(fields: Pick<MessageRow, 'id'> & Partial<MessageRow>): MessageRow {
  const version = fields.version ?? fields.seq ?? fields.id
  return {
    roomId: 1,
    userId: 'u',
    email: 'u@example.com',
    nickname: 'U',
    profileUrl: null,
    body: `m${fields.id}`,
    clientMsgId: null,
    createdAt: 0,
    version,
    createdVersion: version,
    editedAt: null,
    deleted: false,
    replyTo: null,
    reactions: [],
    ...fields,
  }
}
