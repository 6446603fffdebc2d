export * from './atomic.js';
export * from './digest.js';
export * from './errors.js';
export * from './ids.js';
export * from './proc.js';
