// Shared setup for the docker CLI end-to-end suite: a private berth daemon with a busybox image, and a
// `docker` runner that never throws (tests assert on status, stdout and stderr).
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../helpers/index.js';

export const DOCKER = '/usr/local/bin/docker';

/** Why the suite cannot run here, or undefined when it can. */
export function skipReason(): string | undefined {
  if (!isRoot()) return 'needs root';
  if (!haveCommand('runc') || !haveCommand('conmon')) return 'needs runc and conmon';
  if (!haveCommand(DOCKER)) return 'needs the docker CLI';
  return undefined;
}

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

export interface Suite {
  d: TestDaemon;
  tmp: string;
  /** Runs `docker args…` against the private daemon. */
  docker(args: string[], opts?: { input?: string; timeoutMs?: number }): Result;
  /** Async variant for commands that must run beside others (events, attach, logs -f). */
  dockerAsync(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<Result>;
  /** Like docker() but throws with stderr when the status is not 0; returns trimmed stdout. */
  ok(args: string[], opts?: { input?: string }): string;
  close(): Promise<void>;
}

function result(r: SpawnSyncReturns<string>): Result {
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Starts a daemon and imports `busybox:latest` (CMD sh). */
export async function setUp(): Promise<Suite> {
  const d = await startTestDaemon();
  const t = tempDir('berth-e2e-cli-');
  const docker = (args: string[], opts: { input?: string; timeoutMs?: number } = {}): Result =>
    result(
      spawnSync(DOCKER, args, {
        env: d.env,
        input: opts.input ?? '',
        encoding: 'utf8',
        timeout: opts.timeoutMs ?? 60_000,
      }),
    );
  const ok = (args: string[], opts: { input?: string } = {}): string => {
    const r = docker(args, opts);
    if (r.status !== 0)
      throw new Error(`docker ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
    return r.stdout.trim();
  };
  const dockerAsync = (args: string[], opts: { input?: string; timeoutMs?: number } = {}) =>
    new Promise<Result>((resolve) => {
      const child = spawn(DOCKER, args, { env: d.env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
      });
      child.stderr.on('data', (b: Buffer) => {
        stderr += b.toString();
      });
      const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ status: code ?? -1, stdout, stderr });
      });
      child.stdin.end(opts.input ?? '');
    });
  try {
    const rootfs = join(t.path, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    const tar = join(t.path, 'busybox.tar');
    const tr = spawnSync('tar', ['-C', rootfs, '-cf', tar, '.']);
    if (tr.status !== 0) throw new Error(`tar: ${tr.stderr}`);
    ok(['import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  } catch (err) {
    await d.stop();
    t.cleanup();
    throw err;
  }
  return {
    d,
    tmp: t.path,
    docker,
    dockerAsync,
    ok,
    async close() {
      await d.stop();
      t.cleanup();
    },
  };
}

/** Writes a file under the suite's temp dir and returns its path. */
export function writeTemp(s: Suite, name: string, text: string): string {
  const p = join(s.tmp, name);
  writeFileSync(p, text);
  return p;
}

/** Polls `fn` until it returns a truthy value (or the deadline passes, then returns the last value). */
export async function until<T>(fn: () => T | Promise<T>, timeoutMs = 20_000, stepMs = 200): Promise<T> {
  const end = Date.now() + timeoutMs;
  let v = await fn();
  while (!v && Date.now() < end) {
    await new Promise((r) => setTimeout(r, stepMs));
    v = await fn();
  }
  return v;
}
