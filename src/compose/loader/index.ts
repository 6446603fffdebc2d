export { parseDotenv, readDotenv } from './dotenv.js';
export { dependencyOrder, serviceDependencies, serviceHash } from './graph.js';
export { formatPath, substitute, TemplateError } from './interpolate.js';
export { loadProject } from './load.js';
export {
  imageName,
  listImages,
  listNetworks,
  listProfiles,
  listServices,
  listVolumes,
  toConfigObject,
  toJson,
  toYaml,
} from './output.js';
export { shellSplit } from './shellwords.js';
export type * from './types.js';
