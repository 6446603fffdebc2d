// Compose: the loader (files → canonical Project model) and, later, the reconcile engine.
export * from './loader/index.js';
