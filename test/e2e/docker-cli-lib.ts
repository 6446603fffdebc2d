// Shared setup for the container CLI end-to-end suite: a private berth daemon with a busybox image, and a
// runner for each CLI under test — the docker 28 CLI and berth's own — that never throws (tests assert on
// status, stdout and stderr). Every suite file runs its tests once per CLI against one daemon.
import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { berthArgv, haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../helpers/index.js';

export const DOCKER = '/usr/local/bin/docker';
const REPO = join(import.meta.dirname, '../..');

/** A CLI under test: its name (as it names itself in messages) and the argv that starts it. */
export interface Cli {
  name: 'docker' | 'berth';
  argv: readonly string[];
}

/**
 * The CLIs the suite runs with: docker, and berth — the compiled bin/berth under BERTH_TEST_DIST=1, else the
 * sources through tsx. BERTH_TEST_CLI=docker|berth picks one (for working on one side).
 */
export const CLIS: readonly Cli[] = (
  [
    { name: 'docker', argv: [DOCKER] },
    {
      name: 'berth',
      argv:
        process.env.BERTH_TEST_DIST === '1' ? [join(REPO, 'bin/berth')] : [process.execPath, ...berthArgv()],
    },
  ] as const satisfies readonly Cli[]
).filter((c) => !process.env.BERTH_TEST_CLI || process.env.BERTH_TEST_CLI === c.name);

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

interface RunOpts {
  input?: string;
  timeoutMs?: number;
}

export interface Suite {
  d: TestDaemon;
  tmp: string;
  /** The CLI the current tests drive (set by use(); docker until then). */
  cli: Cli;
  /** Switches to `cli` and removes what earlier tests left (containers, networks, volumes). */
  use(cli: Cli): Promise<void>;
  /** Runs `<cli> args…` against the private daemon. */
  cmd(args: string[], opts?: RunOpts): Result;
  /** Runs the docker CLI whatever use() chose (for checks outside the CLI under test). */
  docker(args: string[], opts?: RunOpts): Result;
  /** Async variant for commands that must run beside others (events, attach, logs -f). */
  cmdAsync(args: string[], opts?: RunOpts): Promise<Result>;
  /** Like cmd() but throws with stderr when the status is not 0; returns trimmed stdout. */
  ok(args: string[], opts?: RunOpts): string;
  /** Starts `<cli> args…` in the background (the caller kills it). */
  spawn(args: string[]): ReturnType<typeof spawn>;
  /** Runs `<cli> args…` on a pseudo-terminal (script(1)); stdout has the terminal's output, \r removed. */
  inPty(args: string[], opts?: RunOpts): Promise<Result>;
  close(): Promise<void>;
}

function result(r: SpawnSyncReturns<string>): Result {
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

const shellQuote = (a: string) => `'${a.replace(/'/g, `'\\''`)}'`;

/** Starts a daemon and imports `busybox:latest` (CMD sh). */
export async function setUp(): Promise<Suite> {
  const d = await startTestDaemon();
  const t = tempDir('berth-e2e-cli-');
  const docker: Cli = { name: 'docker', argv: [DOCKER] };
  // cwd is the repository so that `--import tsx` resolves.
  const spawnOpts = { env: d.env, cwd: REPO };
  const s: Suite = {
    d,
    tmp: t.path,
    cli: docker,
    async use(cli) {
      s.cli = cli;
      for (const c of await d.client.containers.list({ all: true }))
        await d.client.containers.remove(c.Id ?? '', { force: true, volumes: true });
      for (const n of await d.client.networks.list())
        if (!['bridge', 'host', 'none'].includes(n.Name ?? ''))
          await d.client.networks.remove(n.Id ?? n.Name ?? '');
      for (const v of (await d.client.volumes.list()).Volumes ?? []) await d.client.volumes.remove(v.Name);
    },
    cmd(args, opts = {}) {
      const [bin = '', ...pre] = s.cli.argv;
      return result(
        spawnSync(bin, [...pre, ...args], {
          ...spawnOpts,
          input: opts.input ?? '',
          encoding: 'utf8',
          timeout: opts.timeoutMs ?? 60_000,
        }),
      );
    },
    docker(args, opts = {}) {
      const cli = s.cli;
      s.cli = docker;
      try {
        return s.cmd(args, opts);
      } finally {
        s.cli = cli;
      }
    },
    ok(args, opts = {}) {
      const r = s.cmd(args, opts);
      if (r.status !== 0)
        throw new Error(`${s.cli.name} ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
      return r.stdout.trim();
    },
    spawn(args) {
      const [bin = '', ...pre] = s.cli.argv;
      return spawn(bin, [...pre, ...args], spawnOpts);
    },
    cmdAsync(args, opts = {}) {
      return new Promise<Result>((resolve) => {
        const child = s.spawn(args);
        let stdout = '';
        let stderr = '';
        child.stdout?.on('data', (b: Buffer) => {
          stdout += b.toString();
        });
        child.stderr?.on('data', (b: Buffer) => {
          stderr += b.toString();
        });
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          resolve({ status: code ?? -1, stdout, stderr });
        });
        child.stdin?.end(opts.input ?? '');
      });
    },
    inPty(args, opts = {}) {
      // stdin stays open until the CLI exits, as a terminal's does: at EOF script(1) would type into it.
      const line = [...s.cli.argv, ...args].map(shellQuote).join(' ');
      return new Promise<Result>((resolve) => {
        const child = spawn('script', ['-qec', line, '/dev/null'], {
          ...spawnOpts,
          env: { ...d.env, TERM: 'xterm' },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (b: Buffer) => {
          stdout += b.toString();
        });
        child.stderr.on('data', (b: Buffer) => {
          stderr += b.toString();
        });
        if (opts.input) child.stdin.write(opts.input);
        const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
        child.on('close', (code) => {
          clearTimeout(timer);
          child.stdin.destroy();
          resolve({ status: code ?? -1, stdout: stdout.replace(/\r/g, ''), stderr });
        });
      });
    },
    async close() {
      await d.stop();
      t.cleanup();
    },
  };
  try {
    const rootfs = join(t.path, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    const tar = join(t.path, 'busybox.tar');
    const tr = spawnSync('tar', ['-C', rootfs, '-cf', tar, '.']);
    if (tr.status !== 0) throw new Error(`tar: ${tr.stderr}`);
    s.ok(['import', '-c', 'CMD ["sh"]', tar, 'busybox:latest']);
  } catch (err) {
    await d.stop();
    t.cleanup();
    throw err;
  }
  return s;
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
