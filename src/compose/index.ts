// Compose: the loader (files → canonical Project model) and the reconcile engine (model → daemon state).
export * from './loader/index.js';
export * from './project/index.js';
