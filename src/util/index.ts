export * from './atomic.js';
export * from './digest.js';
export * from './errors.js';
export * from './filters.js';
export * from './ids.js';
export * from './mounts.js';
export * from './proc.js';
export * from './tree-size.js';
