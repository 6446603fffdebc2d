// Flag parsing shared by berth's commands: create/run flags and Docker's unit syntax.
export {
  addContainerOptions,
  buildCreateBody,
  type ContainerFlags,
  type CreateBody,
  parseMountFlag,
  parsePublish,
  readKeyValueFile,
} from './container.js';
export { collect, parseBytes, parseDurationNs, splitKeyValue } from './units.js';
