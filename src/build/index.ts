// The build module: Dockerfile front end (parser, stage graph, checks) and build context.
export * from './checks/index.js';
export * from './context/index.js';
export * from './parser/index.js';
export * from './executor/index.js';
