// The berth program: its commands, and which module registers each.
//
// Command modules are loaded on demand: loading all of them (compose's schema validator, the daemon's
// services, the builder) costs about a second, which every `berth run` would pay otherwise.
import { Command } from 'commander';

type Register = (program: Command) => void;

/** Each command module (src/cli/commands/<name>.ts exports `register(program)`), by file name. */
export const COMMAND_MODULES: Record<string, () => Promise<{ register: Register }>> = {
  daemon: () => import('./commands/daemon.js'),
  compose: () => import('./commands/compose.js'),
  registry: () => import('./commands/registry.js'),
  images: () => import('./commands/images.js'),
  distribution: () => import('./commands/distribution.js'),
  bootstrap: () => import('./commands/bootstrap.js'),
  networks: () => import('./commands/networks.js'),
  volumes: () => import('./commands/volumes.js'),
  system: () => import('./commands/system.js'),
  containers: () => import('./commands/containers.js'),
  'container-files': () => import('./commands/container-files.js'),
  build: () => import('./commands/build.js'),
};

/** Which modules register each top-level command (test/unit/cli/main.test.ts keeps this true). */
export const COMMANDS: Record<string, string[]> = {
  daemon: ['daemon'],
  compose: ['compose'],
  registry: ['registry'],
  images: ['images'],
  history: ['images'],
  tag: ['images'],
  rmi: ['images'],
  save: ['images'],
  load: ['images'],
  import: ['images'],
  commit: ['images'],
  image: ['images', 'distribution', 'bootstrap'],
  pull: ['distribution'],
  push: ['distribution'],
  login: ['distribution'],
  logout: ['distribution'],
  network: ['networks'],
  volume: ['volumes'],
  version: ['system'],
  info: ['system'],
  events: ['system'],
  system: ['system'],
  container: ['containers', 'container-files'],
  run: ['containers'],
  create: ['containers'],
  start: ['containers'],
  attach: ['containers'],
  exec: ['containers'],
  ps: ['containers'],
  stop: ['containers'],
  restart: ['containers'],
  kill: ['containers'],
  pause: ['containers'],
  unpause: ['containers'],
  wait: ['containers'],
  rm: ['containers'],
  rename: ['containers'],
  inspect: ['containers'],
  logs: ['containers'],
  top: ['containers'],
  port: ['containers'],
  stats: ['containers'],
  cp: ['container-files'],
  export: ['container-files'],
  diff: ['container-files'],
  build: ['build'],
};

/** A program with the modules needed for `argv` (all of them for help, versions and unknown commands). */
export async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('berth');
  program
    .description('A container platform that speaks the Docker Engine API')
    .version('0.1.0', '-v, --version')
    .enablePositionalOptions()
    .showHelpAfterError(false);
  const first = argv.slice(2).find((a) => !a.startsWith('-'));
  const names = (first && COMMANDS[first]) || Object.keys(COMMAND_MODULES);
  for (const name of names) (await COMMAND_MODULES[name]!()).register(program);
  return program;
}
