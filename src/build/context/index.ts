export {
  type ContextEntry,
  cleanPattern as cleanIgnorePattern,
  compilePattern as compileIgnorePattern,
  IgnoreMatcher,
  type IgnoreRule,
  type PathPattern,
  parseDockerignore,
  readDockerignore,
  walkContext,
} from './dockerignore.js';
export { ContextPool, type ReceivedContext } from './sync.js';
