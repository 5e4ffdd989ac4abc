import type { AttachmentLinks } from '../../src/realtime/codec.ts'
import type { MessageRow } from '../../src/store/store.ts'

/** Attachment links for unit tests: unsigned paths named after the upload (the real ones are signed, see modules/uploads/files.ts). */
export const testLinks: AttachmentLinks = (a) => ({
  id: a.id,
  kind: a.kind,
  content_type: a.contentType,
  size: a.size,
  name: a.name,
  width: a.width,
  height: a.height,
  url: `/files/${a.id}`,
  thumbnail_url: a.thumbnailType === null ? null : `/files/${a.id}/thumbnail`,
})

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
    attachments: [],
    system: false,
    silent: false,
    data: null,
    ...fields,
  }
}
