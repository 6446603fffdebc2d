// Containers: records, their state machine, restart policies and health checks.
export {
  archiveContainerPath,
  type Change,
  ContainerFs,
  containerChanges,
  type ExtractOptions,
  encodePathStat,
  exportContainer,
  extractTar,
  extractToContainer,
  type FilesDeps,
  goBase,
  goModeIsDir,
  goModeIsSymlink,
  type PathStat,
  packPath,
  preserveTrailing,
  rebaseName,
  specifiesCurrentDir,
  splitPathDirEntry,
  statContainerPath,
} from './files.js';
export { filterContainers, type ListOptions } from './filters.js';
export { type Health, type HealthConfig, HealthMonitor } from './health.js';
export { generateName, validateName } from './names.js';
export type * from './record.js';
export { parseRestartPolicy, shouldRestart, validateRestartPolicy } from './restart-policy.js';
export {
  ContainerService,
  type ContainerServiceDeps,
  type CreateRequest,
  containerFiles,
} from './service.js';
export { commandText, containerInspect, containerSummary, humanDuration, statusText } from './view.js';
