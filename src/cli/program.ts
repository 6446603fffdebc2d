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

/**
 * For groups whose subcommands come from several modules: which modules register each subcommand, so
 * `berth image ls` loads the image commands without the pull/push or bootstrap machinery. A subcommand
 * missing here loads every module of the group (test/unit/cli/program.test.ts keeps this true).
 */
export const SUBCOMMANDS: Record<string, Record<string, string[]>> = {
  image: {
    ...Object.fromEntries(
      ['ls', 'list', 'inspect', 'history', 'tag', 'rm', 'remove', 'save', 'load', 'import', 'prune'].map(
        (n) => [n, ['images']],
      ),
    ),
    pull: ['distribution'],
    push: ['distribution'],
    bootstrap: ['bootstrap'],
  },
  container: {
    ...Object.fromEntries(
      [
        'run',
        'create',
        'start',
        'attach',
        'exec',
        'ls',
        'list',
        'ps',
        'stop',
        'restart',
        'kill',
        'pause',
        'unpause',
        'wait',
        'rm',
        'remove',
        'rename',
        'inspect',
        'logs',
        'top',
        'port',
        'prune',
        'stats',
      ].map((n) => [n, ['containers']]),
    ),
    cp: ['container-files'],
    export: ['container-files'],
    diff: ['container-files'],
  },
};

/** Top-level commands that run in this process and never talk to a daemon. */
const LOCAL_COMMANDS = new Set(['daemon', 'registry']);

/** The top-level command `argv` names, if it is one of berth's. */
export function invokedCommand(argv: string[]): string | undefined {
  const first = argv.slice(2).find((a) => !a.startsWith('-'));
  return first !== undefined && Object.hasOwn(COMMANDS, first) ? first : undefined;
}

/** Whether the invoked command (see invokedCommand) talks to a daemon. */
export function talksToDaemon(command: string): boolean {
  return !LOCAL_COMMANDS.has(command);
}

/**
 * A program with the modules needed for `argv` (all of them for help, versions and unknown commands).
 * When `argv` names a known command, only that top-level command is built: its module's other commands
 * (`berth ps` loads the module that also defines `run` and `create`, with their hundred options each)
 * are skipped, so the command line costs what the invoked command needs.
 */
export async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('berth');
  program
    .description('A container platform that speaks the Docker Engine API')
    .version('0.1.0', '-v, --version')
    .enablePositionalOptions()
    .showHelpAfterError(false);
  const only = invokedCommand(argv);
  const names = only ? modulesFor(only, argv) : Object.keys(COMMAND_MODULES);
  const modules = await Promise.all(names.map((name) => COMMAND_MODULES[name]!()));
  const restore = only ? onlyCommand(program, only) : () => {};
  try {
    for (const m of modules) m.register(program);
  } finally {
    restore();
  }
  return program;
}

/** The modules that register top-level command `only` (and its subcommand named in `argv`, if known). */
function modulesFor(only: string, argv: string[]): string[] {
  const subs = SUBCOMMANDS[only];
  if (subs) {
    const words = argv.slice(2).filter((a) => !a.startsWith('-'));
    const sub = words[words.indexOf(only) + 1];
    if (sub !== undefined && Object.hasOwn(subs, sub)) return subs[sub]!;
  }
  return COMMANDS[only]!;
}

/**
 * Until the returned function runs, `program.command(name…)` for any other top-level name returns a
 * stand-in that accepts and ignores every call made on it, and `program.addCommand` of another name
 * does nothing.
 */
function onlyCommand(program: Command, only: string): () => void {
  const command = program.command.bind(program) as (...args: unknown[]) => Command;
  const addCommand = program.addCommand.bind(program);
  const stub = ignoredCommand(only);
  const patched = program as unknown as Record<'command' | 'addCommand', unknown>;
  patched.command = (nameAndArgs: string, ...rest: unknown[]) =>
    nameAndArgs.trim().split(/\s+/)[0] === only ? command(nameAndArgs, ...rest) : stub;
  patched.addCommand = (cmd: Command, opts?: { isDefault?: boolean; hidden?: boolean }) =>
    cmd.name() === only ? addCommand(cmd, opts) : program;
  return () => {
    delete patched.command;
    delete patched.addCommand;
  };
}

/**
 * A chainable nothing: every property is itself, every call returns itself. On the top-level stand-in,
 * `.alias(only)` throws: buildProgram chose what to build by command name and would miss the alias.
 */
function ignoredCommand(only: string | undefined): Command {
  let sub: Command | undefined;
  const stub: unknown = new Proxy(() => {}, {
    get(_target, prop) {
      if (prop === 'then') return undefined; // not a promise
      if (prop === Symbol.toPrimitive) return () => '';
      if (prop === Symbol.iterator) return function* () {};
      // Subcommands of a stand-in are stand-ins, whose aliases do not matter.
      if (prop === 'command' || prop === 'createCommand') return () => (sub ??= ignoredCommand(undefined));
      if (prop === 'alias' && only !== undefined)
        return (alias?: string) => {
          if (alias === only) throw new Error(`berth: a top-level alias (${only}) needs buildProgram's care`);
          return stub;
        };
      return stub;
    },
    apply: () => stub,
  });
  return stub as Command;
}
