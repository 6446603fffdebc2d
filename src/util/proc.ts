// Running the low-level tools we drive (runc, conmon, ip, iptables, CNI plugins, zstd...).
import { type SpawnOptions, spawn } from 'node:child_process';
import { internal } from './errors.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions extends SpawnOptions {
  /** Written to the child's stdin, then stdin is closed. */
  input?: string | Uint8Array;
}

/** Runs a command to completion and collects its output; never throws for a non-zero exit. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const { input, ...spawnOptions } = options;
    const child = spawn(cmd, args, { ...spawnOptions, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin!.on('error', () => {}); // the child may exit before reading its input
    child.stdin!.end(input ?? '');
  });
}

/** Runs a command and throws a 500 naming the command and its stderr when it fails. */
export async function runChecked(
  cmd: string,
  args: readonly string[],
  options: RunOptions = {},
): Promise<RunResult> {
  const result = await run(cmd, args, options);
  if (result.code !== 0) {
    const detail = (result.stderr || result.stdout).trim();
    throw internal(`${cmd} ${args.join(' ')} failed (exit ${result.code}): ${detail}`);
  }
  return result;
}
