// A container that runs once to completion with no monitor: `runc run` in the foreground with stdio pipes
// (as buildah runs RUN steps). For build steps, which need no logs file, no attach socket and must not
// outlive the daemon: this skips conmon's start-up and its exit bookkeeping. runc removes the container
// itself when the process exits.
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../util/index.js';
import { type RuntimeError, runtimeError } from './conmon.js';
import type { OciSpec } from './oci.js';
import type { OciRuntime } from './runtime.js';
import { serializeSpec } from './spec.js';

export interface RunOnceOptions {
  /** Container ID (the runtime's name for it while it runs). */
  id: string;
  /** A directory for config.json and the runtime's log; the caller removes it. */
  bundle: string;
  /** The spec (process.terminal must be false: output comes through pipes). */
  spec: OciSpec;
  /** The process's output as it comes, stdout and stderr each in whole lines (a last partial one at exit). */
  onOutput: (text: string) => void;
  /** Kills the process (SIGKILL) when aborted; the result then carries its exit code (137). */
  signal?: AbortSignal;
}

/**
 * Runs the spec's process to completion and returns its exit code (128+n when killed by signal n).
 * Throws a RuntimeError when the runtime could not start it (its message, e.g. "executable file not
 * found"); nothing of the container is left behind either way.
 */
export async function runToCompletion(runtime: OciRuntime, opts: RunOnceOptions): Promise<number> {
  const spec: OciSpec = { ...opts.spec, process: { ...opts.spec.process!, terminal: false } };
  await writeFile(join(opts.bundle, 'config.json'), serializeSpec(spec));
  const logPath = join(opts.bundle, 'runtime.log');
  const root = ['--root', runtime.stateRoot];
  const child = spawn(
    runtime.runtimePath,
    [...root, '--log', logPath, '--log-format', 'json', 'run', '--bundle', opts.bundle, opts.id],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const pipe = (stream: NodeJS.ReadableStream) => {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const text = rest + chunk;
      const nl = text.lastIndexOf('\n');
      if (nl < 0) rest = text;
      else {
        rest = text.slice(nl + 1);
        opts.onOutput(text.slice(0, nl + 1));
      }
    });
    return new Promise<void>((resolve) =>
      stream.once('close', () => {
        if (rest) opts.onOutput(rest);
        resolve();
      }),
    );
  };
  const drained = Promise.all([pipe(child.stdout!), pipe(child.stderr!)]);
  const kill = () => {
    run(runtime.runtimePath, [...root, 'kill', opts.id, 'KILL']).catch(() => {});
  };
  if (opts.signal?.aborted) kill();
  opts.signal?.addEventListener('abort', kill, { once: true });
  let code: number;
  try {
    code = await new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, sig) => resolve(c ?? 128 + (sig === 'SIGKILL' ? 9 : 15)));
    });
    await drained;
  } finally {
    opts.signal?.removeEventListener('abort', kill);
  }
  if (code !== 0) {
    // An error in the runtime's own log: the process never ran (or runc itself failed).
    const failure = await runtimeFailure(logPath);
    if (failure !== undefined) {
      await run(runtime.runtimePath, [...root, 'delete', '--force', opts.id]).catch(() => {});
      throw failure;
    }
  }
  await rm(logPath, { force: true }).catch(() => {});
  return code;
}

/** The last error the runtime logged (JSON lines: {"level":"error","msg":…}), as a RuntimeError. */
async function runtimeFailure(logPath: string): Promise<RuntimeError | undefined> {
  let text: string;
  try {
    text = await readFile(logPath, 'utf8');
  } catch {
    return undefined;
  }
  let msg: string | undefined;
  for (const line of text.split('\n')) {
    try {
      const entry = JSON.parse(line) as { level?: string; msg?: string };
      if (entry.level === 'error' || entry.level === 'fatal') msg = entry.msg;
    } catch {
      // not a JSON line
    }
  }
  return msg === undefined ? undefined : runtimeError(msg);
}
