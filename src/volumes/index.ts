// Volumes: named and anonymous local volumes, bind mounts, tmpfs, --volumes-from and copy-up of image content.
export {
  deactivateMounts,
  type MountPoint,
  mergeTmpfsOptions,
  type OciMount,
  type ResolvedMounts,
  type ResolveMountsRequest,
  releaseMounts,
  resolveMounts,
  type VolumesFromSource,
} from './resolve.js';
export {
  ANONYMOUS_LABEL,
  type ContainerRefs,
  type Filters,
  type Volume,
  type VolumeCreateOptions,
  type VolumeListResponse,
  VolumeService,
  type VolumeServiceOptions,
} from './service.js';
export {
  type ApiMount,
  type MountSpec,
  type MountType,
  type Propagation,
  parseApiMount,
  parseBind,
  parseMountFlag,
  parseSize,
  parseTmpfs,
  parseTmpfsFlag,
  parseVolumesFrom,
  tmpfsOptionsToData,
  validMountMode,
} from './spec.js';
