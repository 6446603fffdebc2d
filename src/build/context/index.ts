export {
  type ContextEntry,
  cleanPattern,
  compilePattern,
  IgnoreMatcher,
  type IgnoreRule,
  type PathPattern,
  parseDockerignore,
  readDockerignore,
  walkContext,
} from './dockerignore.js';
