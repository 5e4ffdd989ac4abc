import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { StartRefused } from '../start-refused.ts'
import { openDataFile } from './data-file.ts'

/** Who holds a data file: written into its lock file. */
interface Holder {
  pid: number
  since: string
}

/** Another live process serves the same SQLite file. */
export class DataFileInUse extends StartRefused {
  constructor(
    readonly path: string,
    readonly holder: Holder,
  ) {
    super(
      `database file ${path} is in use by another server (pid ${holder.pid}, since ${holder.since}): one SQLite file serves one process, whose live delivery and presence the other could not share; stop that one, or run several instances on Postgres and Redis (DATABASE_URL, REDIS_URL)`,
    )
    this.name = 'DataFileInUse'
  }
}

/** True while a process with this id runs (one of another user's counts too). */
function alive(pid: number): boolean {
  if (pid === process.pid) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM'
  }
}

function readHolder(lockPath: string): Holder | null {
  try {
    const holder = JSON.parse(readFileSync(lockPath, 'utf8')) as Partial<Holder>
    return typeof holder.pid === 'number' ? { pid: holder.pid, since: String(holder.since) } : null
  } catch {
    return null
  }
}

/**
 * Takes `<path>.lock` for this process, or throws DataFileInUse naming the live process that holds
 * it. A lock left by a process that is gone (killed, crashed; or this very pid, as in a container
 * that restarted) is taken over. The lock file appears whole or not at all (written aside, then
 * hard-linked into place, which fails if one is there), so two servers starting together cannot
 * both take it. Returns the release.
 */
export function holdDataFile(path: string): () => void {
  return openDataFile(path, () => takeLock(path))
}

function takeLock(path: string): () => void {
  const lockPath = `${path}.lock`
  const mine: Holder = { pid: process.pid, since: new Date().toISOString() }
  const aside = `${lockPath}.${process.pid}`
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(aside, JSON.stringify(mine))
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(aside, lockPath)
        break
      } catch (error) {
        if ((error as { code?: string }).code !== 'EEXIST') throw error
        const holder = readHolder(lockPath)
        if (holder && alive(holder.pid)) throw new DataFileInUse(path, holder)
        // Gone (or unreadable: a half-written file of an older layout): take it over, once.
        if (attempt > 0) throw new DataFileInUse(path, holder ?? { pid: 0, since: 'unknown' })
        unlinkSync(lockPath)
      }
    }
  } finally {
    unlinkSync(aside)
  }
  return () => {
    if (readHolder(lockPath)?.pid === process.pid) unlinkSync(lockPath)
  }
}
