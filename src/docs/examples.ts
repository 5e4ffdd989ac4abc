import type { MessageDto } from '../realtime/codec.ts'
import type { RoomDetail, RoomSummary } from '../modules/rooms/model.ts'

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
}

export const exampleRoomSummary: RoomSummary = {
  id: 7,
  name: '테스트 채팅방',
  post_id: 1,
  chat_url: 'chat.example.com/ws/chat/7/chat/',
  created_at: '2026-11-30T09:00:00.000Z',
  online_count: 1,
}

export const exampleRoomDetail: RoomDetail = {
  ...exampleRoomSummary,
  epoch: '3f2a9c1e7b8d4e6fa1c2d3e4f5a6b7c8',
  online_users: [{ user_id: '42', nickname: '홍길동', profile_picture_url: '/media/profile.jpg' }],
  chat_messages: [exampleMessage],
}
