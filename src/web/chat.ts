// The chat test page, on the client library (@gateway-chat/client): the library speaks the REST
// API and the WebSocket protocol, reconnects, recovers and resends; the page shows what it does.
// Every string that comes from a user is rendered with textContent, never as HTML (dom.ts).
import { createChatClient, type CreateRoomInput, type RoomSummary } from '../../client/src/index.ts'
import { $, roomItem, showError } from './dom.ts'
import { currentUser, identityAuth, missingUserText, restoreSettings, saveSettings, selectRoom } from './identity.ts'
import { createInbox } from './inbox.ts'
import { onLanguageChange, startLabels, t } from './labels.ts'
import { RoomView } from './room-view.ts'

startLabels()

// Reconnects back off up to 10 s (the library's own ceiling is 30 s): a test page should come back soon.
const client = createChatClient({ auth: identityAuth, reconnect: { capMs: 10_000 } })
const view = new RoomView(client)

const input = (id: string) => $<HTMLInputElement>(id).value.trim()
const errorText = (e: unknown) => (e instanceof Error ? e.message : String(e))

/** A post id as typed: none when empty; a whole number otherwise (the server judges its range). */
function postIdField(id: string): { post_id?: number } | null {
  const text = input(id)
  if (!text) return {}
  if (!/^\d+$/.test(text)) return null
  return { post_id: Number(text) }
}

/** The rooms listed last: drawn again in another language. */
let listed: readonly RoomSummary[] = []

function showRooms(rooms: readonly RoomSummary[]) {
  listed = rooms
  $('rooms').replaceChildren(
    ...rooms.map((r) => {
      const li = roomItem(r)
      li.addEventListener('click', () => selectRoom(r.id))
      return li
    }),
  )
}

async function loadRooms() {
  try {
    showRooms(await client.api.rooms({ limit: 200 }))
  } catch (e) {
    showError(t('couldNotListRooms', errorText(e)))
  }
}

async function createRoom() {
  const post = postIdField('post_id')
  if (!post) return showError(t('postIdWhole'))
  const body: CreateRoomInput = { name: input('room_name'), ...post }
  if ($<HTMLSelectElement>('room_kind').value === 'private') {
    body.kind = 'private'
    body.members = input('room_members')
      .split(',')
      .map((id) => id.trim())
      .filter(Boolean)
  }
  try {
    const created = await client.api.createRoom(body)
    selectRoom(created.id)
    await loadRooms()
  } catch (e) {
    showError(t('couldNotCreateRoom', errorText(e)))
  }
}

async function openDirectRoom() {
  const post = postIdField('direct_post_id')
  if (!post) return showError(t('postIdWhole'))
  try {
    const opened = await client.api.directRoom({ user_id: input('direct_user_id'), ...post })
    selectRoom(opened.id)
    await loadRooms()
  } catch (e) {
    showError(t('couldNotOpenDirect', errorText(e)))
  }
}

const inbox = createInbox({ client, missingUser: () => (currentUser() ? null : missingUserText()), pick: (id) => view.show(id), error: showError })

$('inbox-open').addEventListener('click', () => {
  saveSettings()
  inbox.toggle()
})
$('connect').addEventListener('click', () => void view.connect())
$('disconnect').addEventListener('click', () => view.disconnect())
$('list-rooms').addEventListener('click', () => void loadRooms())
$('room_kind').addEventListener('change', () => {
  $('room_members').hidden = $<HTMLSelectElement>('room_kind').value !== 'private'
})
$('create-room').addEventListener('submit', (event) => {
  event.preventDefault()
  void createRoom()
})
$('direct-room').addEventListener('submit', (event) => {
  event.preventDefault()
  void openDirectRoom()
})

onLanguageChange(() => showRooms(listed))
restoreSettings()
void loadRooms()
