// The build executor: Dockerfile → images (legacy builder semantics), with the layer cache.

export { receiveContext } from './context.js';
export {
  BUILD_CONTAINER_LABEL,
  type BuildDeps,
  BuildError,
  Builder,
  type BuildOutput,
  type BuildRequest,
  type BuildResult,
} from './executor.js';
export { checkSshForwards, parseSshSpecs, type SshForwards } from './ssh.js';
export { type BuildTrace, buildTrace } from './trace.js';
