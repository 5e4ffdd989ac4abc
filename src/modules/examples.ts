import type { MessageDto } from '../realtime/codec.ts'
import type { MemberDto, RoomDetail, RoomSummary } from './rooms/model.ts'

/** Examples shown in the API documents. */
export const exampleMessage: MessageDto = {
  id: 1024,
  room: 7,
  user_id: '42',
  sender: 'hong@example.com',
  nickname: '홍길동',
  profile_picture_url: '/media/profile.jpg',
  message: '안녕하세요!',
  created_at: '2026-11-30T09:15:00.000Z',
  client_msg_id: '6f1c2a4e-1',
  kind: 'text',
  edited_at: null,
  deleted: false,
  reply_to: null,
  reactions: [],
  attachments: [],
  data: null,
  version: 1031,
}

/** A reply, edited, with reactions. */
export const exampleChangedMessage: MessageDto = {
  ...exampleMessage,
  id: 1025,
  user_id: '43',
  sender: 'kim@example.com',
  nickname: '김철수',
  profile_picture_url: null,
  message: '네, 내일 오후 3시에 뵐게요.',
  created_at: '2026-11-30T09:16:00.000Z',
  client_msg_id: null,
  edited_at: '2026-11-30T09:17:30.000Z',
  reply_to: { id: 1024, user_id: '42', nickname: '홍길동', message: '안녕하세요!' },
  reactions: [{ emoji: '👍', count: 2, user_ids: ['42', '44'] }],
  version: 1035,
}

export const exampleRoomSummary: RoomSummary = {
  id: 7,
  name: '테스트 채팅방',
  post_id: 1,
  chat_url: 'chat.example.com/ws/chat/7/chat/',
  created_at: '2026-11-30T09:00:00.000Z',
  online_count: 1,
  kind: 'open',
  member_count: null,
  slow_mode_seconds: 0,
  status: 'active',
  data: null,
  peer: null,
}

export const exampleRoomDetail: RoomDetail = {
  ...exampleRoomSummary,
  epoch: '3f2a9c1e7b8d4e6fa1c2d3e4f5a6b7c8',
  version: 1035,
  online_users: [{ user_id: '42', nickname: '홍길동', profile_picture_url: '/media/profile.jpg' }],
  chat_messages: [exampleMessage],
  members: [],
  moderation: { moderator: false, muted: false, muted_until: null },
}

export const exampleMember: MemberDto = {
  user_id: '42',
  nickname: '홍길동',
  profile_picture_url: '/media/profile.jpg',
  role: 'member',
  last_read_id: 1024,
  joined_at: '2026-11-30T09:00:00.000Z',
}

/** A direct room of two users about a listing. */
export const exampleDirectRoom: RoomDetail = {
  ...exampleRoomDetail,
  id: 8,
  name: '',
  post_id: 31,
  chat_url: 'chat.example.com/ws/chat/8/chat/',
  kind: 'direct',
  member_count: 2,
  data: { title: '아이폰 15 프로 256GB', price: 950000, thumbnail: 'https://cdn.example.com/posts/31.jpg', status: '판매중' },
  members: [exampleMember, { ...exampleMember, user_id: '77', nickname: '판매자', profile_picture_url: null, last_read_id: 1024 }],
  peer: { user_id: '77', nickname: '판매자', profile_picture_url: null },
}
