// Every label the test page shows, in Korean and English, and the language it shows them in: the
// one picked with the page's switch (remembered), else the browser's (Korean for `ko…`, else
// English). A change of language re-labels the page in place: static elements carry the key of
// their label (`data-label`), and the parts drawn by script draw themselves again.

/** The page's languages. */
type Language = 'ko' | 'en'

const STORAGE_KEY = 'chat-gateway-test:language'

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`

/** Each label: [Korean, English]. A label with values in it is a pair of functions of them. */
const LABELS = {
  pageTitle: ['채팅 게이트웨이 테스트', 'Chat gateway test'],
  language: ['언어', 'Language'],
  // Connections
  connecting: ['연결 중', 'connecting'],
  connected: ['연결됨', 'connected'],
  reconnecting: ['다시 연결 중', 'reconnecting'],
  disconnected: ['연결 끊김', 'disconnected'],
  inboxOff: ['꺼짐', 'off'],
  inboxLive: ['실시간', 'live'],
  // Who you are
  whoYouAre: ['내 정보', 'Who you are'],
  bearerToken: ['Bearer 토큰 (게이트웨이 뒤에서)', 'Bearer token (behind a gateway)'],
  tokenPlaceholder: ['eyJ… (선택, 저장하지 않음)', 'eyJ… (optional; not stored)'],
  identityHint: ['토큰이 없을 때: 게이트웨이가 확인한 토큰에서 넘겨줄 값이에요.', 'Without a token: what the gateway would forward from a verified one.'],
  userId: ['사용자 ID', 'User id'],
  nickname: ['닉네임', 'Nickname'],
  email: ['이메일', 'Email'],
  profileUrl: ['프로필 URL', 'Profile URL'],
  profileUrlPlaceholder: ['/media/profile.jpg (선택)', '/media/profile.jpg (optional)'],
  tokenUser: [(who: string) => `토큰의 사용자: ${who}`, (who: string) => `As ${who}, from the token.`],
  notAToken: ['subject(sub)가 있는 토큰이 아니에요.', 'This is not a token with a subject (sub).'],
  tokenRefused: [(why: string) => `게이트웨이가 토큰을 거부했어요${why}: 새 토큰을 붙여 넣으세요.`, (why: string) => `The gateway refused the token${why}: paste a fresh one.`],
  tokenNamesNoUser: ['토큰에 사용자가 없어요: subject(sub)가 없습니다.', 'The token names no user: it has no subject (sub).'],
  identityMissing: ['사용자 ID, 닉네임, 이메일이 필요해요 (또는 Bearer 토큰).', 'User id, nickname and email are required (or a bearer token).'],
  // The inbox
  inbox: ['채팅 목록', 'Inbox'],
  followInbox: ['목록 받기', 'Follow inbox'],
  stopInbox: ['그만 받기', 'Stop'],
  hide: ['숨기기', 'Hide'],
  leave: ['나가기', 'Leave'],
  leaveQuestion: ['나가면 상대방에게 알려지고 이 채팅방에서는 더 이상 메시지를 주고받을 수 없어요. 나갈까요?', 'If you leave, the other person is told and no one can send here any more. Leave?'],
  cancel: ['취소', 'Cancel'],
  cannotFollowInbox: [(why: string) => `채팅 목록을 받을 수 없어요: ${why}`, (why: string) => `Cannot follow the inbox: ${why}`],
  inboxError: [(why: string) => `채팅 목록: ${why}`, (why: string) => `Inbox: ${why}`],
  inboxStopped: [(why: string) => `채팅 목록 연결이 끝났어요: ${why}`, (why: string) => `The inbox stream stopped: ${why}`],
  couldNotHide: [(why: string) => `숨기지 못했습니다: ${why}`, (why: string) => `Could not hide the chat: ${why}`],
  couldNotLeaveChat: [(why: string) => `나가지 못했습니다: ${why}`, (why: string) => `Could not leave the chat: ${why}`],
  // Rooms
  room: ['채팅방', 'Room'],
  roomId: ['채팅방 ID', 'Room id'],
  connect: ['연결', 'Connect'],
  disconnect: ['연결 끊기', 'Disconnect'],
  directRoom: ['1:1 채팅', 'Direct room'],
  directHint: ['게시글에 대한 두 사람의 채팅방: 둘 중 누가 열어도 같은 방이에요.', 'A room of two about a post: the same one whichever of the two opens it.'],
  otherUserId: ['상대방 ID', "other user's id"],
  postId: ['게시글 ID', 'post id'],
  openDirectRoom: ['1:1 채팅 열기', 'Open direct room'],
  rooms: ['채팅방 목록', 'Rooms'],
  newRoomName: ['새 채팅방 이름', 'New room name'],
  roomKind: ['채팅방 종류', 'Room kind'],
  open: ['공개', 'open'],
  private: ['비공개', 'private'],
  direct: ['1:1', 'direct'],
  directRoomName: ['1:1 채팅', 'direct room'],
  membersPlaceholder: ['멤버: 사용자 ID, 쉼표로 구분', 'members: user ids, comma-separated'],
  create: ['만들기', 'Create'],
  refreshList: ['목록 새로고침', 'Refresh list'],
  roomNumber: [(id: number) => `채팅방 #${id}`, (id: number) => `Room #${id}`],
  aboutPost: [(id: number) => `게시글 ${id}`, (id: number) => `post ${id}`],
  memberCount: [(n: number) => `멤버 ${n}명`, (n: number) => plural(n, 'member', 'members')],
  onlineCount: [(n: number) => `${n}명 접속 중`, (n: number) => `${n} online`],
  postIdWhole: ['게시글 ID는 정수예요.', 'The post id is a whole number.'],
  couldNotListRooms: [(why: string) => `채팅방 목록을 불러오지 못했습니다: ${why}`, (why: string) => `Could not list rooms: ${why}`],
  couldNotCreateRoom: [(why: string) => `채팅방을 만들지 못했습니다: ${why}`, (why: string) => `Could not create the room: ${why}`],
  couldNotOpenDirect: [(why: string) => `1:1 채팅을 열지 못했습니다: ${why}`, (why: string) => `Could not open the direct room: ${why}`],
  // The room shown
  enterRoomId: ['채팅방 ID(양의 정수)를 입력하세요.', 'Enter a room id (a positive number).'],
  notAMember: [(id: number, why: string) => `채팅방 ${id}의 멤버가 아니에요: ${why}`, (id: number, why: string) => `You are not a member of room ${id}: ${why}`],
  couldNotOpenRoom: [(id: number, why: string) => `채팅방 ${id}을 열지 못했습니다: ${why}`, (id: number, why: string) => `Could not open room ${id}: ${why}`],
  credentialsRefused: [(why: string) => `서버가 이 자격 증명을 거부했어요: ${why}`, (why: string) => `The server refused these credentials: ${why}`],
  closedByServer: [(why: string) => `서버가 연결을 닫았어요: ${why}`, (why: string) => `Closed by the server: ${why}`],
  manyMissed: ['놓친 메시지가 많아요. 위로 스크롤하면 불러옵니다.', 'Many messages were missed; scroll up to load them.'],
  joined: [(name: string) => `${name}님이 들어왔어요`, (name: string) => `${name} joined`],
  leftRoom: [(name: string) => `${name}님이 나갔어요`, (name: string) => `${name} left`],
  couldNotReload: [(why: string) => `채팅방을 다시 불러오지 못했습니다: ${why}`, (why: string) => `Could not load the room again: ${why}`],
  couldNotLoadOlder: [(why: string) => `이전 메시지를 불러오지 못했습니다: ${why}`, (why: string) => `Could not load older messages: ${why}`],
  couldNotLeaveRoom: [(id: number, why: string) => `채팅방 ${id}에서 나가지 못했습니다: ${why}`, (id: number, why: string) => `Could not leave room ${id}: ${why}`],
  youLeftRoom: ['이 채팅방에서 나갔어요.', 'You left this room.'],
  youWereRemoved: ['이 채팅방에서 내보내졌어요.', 'You were removed from this room.'],
  unsentKept: [(n: number) => `보내지 못한 메시지 ${n}개는 다음 연결 때 보냅니다.`, (n: number) => `${n} unsent ${n === 1 ? 'message is' : 'messages are'} kept for the next connect.`],
  couldNotUnsend: [(why: string) => `전송 취소하지 못했습니다: ${why}`, (why: string) => `Could not unsend: ${why}`],
  couldNotReact: [(why: string) => `공감하지 못했습니다: ${why}`, (why: string) => `Could not react: ${why}`],
  typing: [(names: string[]) => `${names.join(', ')}님이 입력 중…`, (names: string[]) => `${names.join(', ')} ${names.length === 1 ? 'is' : 'are'} typing…`],
  online: [(names: string) => `접속 중: ${names}`, (names: string) => `Online: ${names}`],
  // The post a room is about
  sold: ['거래완료', 'Sold'],
  reserved: ['예약중', 'Reserved'],
  onSale: ['판매중', 'For sale'],
  free: ['나눔', 'Free'],
  price: [(won: number) => `${new Intl.NumberFormat('ko-KR').format(won)}원`, (won: number) => new Intl.NumberFormat('en-US', { style: 'currency', currency: 'KRW' }).format(won)],
  archivedNotice: ['거래가 완료된 채팅방이에요. 메시지를 보낼 수 없어요.', 'This deal is closed. Messages can no longer be sent in this chat.'],
  peerLeftNotice: ['상대방이 대화방을 나갔어요.', 'The other person left this chat.'],
  youLeftNotice: ['대화방을 나갔어요.', 'You left this chat.'],
  // Members
  members: ['멤버', 'Members'],
  userIdToAdd: ['추가할 사용자 ID', 'user id to add'],
  add: ['추가', 'Add'],
  owner: ['방장', 'owner'],
  member: ['멤버', 'member'],
  roleAndYou: [(role: string) => `${role}, 나`, (role: string) => `${role}, you`],
  block: ['차단', 'Block'],
  unblock: ['차단 해제', 'Unblock'],
  // 내보내기 is a moderator's ban; an owner's plain removal (they may be added again) says what it does.
  remove: ['멤버에서 빼기', 'Remove'],
  couldNotListMembers: [(why: string) => `멤버를 불러오지 못했습니다: ${why}`, (why: string) => `Could not list the members: ${why}`],
  couldNotAdd: [(who: string, why: string) => `${who}님을 추가하지 못했습니다: ${why}`, (who: string, why: string) => `Could not add ${who}: ${why}`],
  couldNotRemove: [(who: string, why: string) => `${who}님을 내보내지 못했습니다: ${why}`, (who: string, why: string) => `Could not remove ${who}: ${why}`],
  couldNotBlock: [(who: string, why: string) => `${who}님을 차단하지 못했습니다: ${why}`, (who: string, why: string) => `Could not block ${who}: ${why}`],
  couldNotUnblock: [(who: string, why: string) => `${who}님의 차단을 풀지 못했습니다: ${why}`, (who: string, why: string) => `Could not unblock ${who}: ${why}`],
  // Messages
  sending: ['보내는 중…', 'sending…'],
  unsent: ['삭제된 메시지입니다.', 'This message was unsent.'],
  edited: ['수정됨', 'edited'],
  reply: ['답장', 'Reply'],
  edit: ['편집', 'Edit'],
  unsend: ['전송 취소', 'Unsend'],
  messageMenu: ['메시지 메뉴', 'Message menu'],
  // The composer
  replyTo: [(name: string) => `${name}에게 답장`, (name: string) => `Reply to ${name}`],
  editing: ['메시지 편집', 'Editing a message'],
  typeMessage: ['메시지 입력', 'Type a message'],
  send: ['전송', 'Send'],
  attach: ['사진·파일 첨부', 'Attach photos or files'],
  dropHere: ['여기에 놓으면 첨부됩니다', 'Drop here to attach'],
  sendFailedAs: [(code: string, what: string, why: string) => `전송 실패 (${code}), ${what}: ${why}`, (code: string, what: string, why: string) => `Not sent (${code}), ${what}: ${why}`],
  sendFailed: [(why: string) => `전송 실패: ${why}`, (why: string) => `Not sent: ${why}`],
  couldNotEdit: [(why: string) => `편집하지 못했습니다: ${why}`, (why: string) => `Could not edit: ${why}`],
  fileTooLarge: ['파일이 너무 큽니다', 'The file is too large'],
  unsupportedType: ['보낼 수 없는 형식입니다', 'This type of file cannot be sent'],
  dailyQuota: ['오늘 올릴 수 있는 용량을 넘었습니다', "Over today's upload allowance"],
  youDisconnected: ['연결을 끊었습니다', 'You disconnected'],
  unreachable: ['서버에 닿지 못했습니다', 'Could not reach the server'],
  // Photos and files
  photo: ['사진', 'Photo'],
  file: ['파일', 'File'],
  photos: [(n: number) => `사진 ${n}장`, (n: number) => plural(n, 'photo', 'photos')],
  files: [(n: number) => `파일 ${n}개`, (n: number) => plural(n, 'file', 'files')],
  viewPhoto: [(name: string) => `사진 크게 보기: ${name}`, (name: string) => `View photo: ${name}`],
  download: [(what: string) => `${what} 다운로드`, (what: string) => `Download ${what}`],
  photoViewer: ['사진 보기', 'Photo viewer'],
  photoFailed: ['사진을 불러오지 못했습니다', 'Could not load the photo'],
  saveOriginal: ['원본 저장', 'Save original'],
  close: ['닫기', 'Close'],
  removeFile: ['첨부 빼기', 'Remove the file'],
  uploading: ['업로드 중…', 'Uploading…'],
  uploadingPercent: [(percent: number) => `업로드 중… ${percent}%`, (percent: number) => `Uploading… ${percent}%`],
  sendingFiles: ['전송 중…', 'Sending…'],
  fileNotSent: [(name: string, why: string) => `${name}: 전송 실패 (${why})`, (name: string, why: string) => `${name}: not sent (${why})`],
  retry: ['다시 시도', 'Try again'],
  // Moderation: the contact guard's warning, a mute, a ban, slow mode, and what moderators do
  contactWarning: ['⚠️ 외부 연락처 공유에 주의하세요', '⚠️ Be careful sharing contact details outside the app'],
  contactWarningDetail: ['앱 밖에서 거래하면 보호받을 수 없어요', 'Deals outside the app are not protected'],
  mutedNotice: ['채팅이 제한되었어요', 'You are muted in this chat'],
  mutedUntil: [(time: string) => `채팅이 제한되었어요 (${time}까지)`, (time: string) => `You are muted in this chat until ${time}`],
  bannedNotice: ['이 채팅방에서 내보내졌어요. 다시 들어올 수 없어요.', 'You were removed from this chat and cannot come back.'],
  filteredText: ['보낼 수 없는 단어가 있어요', 'The message has a word that is not allowed'],
  slowMode: ['슬로우 모드', 'Slow mode'],
  slowModeOff: ['끔', 'Off'],
  slowModeChoice: [(seconds: number) => `${seconds}초`, (seconds: number) => `${seconds} s`],
  slowModeBadge: [(seconds: number) => `슬로우 모드 ${seconds}초`, (seconds: number) => `Slow mode ${seconds} s`],
  slowModeWait: [(seconds: number) => `슬로우 모드: ${seconds}초 후 보낼 수 있어요`, (seconds: number) => `Slow mode: you can send in ${seconds} s`],
  muteTenMinutes: ['10분 채팅 금지', 'Mute 10 min'],
  unmute: ['채팅 금지 해제', 'Unmute'],
  ban: ['내보내기', 'Ban'],
  deleteMessage: ['삭제', 'Delete'],
  mutedMember: ['채팅 금지 중', 'muted'],
  muteQuestion: [(who: string) => `${who}님을 10분 동안 채팅 금지할까요?`, (who: string) => `Mute ${who} for 10 minutes?`],
  banQuestion: [(who: string) => `${who}님을 내보낼까요? 다시 들어올 수 없어요.`, (who: string) => `Ban ${who}? They cannot come back.`],
  deleteQuestion: ['이 메시지를 모두에게서 삭제할까요?', 'Delete this message for everyone?'],
  couldNotModerate: [(why: string) => `처리하지 못했습니다: ${why}`, (why: string) => `Could not do that: ${why}`],
} as const

type Labels = typeof LABELS
/** The keys of labels without values: what `data-label` attributes name. */
export type StaticLabel = { [K in keyof Labels]: Labels[K][0] extends string ? K : never }[keyof Labels]
type Values<K extends keyof Labels> = Labels[K][0] extends (...values: infer V) => string ? V : []

const isLanguage = (value: unknown): value is Language => value === 'ko' || value === 'en'

function remembered(): Language | null {
  try {
    const saved = localStorage.getItem(STORAGE_KEY)
    return isLanguage(saved) ? saved : null
  } catch {
    return null
  }
}

let current: Language = remembered() ?? (navigator.language.toLowerCase().startsWith('ko') ? 'ko' : 'en')
const listeners: (() => void)[] = []

/** The locale numbers and times are written in. */
export const locale = (): string => (current === 'ko' ? 'ko-KR' : 'en-US')

/** A label in the page's language, with its values. */
export function t<K extends keyof Labels>(key: K, ...values: Values<K>): string {
  const label: string | ((...values: never[]) => string) = LABELS[key][current === 'ko' ? 0 : 1]
  return typeof label === 'string' ? label : (label as (...values: Values<K>) => string)(...values)
}

/** Whether `key` names a label without values (a `data-label` attribute may name anything). */
const isStaticLabel = (key: string | undefined): key is StaticLabel => key !== undefined && key in LABELS && typeof LABELS[key as keyof Labels][0] === 'string'

/** Gives `el` its label's text, now and on every change of language. */
export function labelled<E extends HTMLElement>(el: E, key: StaticLabel): E {
  el.dataset.label = key
  el.textContent = t(key)
  return el
}

/** The attributes that carry a label's key, and what each labels. */
const LABEL_ATTRIBUTES: [attribute: string, apply: (el: HTMLElement, text: string) => void][] = [
  ['data-label', (el, text) => (el.textContent = text)],
  ['data-label-placeholder', (el, text) => el.setAttribute('placeholder', text)],
  ['data-label-title', (el, text) => (el.title = text)],
  ['data-label-aria', (el, text) => el.setAttribute('aria-label', text)],
  ['data-label-drop', (el, text) => (el.dataset.drop = text)],
]

/** Labels every element under `root` that names its label (`data-label="send"` and the like). */
function applyLabels(root: ParentNode) {
  for (const [attribute, apply] of LABEL_ATTRIBUTES) {
    for (const el of root.querySelectorAll<HTMLElement>(`[${attribute}]`)) {
      const key = el.getAttribute(attribute) ?? undefined
      if (isStaticLabel(key)) apply(el, t(key))
    }
  }
  document.documentElement.lang = current
  document.title = t('pageTitle')
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-language]')) button.setAttribute('aria-pressed', String(button.dataset.language === current))
}

/** Calls `listener` after every change of language (the static labels are changed by then). */
export function onLanguageChange(listener: () => void) {
  listeners.push(listener)
}

/** Shows the page in `next`, remembered for the next visit. */
function setLanguage(next: Language) {
  try {
    localStorage.setItem(STORAGE_KEY, next)
  } catch {}
  if (next === current) return
  current = next
  applyLabels(document)
  for (const listener of listeners) listener()
}

/** Labels the page in its language and makes its switch (`[data-language]` buttons) work. */
export function startLabels() {
  applyLabels(document)
  for (const button of document.querySelectorAll<HTMLButtonElement>('[data-language]')) {
    button.addEventListener('click', () => {
      if (isLanguage(button.dataset.language)) setLanguage(button.dataset.language)
    })
  }
}
