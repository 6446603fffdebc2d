// The compose reconcile engine: a loaded Project → containers, networks and volumes via the Engine API.
export { type BuildOptions, buildService } from './build.js';
export {
  bytes,
  type CreateContext,
  type CreatePlan,
  containerLabels,
  containerName,
  createPlan,
  durationNs,
  replicas,
  serviceNetworks,
} from './convert.js';
export {
  ComposeEngine,
  type DownOptions,
  type EngineOptions,
  nameOf,
  numberOf,
  type ProgressEvent,
  type RunOptions,
  serviceOf,
  splitRef,
  type UpOptions,
} from './engine.js';
export { COMPOSE_VERSION, LABEL, projectFilter } from './labels.js';
