// The container runtime layer: OCI spec generation, the conmon + runc driver, logs and stats.
export { ALL_CAPABILITIES, computeCapabilities, DEFAULT_CAPABILITIES, normalizeCapability } from './caps.js';
export { RuntimeError, runtimeError } from './conmon.js';
export { computeRlimits, type HostLimits, hostLimits, parseProcLimits, type Ulimit } from './limits.js';
export { type LogEntry, parseLogLine, type ReadLogsOptions, readLogs } from './logs.js';
export {
  type ContainerConfig,
  commandOf,
  type HealthConfig,
  type ImageRunConfig,
  mergeConfig,
} from './merge.js';
export type { OciMount, OciProcess, OciSpec } from './oci.js';
export { type ContainerPaths, containerPaths } from './paths.js';
export { followLinksWithin, mkdirInRoot, resolveInRoot } from './rootfs.js';
export { type RunOnceOptions, runToCompletion } from './run-once.js';
export {
  type AttachStreams,
  type CreateOptions,
  conmonPid,
  crunUsable,
  type ExecHandle,
  type ExecOptions,
  type ExitInfo,
  OciRuntime,
  parseSignal,
  pickRuntime,
  type RecoveredState,
  type RuntimeOptions,
  type RuntimeState,
  readExit,
  recover,
  waitExit,
} from './runtime.js';
export { defaultSeccompProfile } from './seccomp.js';
export {
  CGROUP_PARENT,
  DEFAULT_PATH,
  type ExecConfig,
  execProcessSpec,
  findInit,
  generateSpec,
  type HostConfig,
  type ResolvedMount,
  type SpecInput,
  serializeSpec,
} from './spec.js';
export { type ContainerStats, cgroupPids, readStats, type TopResult, top } from './stats.js';
export { type ResolvedUser, resolveUser } from './user.js';
