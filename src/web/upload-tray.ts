// The composer's files, above its input: picked with the paperclip, pasted (Ctrl/Cmd+V of an
// image) or dropped on the chat, shown as chips until sent; then each with its upload's progress
// until the message is stored, or with why it was not sent (and 다시 시도, which picks it again).
import type { FileProgress } from '../../client/src/index.ts'
import { formatSize } from './attachments.ts'
import { onLanguageChange, t, type StaticLabel } from './labels.ts'

/** The side of a chip's preview, in CSS pixels (drawn at twice that for sharp screens). */
const PREVIEW_PX = 44

interface Chip {
  file: File
  li: HTMLLIElement
  status: HTMLSpanElement
  bar: HTMLProgressElement
  /** What its status line and title say, in the page's language. */
  says: () => string
  title: () => string
}

export class UploadTray {
  /** Files picked for the next message. */
  private drafts: Chip[] = []
  /** Files of messages on their way, by the message's `client_msg_id`. */
  private readonly sending = new Map<string, Chip[]>()
  /** Files of messages not sent, shown until dismissed or picked again. */
  private readonly unsent = new Set<Chip>()
  private readonly list: HTMLUListElement

  constructor(private readonly el: HTMLElement) {
    this.list = document.createElement('ul')
    this.list.className = 'chips'
    el.append(this.list)
    onLanguageChange(() => {
      for (const chip of [...this.drafts, ...[...this.sending.values()].flat(), ...this.unsent]) this.label(chip)
    })
  }

  /** True while files are picked for the next message. */
  get hasDrafts(): boolean {
    return this.drafts.length > 0
  }

  /** Picks files for the next message. */
  add(files: Iterable<File>) {
    for (const file of files) {
      const chip = this.chip(file)
      this.setState(chip, 'draft', () => formatSize(file.size))
      chip.li.append(this.button('×', 'removeFile', 'upload-remove', () => this.drop(chip)))
      this.drafts.push(chip)
      this.list.append(chip.li)
    }
    this.show()
  }

  /** The picked files, which now go with a message named `clientMsgId`; their chips stay, showing its progress. */
  take(clientMsgId: string): File[] {
    const chips = this.drafts
    this.drafts = []
    if (chips.length === 0) return []
    this.sending.set(clientMsgId, chips)
    for (const chip of chips) {
      chip.li.querySelector('[data-testid=upload-remove]')?.remove()
      this.setState(chip, 'uploading', () => t('uploading'))
      chip.bar.hidden = false
    }
    return chips.map((c) => c.file)
  }

  /** How far one file's upload is. */
  progress({ client_msg_id, index, loaded, total }: FileProgress) {
    const chip = this.sending.get(client_msg_id)?.[index]
    if (!chip) return
    const percent = total > 0 ? Math.floor((loaded / total) * 100) : 0
    chip.bar.value = percent
    this.setState(chip, loaded >= total ? 'uploaded' : 'uploading', () => (loaded >= total ? t('sendingFiles') : t('uploadingPercent', percent)))
  }

  /** The message is stored: its chips go. */
  sent(clientMsgId: string) {
    for (const chip of this.sending.get(clientMsgId) ?? []) chip.li.remove()
    this.sending.delete(clientMsgId)
    this.show()
  }

  /** The message was not sent: its chips say why (`reason`, in the page's language), and offer to pick the file again or dismiss it. */
  failed(clientMsgId: string, reason: () => string) {
    const chips = this.sending.get(clientMsgId) ?? []
    this.sending.delete(clientMsgId)
    for (const chip of chips) {
      chip.bar.hidden = true
      this.unsent.add(chip)
      this.setState(
        chip,
        'failed',
        () => t('sendFailed', reason()),
        () => t('fileNotSent', chip.file.name, reason()),
      )
      chip.li.append(
        this.button('↻', 'retry', 'upload-retry', () => {
          this.unsent.delete(chip)
          chip.li.remove()
          this.add([chip.file])
        }),
        this.button('×', 'close', 'upload-dismiss', () => {
          this.unsent.delete(chip)
          chip.li.remove()
          this.show()
        }),
      )
    }
  }

  /** Takes a picked file back. */
  private drop(chip: Chip) {
    this.drafts = this.drafts.filter((c) => c !== chip)
    chip.li.remove()
    this.show()
  }

  private show() {
    this.el.hidden = this.list.childElementCount === 0
  }

  private setState(chip: Chip, state: 'draft' | 'uploading' | 'uploaded' | 'failed', says: () => string, title = () => chip.file.name) {
    chip.li.dataset.state = state
    chip.says = says
    chip.title = title
    this.label(chip)
  }

  private label(chip: Chip) {
    chip.status.textContent = chip.says()
    chip.li.title = chip.title()
  }

  private chip(file: File): Chip {
    const li = document.createElement('li')
    li.className = 'chip'
    li.dataset.testid = 'upload-chip'
    li.title = file.name
    const preview = document.createElement('span')
    preview.className = 'chip-preview'
    preview.setAttribute('aria-hidden', 'true')
    preview.textContent = file.type.startsWith('image/') ? t('photo') : t('file')
    if (file.type.startsWith('image/')) void drawPreview(file, preview)
    const text = document.createElement('span')
    text.className = 'chip-text'
    const name = document.createElement('span')
    name.className = 'chip-name'
    name.textContent = file.name || t('photo')
    const status = document.createElement('span')
    status.className = 'chip-status'
    status.dataset.testid = 'upload-status'
    status.setAttribute('aria-live', 'polite')
    const bar = document.createElement('progress')
    bar.max = 100
    bar.value = 0
    bar.hidden = true
    text.append(name, status, bar)
    li.append(preview, text)
    return { file, li, status, bar, says: () => '', title: () => file.name }
  }

  private button(label: string, title: StaticLabel, testid: string, run: () => void): HTMLButtonElement {
    const b = document.createElement('button')
    b.type = 'button'
    b.className = 'chip-button'
    b.textContent = label
    b.title = t(title)
    b.setAttribute('aria-label', t(title))
    b.dataset.labelTitle = title
    b.dataset.labelAria = title
    b.dataset.testid = testid
    b.addEventListener('click', run)
    return b
  }
}

/**
 * Draws a small preview of a picked photo as a data: URL (the page's policy allows no blob: images).
 * A file the browser cannot decode keeps its label.
 */
async function drawPreview(file: File, into: HTMLElement) {
  try {
    const bitmap = await createImageBitmap(file)
    const side = PREVIEW_PX * 2
    const scale = side / Math.min(bitmap.width, bitmap.height)
    const canvas = document.createElement('canvas')
    canvas.width = canvas.height = side
    // Cropped to a square around the middle, as the chip shows it.
    canvas.getContext('2d')?.drawImage(bitmap, (side - bitmap.width * scale) / 2, (side - bitmap.height * scale) / 2, bitmap.width * scale, bitmap.height * scale)
    bitmap.close()
    const img = document.createElement('img')
    img.className = 'chip-preview-image'
    img.alt = ''
    img.src = canvas.toDataURL('image/jpeg', 0.8)
    into.replaceChildren(img)
  } catch {}
}
