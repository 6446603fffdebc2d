export {
  type ContextEntry,
  cleanPattern,
  compilePattern,
  IgnoreMatcher,
  type IgnoreRule,
  parseDockerignore,
  readDockerignore,
  walkContext,
} from './dockerignore.js';
