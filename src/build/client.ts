// The client side of the build module: what `berth build` needs before it talks to the daemon (the
// Dockerfile front end, build checks, .dockerignore and the context walk, --ssh specs). A lighter entry
// than index.ts, which also loads the executor, the runtime and the context pool (~35 ms at start-up).
export { runChecks } from './checks/index.js';
export { IgnoreMatcher, readDockerignore, walkContext } from './context/dockerignore.js';
export { parseSshSpecs } from './executor/ssh.js';
export { parseDockerfile } from './parser/index.js';
