// The build module: Dockerfile front end (parser, stage graph, checks), build context, and the executor.
export * from './checks/index.js';
export * from './context/index.js';
export * from './executor/index.js';
export * from './parser/index.js';
