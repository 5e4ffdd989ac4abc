/**
 * The server will not start, for a reason a person must act on (a setting to fix, another process
 * to stop) and restarting will not cure: one log line and exit status 2, which the systemd unit
 * does not restart.
 */
export class StartRefused extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'StartRefused'
  }
}
