import { afterAll, beforeAll, describe, expect, it } from 'bun:test'
import { signJwt } from './support/jwt.ts'
import { startGateway, startNginx, type Gateway } from './support/nginx.ts'
import { rawRequest } from './support/raw-http.ts'
import { RawWebSocket } from './support/raw-socket.ts'
import { headerValues, startRecorder, type Recorder } from './support/recorder.ts'
import { createRoom, startTestServer, type TestServer } from './support/server.ts'
import { TestSocket, type Frame } from './support/socket.ts'

// The two gateways of the seed's design note, end to end against the real server: its Spring
// filter, which formats the identity into the WebSocket URL (a user without a picture arrives as
// profile_url=null), and its nginx location, which copies the identity headers into the query
// (profile_url= when the header is missing). Either way the user has no picture.

/** The format string of the seed's ChatWebSocketFilter.buildChatUrl, as written there. */
const SPRING_FORMAT = '%s?user_id=%s&nickname=%s&email=%s&profile_url=%s'

/** Java's String.format for %s: each argument as String.valueOf writes it, so null is "null". */
const javaFormat = (format: string, ...args: (string | null)[]) => {
  let next = 0
  return format.replace(/%s/g, () => {
    const arg = args[next++]
    return arg === null ? 'null' : arg!
  })
}

/** The seed's UserInfo for a user without a picture (getProfileUrl() returns null). */
const hong = { userId: '7', nickname: '홍길동', email: 'hong@example.com', profileUrl: null }

/** buildChatUrl(originalUri, userInfo), character for character. */
const springChatUrl = (originalUri: string, user: { userId: string; nickname: string; email: string; profileUrl: string | null }) =>
  javaFormat(SPRING_FORMAT, originalUri, user.userId, user.nickname, user.email, user.profileUrl)

/** The path and query of a URL exactly as written (new URL() would percent-encode the Korean). */
const target = (url: string) => url.slice(url.indexOf('/', url.indexOf('//') + 2))

const JWT_SECRET = 'jwt-signing-secret-for-tests-only'
const GATEWAY_SECRET = 'gateway-shared-secret-0123456789'

let chat: TestServer
let chatPort: number
const proxies: Gateway[] = []
let recorder: Recorder
beforeAll(async () => {
  // As the seed's gateways expect it: identity in the query allowed, no gateway secret.
  chat = await startTestServer({ IDENTITY_SOURCES: 'headers,query' })
  chatPort = Number(new URL(chat.base).port)
  recorder = startRecorder()
}, 30_000)
afterAll(async () => {
  for (const proxy of proxies) await proxy.stop()
  recorder?.stop()
  await chat?.destroy()
})

/** Real nginx on a config of the test's own, stopped after the file. */
async function nginx(http: (listen: string) => string): Promise<Gateway> {
  const started = await startNginx(http)
  proxies.push(started)
  return started
}

/** Who the server lists as online in a room, with their pictures. */
async function onlineUsers(roomId: number): Promise<{ user_id: string; nickname: string; profile_picture_url: string | null }[]> {
  const res = await chat.http(`/chat/v1/room/${roomId}/`)
  expect(res.status).toBe(200)
  return ((await res.json()) as { online_users: { user_id: string; nickname: string; profile_picture_url: string | null }[] }).online_users
}

/** Sends a message on `socket` and returns the server's echo of it. */
async function echo(socket: TestSocket, text: string): Promise<Frame> {
  socket.sendMessage(text)
  return socket.next((f) => f.type === 'chat.message' && f.message === text)
}

/** What the server stored for a message, read back over REST. */
async function stored(roomId: number, text: string) {
  const res = await chat.http(`/chat/v1/room/${roomId}/messages/`)
  const found = ((await res.json()) as { message: string; user_id: string; nickname: string; profile_picture_url: string | null }[]).find((m) => m.message === text)
  return found && { user_id: found.user_id, nickname: found.nickname, profile_picture_url: found.profile_picture_url }
}

/** Text frames a raw socket has received, parsed, until one matches (5 s at most). */
async function rawFrame(socket: RawWebSocket, match: (f: Frame) => boolean): Promise<Frame> {
  for (let waited = 0; waited < 5000; waited += 10) {
    const found = socket
      .frames()
      .filter((f) => f.opcode === 1)
      .map((f) => JSON.parse(f.payload.toString()) as Frame)
      .find(match)
    if (found) return found
    await Bun.sleep(10)
  }
  throw new Error('no matching frame within 5 s')
}

const NO_PICTURE = { user_id: '7', nickname: '홍길동', profile_picture_url: null }

describe("the seed's Spring filter: profile_url=null for a user without a picture", () => {
  it('should build the URL the seed builds', () => {
    expect(springChatUrl('ws://chat-server:8000/ws/chat/1/chat/', hong)).toBe('ws://chat-server:8000/ws/chat/1/chat/?user_id=7&nickname=홍길동&email=hong@example.com&profile_url=null')
  })

  it('should open the socket with that URL byte for byte (the Korean as raw UTF-8), with no picture in presence, the echo and the history', async () => {
    const roomId = await createRoom(chat, 'spring raw')
    const url = springChatUrl(`${chat.wsBase}/ws/chat/${roomId}/chat/`, hong)
    // The request line as the string reads, nothing encoded: Bun takes UTF-8 in the target.
    const socket = await RawWebSocket.open(chatPort, target(url))
    try {
      socket.send(JSON.stringify({ type: 'chat.message', message: 'from spring, raw' }))
      expect(await rawFrame(socket, (f) => f.type === 'chat.message')).toMatchObject({ ...NO_PICTURE, sender: 'hong@example.com', message: 'from spring, raw' })
      expect(await onlineUsers(roomId)).toEqual([NO_PICTURE])
      expect(await stored(roomId, 'from spring, raw')).toEqual(NO_PICTURE)
    } finally {
      socket.destroy()
    }
  })

  it('should open the socket with that URL as a WebSocket client sends it (non-ASCII percent-encoded, as URI#toASCIIString does)', async () => {
    const roomId = await createRoom(chat, 'spring encoded')
    const socket = await TestSocket.open(springChatUrl(`${chat.wsBase}/ws/chat/${roomId}/chat/`, hong))
    try {
      expect(await echo(socket, 'from spring')).toMatchObject(NO_PICTURE)
      expect(await onlineUsers(roomId)).toEqual([NO_PICTURE])
      expect(await stored(roomId, 'from spring')).toEqual(NO_PICTURE)
      // The same format with a picture carries it, so null above is the server's reading of "null".
      const pictured = await TestSocket.open(springChatUrl(`${chat.wsBase}/ws/chat/${roomId}/chat/`, { ...hong, userId: '8', profileUrl: '/media/8.jpg' }))
      expect(await echo(pictured, 'with a picture')).toMatchObject({ user_id: '8', profile_picture_url: '/media/8.jpg' })
      await pictured.close()
    } finally {
      await socket.close()
    }
  })

  it('should open the socket with that URL through an nginx that proxies it on unchanged (TLS or balancing in front of the chat server)', async () => {
    const passThrough = await nginx(
      (listen) => `
    upstream chat { server 127.0.0.1:${chatPort}; }
    server {
        listen ${listen};
        location /ws/ {
            proxy_pass http://chat;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
        }
    }`,
    )
    const roomId = await createRoom(chat, 'spring via nginx')
    const url = springChatUrl(`${passThrough.wsBase}/ws/chat/${roomId}/chat/`, hong)
    const raw = await RawWebSocket.open(passThrough.port, target(url))
    raw.destroy()
    const socket = await TestSocket.open(url)
    try {
      expect(await echo(socket, 'from spring via nginx')).toMatchObject(NO_PICTURE)
      expect(await stored(roomId, 'from spring via nginx')).toEqual(NO_PICTURE)
    } finally {
      await socket.close()
    }
  })

  it('should open the socket when a client sends that URL through the reference gateway, which takes the user from the token instead', async () => {
    const gateway = await startGateway({ chatPort, jwtSecret: JWT_SECRET, gatewaySecret: GATEWAY_SECRET })
    proxies.push(gateway)
    const roomId = await createRoom(chat, 'spring form via the reference gateway')
    const token = signJwt({ sub: '7', nickname: '홍길동', email: 'hong@example.com', exp: Math.floor(Date.now() / 1000) + 300 }, JWT_SECRET)
    // The identity in the query says someone else, with profile_url=null: the gateway drops it.
    const url = springChatUrl(`${gateway.wsBase}/ws/chat/${roomId}/chat/`, { userId: 'mallory', nickname: 'Mallory', email: 'm@evil.example', profileUrl: null })
    const socket = await TestSocket.open(url, { protocols: ['chat', `bearer.${token}`] })
    try {
      expect(await echo(socket, 'from the token')).toMatchObject(NO_PICTURE)
      expect(await onlineUsers(roomId)).toEqual([NO_PICTURE])
      expect(await stored(roomId, 'from the token')).toEqual(NO_PICTURE)
    } finally {
      await socket.close()
    }
  })
})

/**
 * The seed's nginx location with its upstream at `upstreamPort`. Two changes it needs to run: its
 * prefix location captures nothing for `$1`, so this one is a regex with the room id as $1; and
 * its Lua step (verify_jwt.lua) is not here: the test sends the X-User-Id... headers that step
 * sets. With `clearHeaders`, those headers are not passed on, so the query alone carries the
 * identity (as the seed's Django server read it); by default nginx passes them on as well.
 */
const seedLocation =
  (upstreamPort: number, clearHeaders = false) =>
  (listen: string) =>
    `
    server {
        listen ${listen};
        location ~ ^/ws/chat/(\\d+)/chat/$ {
            set $user_id $http_x_user_id;
            set $nickname $http_x_nickname;
            set $email $http_x_email;
            set $profile_url $http_x_profile_url;

            proxy_pass http://127.0.0.1:${upstreamPort}/ws/chat/$1/chat/?user_id=$user_id&nickname=$nickname&email=$email&profile_url=$profile_url;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection "upgrade";
${clearHeaders ? ['X-User-Id', 'X-Nickname', 'X-Email', 'X-Profile-Url'].map((name) => `            proxy_set_header ${name} "";`).join('\n') : ''}
        }
    }`

/** The headers the seed's Lua step leaves for a user without a picture: no X-Profile-Url (the nickname percent-encoded, as headers must be Latin-1). */
const SEED_HEADERS = { 'x-user-id': '7', 'x-nickname': encodeURIComponent('홍길동'), 'x-email': 'hong@example.com' }

describe("the seed's nginx: profile_url= (empty) when X-Profile-Url is missing", () => {
  it('should forward the query the seed builds', async () => {
    const seed = await nginx(seedLocation(recorder.port))
    const before = recorder.received.length
    // The recorder answers 200 to anything: only what nginx sent matters here.
    await fetch(`${seed.base}/ws/chat/5/chat/`, { headers: SEED_HEADERS })
    const sent = recorder.received.slice(before)
    expect(sent.map((r) => r.uri)).toEqual([`/ws/chat/5/chat/?user_id=7&nickname=${encodeURIComponent('홍길동')}&email=hong@example.com&profile_url=`])
    expect(headerValues(sent[0]!, 'x-profile-url')).toEqual([])
  })

  for (const clearHeaders of [false, true]) {
    it(`should open the socket with no picture, ${clearHeaders ? 'the identity in the query alone' : 'the identity headers passed on beside the query'}`, async () => {
      const seed = await nginx(seedLocation(chatPort, clearHeaders))
      const roomId = await createRoom(chat, `seed nginx ${clearHeaders}`)
      const socket = await TestSocket.open(`${seed.wsBase}/ws/chat/${roomId}/chat/`, { headers: SEED_HEADERS })
      try {
        expect(await echo(socket, 'via the seed nginx')).toMatchObject({ ...NO_PICTURE, sender: 'hong@example.com' })
        expect(await onlineUsers(roomId)).toEqual([NO_PICTURE])
        expect(await stored(roomId, 'via the seed nginx')).toEqual(NO_PICTURE)
        // With the header, the same location forwards the picture.
        const pictured = await TestSocket.open(`${seed.wsBase}/ws/chat/${roomId}/chat/`, { headers: { ...SEED_HEADERS, 'x-user-id': '8', 'x-profile-url': '/media/8.jpg' } })
        expect(await echo(pictured, 'with a picture')).toMatchObject({ user_id: '8', profile_picture_url: '/media/8.jpg' })
        await pictured.close()
      } finally {
        await socket.close()
      }
    })
  }
})

describe("the seed's nginx with the Lua step's headers as raw UTF-8", () => {
  // verify_jwt.lua sets X-Nickname from the token's claim as it is: UTF-8 bytes in the header
  // (ngx.req.set_header does not encode), which nginx passes on and also copies into the query.
  it('should read the raw UTF-8 nickname in the header and the query as the same Korean name', async () => {
    const seed = await nginx(seedLocation(chatPort))
    const roomId = await createRoom(chat, 'seed nginx raw utf-8')
    const socket = await RawWebSocket.open(seed.port, `/ws/chat/${roomId}/chat/`, ['X-User-Id: 7', 'X-Nickname: 홍길동', 'X-Email: hong@example.com'])
    try {
      socket.send(JSON.stringify({ type: 'chat.message', message: 'raw utf-8 header' }))
      expect(await rawFrame(socket, (f) => f.type === 'chat.message')).toMatchObject({ ...NO_PICTURE, message: 'raw utf-8 header' })
      expect(await stored(roomId, 'raw utf-8 header')).toEqual(NO_PICTURE)
    } finally {
      socket.destroy()
    }
  })

  it('should take a raw UTF-8 nickname over REST, and keep a Latin-1 one that is not UTF-8', async () => {
    const roomId = await createRoom(chat, 'rest raw utf-8')
    const send = (nickname: Buffer, text: string) =>
      rawRequest(
        chatPort,
        Buffer.concat([
          Buffer.from(
            `POST /chat/v1/message/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(JSON.stringify({ room: roomId, message: text }))}\r\nX-User-Id: 7\r\nX-Email: hong@example.com\r\nX-Nickname: `,
          ),
          nickname,
          Buffer.from(`\r\n\r\n${JSON.stringify({ room: roomId, message: text })}`),
        ]),
      )
    expect((await send(Buffer.from('홍길동'), 'raw rest')).status).toBe(201)
    expect(await stored(roomId, 'raw rest')).toEqual(NO_PICTURE)
    // "Zoë" as Latin-1 (one byte 0xEB) is not UTF-8: read as the Latin-1 it is.
    expect((await send(Buffer.from('Zo\xeb', 'latin1'), 'latin-1 rest')).status).toBe(201)
    expect(await stored(roomId, 'latin-1 rest')).toEqual({ user_id: '7', nickname: 'Zoë', profile_picture_url: null })
  })
})

describe('X-Profile-Url: null over REST', () => {
  it('should mean no picture, for the message sent, the history and /me', async () => {
    const roomId = await createRoom(chat, 'rest null')
    for (const value of ['null', 'None', 'undefined', '']) {
      const headers = { ...SEED_HEADERS, 'x-profile-url': value }
      const sent = await chat.post('/chat/v1/message/', { message: `picture ${JSON.stringify(value)}`, room: roomId }, headers)
      expect({ value, status: sent.status }).toEqual({ value, status: 201 })
      expect(await sent.json()).toMatchObject({ ...NO_PICTURE, sender: 'hong@example.com' })
      expect(await stored(roomId, `picture ${JSON.stringify(value)}`)).toEqual(NO_PICTURE)
      const me = await chat.http('/chat/v1/me/', { headers })
      expect(await me.json()).toEqual({ user_id: '7', nickname: '홍길동', email: 'hong@example.com', profile_picture_url: null })
    }
  })
})
