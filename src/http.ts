/** The Host the client addressed, as the original server used it to build `chat_url`. */
export function requestHost(request: Request): string {
  return request.headers.get('host') ?? new URL(request.url).host
}
