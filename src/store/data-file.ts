import { StartRefused } from '../start-refused.ts'

/**
 * The SQLite file (or its folder) cannot be used as it is: read-only, missing, not a database,
 * damaged, no permission. A person must act; the server does not start (exit status 2).
 */
class DataFileUnusable extends StartRefused {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`cannot use database file ${path}: ${reason}`)
    this.name = 'DataFileUnusable'
  }
}

/** What each error code means for a person looking at the data folder. */
const causes: Record<string, string> = {
  EACCES: 'permission denied (the server needs to read and write the file and its folder, for the -wal, -shm and .lock files beside it)',
  EPERM: 'operation not permitted on the file or its folder',
  EROFS: 'the folder is on a read-only file system',
  ENOENT: 'a folder on the path does not exist and could not be made',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'the path is a folder, not a file',
  ENOSPC: 'the disk is full',
  SQLITE_CANTOPEN: 'it cannot be opened or created (a missing folder, no permission, or a read-only file system)',
  SQLITE_READONLY: 'it or its folder is read-only (the server writes the file and the -wal and -shm files beside it)',
  SQLITE_NOTADB: 'it is not a SQLite database (a different file, or damaged from its first page): restore it from a backup',
  SQLITE_CORRUPT: 'it is damaged: restore it from a backup (or try `sqlite3 FILE .recover`)',
  SQLITE_FULL: 'the disk is full',
  SQLITE_IOERR: 'the disk reported an I/O error',
  SQLITE_PERM: 'permission denied',
}

/** The cause of a file error as a sentence, or null when the error is not about the file. */
function fileErrorCause(error: unknown): string | null {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return null
  return causes[code] ?? causes[code.replace(/_[A-Z_]+$/, '')] ?? null
}

/** Runs `open` (opening, locking or migrating the file), turning file errors into DataFileUnusable. */
export function openDataFile<T>(path: string, open: () => T): T {
  try {
    return open()
  } catch (error) {
    if (error instanceof StartRefused) throw error
    const cause = fileErrorCause(error)
    if (cause) throw new DataFileUnusable(path, cause)
    throw error
  }
}
