// Images: references, the blob store, OCI/Docker types, image records and the image service.
import type { Readable } from 'node:stream';
import { type ArchiveFormat, loadImages, saveImages } from './archive.js';
import { bootstrapBusybox, bootstrapDebian, type DebianOptions } from './bootstrap.js';
import type { ImageRecord } from './records.js';
import { ImageService as BaseImageService } from './service.js';

export type * from './api-types.js';
export { type BlobInfo, BlobStore } from './blobs.js';
export {
  BOOTSTRAP_PATH_ENV,
  type BootstrapConfig,
  DEFAULT_DEBIAN_MIRROR,
  prepareBusyboxRootfs,
  prepareDebianRootfs,
  validDebianSuite,
} from './bootstrap.js';
export { applyChanges } from './changes.js';
export * from './media.js';
export type { ImageRecord } from './records.js';
export * from './reference.js';
export {
  type CommitOptions,
  familiarDigest,
  familiarTag,
  type ImportOptions,
  type InUseCheck,
  type ListOptions,
  type RegisterOptions,
  type RemoveOptions,
  type ResolvedImage,
  validateConfig,
} from './service.js';
export type { ArchiveFormat, DebianOptions };

/** The image service with save/load and bootstrap images. */
export class ImageService extends BaseImageService {
  /** `docker save`: a tar stream of the images (docker-archive by default, or an OCI layout). */
  save(refs: string[], format: ArchiveFormat = 'docker'): Promise<Readable> {
    return saveImages(this, refs, format);
  }

  /** `docker load`: docker-archive or OCI layout; lines like "Loaded image: busybox:latest". */
  load(source: Readable): Promise<{ loaded: string[] }> {
    return loadImages(this, source);
  }

  bootstrapBusybox(tag = 'busybox:latest', busybox = '/bin/busybox'): Promise<ImageRecord> {
    return bootstrapBusybox(this, tag, busybox);
  }

  bootstrapDebian(suite: string, opts: DebianOptions = {}): Promise<ImageRecord> {
    return bootstrapDebian(this, suite, opts);
  }
}
