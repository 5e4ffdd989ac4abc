import { LocalFileStorage, type LocalStorageOptions } from './local-storage.ts'
import { S3FileStorage, type S3StorageOptions } from './s3-storage.ts'

/** UPLOADS and the settings of the storage it names. */
export type FileStorageSettings = ({ kind: 'local' } & LocalStorageOptions) | ({ kind: 's3' } & S3StorageOptions)

/** The storage the settings name; `kind` tells them apart (only local storage is served by this server). */
export function openFileStorage(settings: FileStorageSettings): LocalFileStorage | S3FileStorage {
  return settings.kind === 'local' ? new LocalFileStorage(settings) : new S3FileStorage(settings)
}
