// A message's photos and files in the timeline: photos as thumbnails whose space is kept from
// their width and height (the list does not jump as they load), opened full size in a lightbox
// (closed with Esc or a tap); other files as a chip with name and size that downloads.
import type { Attachment } from '../../client/src/index.ts'
import { labelled, t } from './labels.ts'

/** The largest side of a photo shown alone; several are shown as squares of the second size, cropped. */
const ONE_PHOTO_PX = 240
const SEVERAL_PHOTOS_PX = 150

/** A byte count as people read it: 512 B, 3.4 KB, 12 MB. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KB', 'MB', 'GB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`
}

/** What a message's files amount to, in a few words: 사진 2장, 파일 1개, 사진 1장 · 파일 1개. */
export function filesSummary(files: readonly { content_type: string; kind?: string }[]): string {
  const photos = files.filter((f) => (f.kind ?? (f.content_type.startsWith('image/') ? 'image' : 'file')) === 'image').length
  const others = files.length - photos
  return [photos ? t('photos', photos) : '', others ? t('files', others) : ''].filter(Boolean).join(' · ')
}

/** The size a photo is shown at: within `box` on its longer side, never larger than it is. */
function shownSize(a: Attachment, box: number): { width: number; height: number } {
  const width = a.width ?? box
  const height = a.height ?? box
  const scale = Math.min(1, box / Math.max(width, height))
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) }
}

/** A message's attachments: its photos, then its other files; null when it has none. */
export function attachmentsView(attachments: readonly Attachment[]): HTMLDivElement | null {
  if (attachments.length === 0) return null
  const photos = attachments.filter((a) => a.kind === 'image')
  const files = attachments.filter((a) => a.kind !== 'image')
  const view = document.createElement('div')
  view.className = 'attachments'
  view.dataset.testid = 'attachments'
  const album = photos.length > 1
  for (const photo of photos) view.append(thumbnail(photo, album ? { width: SEVERAL_PHOTOS_PX, height: SEVERAL_PHOTOS_PX } : shownSize(photo, ONE_PHOTO_PX), album))
  for (const file of files) view.append(fileChip(file))
  return view
}

/** A photo's thumbnail: a button that opens it full size. */
function thumbnail(a: Attachment, { width, height }: { width: number; height: number }, square: boolean): HTMLButtonElement {
  const button = document.createElement('button')
  button.type = 'button'
  button.className = 'thumb'
  button.dataset.testid = 'thumbnail'
  button.setAttribute('aria-label', t('viewPhoto', a.name))
  const img = document.createElement('img')
  img.className = square ? 'thumb-image square' : 'thumb-image'
  // The width and height attributes give the box its shape before a byte has loaded.
  img.width = width
  img.height = height
  img.alt = a.name
  img.loading = 'lazy'
  img.decoding = 'async'
  img.src = a.thumbnail_url ?? a.url
  button.append(img)
  button.addEventListener('click', () => openLightbox(a))
  return button
}

/** A file that is not a photo: its name and size, downloading on a tap. */
function fileChip(a: Attachment): HTMLAnchorElement {
  const link = document.createElement('a')
  link.className = 'file-chip'
  link.dataset.testid = 'file-chip'
  link.href = a.url
  link.download = a.name
  link.rel = 'noopener'
  const icon = document.createElement('span')
  icon.className = 'file-icon'
  icon.setAttribute('aria-hidden', 'true')
  icon.textContent = a.content_type === 'application/pdf' ? 'PDF' : t('file')
  const name = document.createElement('span')
  name.className = 'file-name'
  name.textContent = a.name
  const size = document.createElement('span')
  size.className = 'file-size'
  size.textContent = formatSize(a.size)
  link.append(icon, name, size)
  link.title = t('download', `${a.name} (${formatSize(a.size)})`)
  return link
}

/** The one lightbox of the page, made on first use. */
let lightbox: { root: HTMLDivElement; img: HTMLImageElement; save: HTMLAnchorElement; problem: HTMLSpanElement; opener: HTMLElement | null } | null = null

/** Shows a photo full size over the page; Esc, a tap on it or the close button ends it. */
function openLightbox(a: Attachment) {
  lightbox ??= makeLightbox()
  const { root, img, save, problem } = lightbox
  problem.hidden = true
  lightbox.opener = document.activeElement instanceof HTMLElement ? document.activeElement : null
  img.removeAttribute('src')
  img.alt = a.name
  if (a.width && a.height) {
    img.width = a.width
    img.height = a.height
  }
  img.src = a.url
  save.href = a.url
  save.download = a.name
  root.hidden = false
  root.focus()
}

function closeLightbox() {
  if (!lightbox || lightbox.root.hidden) return
  lightbox.root.hidden = true
  lightbox.img.removeAttribute('src')
  lightbox.opener?.focus()
}

function makeLightbox() {
  const root = document.createElement('div')
  root.className = 'lightbox'
  root.dataset.testid = 'lightbox'
  root.setAttribute('role', 'dialog')
  root.setAttribute('aria-modal', 'true')
  root.dataset.labelAria = 'photoViewer'
  root.setAttribute('aria-label', t('photoViewer'))
  root.tabIndex = -1
  root.hidden = true
  const img = document.createElement('img')
  img.className = 'lightbox-image'
  img.dataset.testid = 'lightbox-image'
  const bar = document.createElement('div')
  bar.className = 'lightbox-bar'
  // Its URL is signed for an hour: a page open longer shows the message again (reconnect) for a fresh one.
  const problem = labelled(document.createElement('span'), 'photoFailed')
  problem.hidden = true
  img.addEventListener('error', () => {
    if (img.getAttribute('src')) problem.hidden = false
  })
  const save = labelled(document.createElement('a'), 'saveOriginal')
  save.dataset.testid = 'lightbox-save'
  // Saving is not a tap that closes.
  save.addEventListener('click', (event) => event.stopPropagation())
  const close = labelled(document.createElement('button'), 'close')
  close.type = 'button'
  close.dataset.testid = 'lightbox-close'
  bar.append(problem, save, close)
  root.append(img, bar)
  root.addEventListener('click', closeLightbox)
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') closeLightbox()
  })
  document.body.append(root)
  return { root, img, save, problem, opener: null }
}
