/** The path uploads are POSTed to: its body may be up to MAX_UPLOAD_BYTES and a form's framing (the gateway's gate, the app's body limit and the upload route's reader all know it). */
export const UPLOADS_PATH = '/chat/v1/uploads/'

/** What a multipart form adds around its file at most: its boundaries and part headers. */
export const FORM_FRAMING_BYTES = 64 * 1024
