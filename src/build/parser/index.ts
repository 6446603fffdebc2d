export { formatGoDuration, parseGoDuration } from './duration.js';
export { DockerfileError, isDockerfileError } from './errors.js';
export {
  type ExpandedInstruction,
  expandInstruction,
  PROXY_ARGS,
  platformArgs,
  type ScopedInstruction,
  type ScopeOptions,
  walkStage,
} from './expand.js';
export {
  INSTRUCTION_NAMES,
  isInstructionName,
  parseChmod,
  parseJsonArray,
  parseMount,
  parsePortSpec,
  suggest as suggestName,
} from './instructions.js';
export { type ParseOptions, parseCheckDirective, parseDockerfile } from './parse.js';
export {
  type EnvSource,
  type ExpandOptions,
  type ExpandResult,
  expandDetailed,
  expandWord,
  expandWords,
  type GlobToken,
  parseGlob,
  ShellExpansionError,
  splitRawWords,
} from './shell.js';
export {
  type ResolvedStage,
  type ResolveOptions,
  resolveMetaArgs,
  resolveStages,
  type StageDependency,
  type StageGraph,
} from './stages.js';
export type * from './types.js';
