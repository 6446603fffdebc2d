// Shared plumbing of the CLI commands: the one CliError, docker's error printing and exit codes, usage
// errors (125), multi-target loops, and the management groups (`container`, `image`…) that several command
// modules add verbs to.
import type { Command } from 'commander';
import { DaemonUnreachableError, EngineError } from '../../client/index.js';

/** An error the command prints itself, as docker does, with a given exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** `Error response from daemon: …` for daemon errors, `Error: …` for the CLI's own, as docker prints them. */
export function errorText(err: unknown): string {
  if (err instanceof EngineError) return `Error response from daemon: ${err.message}`;
  if (err instanceof CliError || err instanceof DaemonUnreachableError) return err.message;
  const message = err instanceof Error ? err.message : String(err);
  return message.startsWith('Error') ? message : `Error: ${message}`;
}

/** Wraps an action: errors are printed docker's way and set the exit code instead of reaching main's catch. */
export function action<A extends unknown[]>(
  fn: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      const text = errorText(err);
      if (text) process.stderr.write(`${text}\n`);
      process.exitCode = err instanceof CliError ? err.exitCode : 1;
    }
  };
}

/**
 * Runs `fn` for each target, printing each target as given on success (docker's output for stop, rm, kill…)
 * and each failure on stderr; exits 1 if any failed. `fn` answers 'skipped' for a target it reported itself.
 */
export async function eachTarget(
  targets: string[],
  fn: (target: string) => Promise<void | 'skipped'>,
  opts: { print?: boolean } = {},
): Promise<void> {
  const failures: string[] = [];
  for (const target of targets) {
    try {
      const outcome = await fn(target);
      if (opts.print !== false && outcome !== 'skipped') process.stdout.write(`${target}\n`);
    } catch (err) {
      failures.push(errorText(err));
    }
  }
  if (failures.length) throw new CliError(failures.join('\n'), 1);
}

/** Commander's error text in docker's words (`unknown flag: --x`, `'berth run' requires at least 1 argument`). */
export function dockerFlagError(text: string, cmd: Command): string {
  const line = text.trim().replace(/^error: /, '');
  let m = /^unknown option '(--?)([^']*)'/.exec(line);
  if (m)
    return m[1] === '--' ? `unknown flag: --${m[2]}` : `unknown shorthand flag: '${m[2]![0]}' in -${m[2]}`;
  m = /^option '([^']*)' argument missing/.exec(line);
  if (m) return `flag needs an argument: ${m[1]!.split(/[ ,]+/).find((f) => f.startsWith('--')) ?? m[1]}`;
  if (/^missing required argument|^too many arguments/.test(line)) {
    const args = cmd.registeredArguments;
    const required = args.filter((a) => a.required).length;
    const exact = args.every((a) => a.required && !a.variadic);
    const count = `${required} argument${required === 1 ? '' : 's'}`;
    return `berth: 'berth ${fullName(cmd)}' requires ${exact ? 'exactly' : 'at least'} ${count}`;
  }
  return line;
}

/** docker exits 125 on unknown flags and bad flag values, 1 on a wrong argument count, with its usage line. */
export function dockerUsage(cmd: Command): Command {
  return cmd
    .configureOutput({
      outputError: (text, write) => write(`${dockerFlagError(text, cmd)}\n`),
    })
    .exitOverride((err) => {
      if (err.exitCode === 0) process.exit(0);
      const usage = `Usage:  berth ${fullName(cmd)} ${cmd.usage()}`;
      const argCount = err.code === 'commander.missingArgument' || err.code === 'commander.excessArguments';
      const hint = argCount ? 'See' : 'Run';
      process.stderr.write(`\n${usage}\n\n${hint} 'berth ${fullName(cmd)} --help' for more information\n`);
      process.exit(argCount ? 1 : 125);
    });
}

function fullName(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/** The `image`/`network`/… group, shared with other modules that add verbs to it (order of registration free). */
export function commandGroup(program: Command, name: string, description: string): Command {
  const existing = program.commands.find((c) => c.name() === name);
  return existing ?? program.command(name).description(description);
}

/** The `container` management group, shared by every module adding `container <verb>` aliases. */
export function containerGroup(program: Command): Command {
  return commandGroup(program, 'container', 'Manage containers');
}

/** Commander's parsed integer option, with docker's message for a bad value (exit 125). */
export function intOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value.trim()))
    throw new CliError(
      `invalid argument "${value}" for "${flag}" flag: strconv.ParseInt: parsing "${value}": invalid syntax\nSee 'berth --help'.`,
      125,
    );
  return Number(value);
}

/** `--filter k=v` flags → the API's filters map. */
export function filtersOf(specs: string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    if (eq <= 0)
      throw new CliError(
        `invalid argument "${spec}" for "-f, --filter" flag: bad format of filter (expected name=value)`,
        125,
      );
    (out[spec.slice(0, eq).trim().toLowerCase()] ??= []).push(spec.slice(eq + 1));
  }
  return out;
}
