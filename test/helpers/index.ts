// Shared test helpers: temporary directories that clean themselves up, a busybox root filesystem, and a
// runner for CLIs.
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under /tmp (or `base`), removed by the returned cleanup. */
export function tempDir(prefix = 'berth-test-', base = tmpdir()): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(base, prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export const BUSYBOX = '/bin/busybox';

/** Writes a minimal root filesystem with the host's busybox-static and its applet links into `dir`. */
export function makeBusyboxRootfs(dir: string): void {
  if (!existsSync(BUSYBOX))
    throw new Error('busybox-static is not installed (apt-get install busybox-static)');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var', 'usr/bin', 'usr/sbin', 'sbin']) {
    mkdirSync(join(dir, d), { recursive: true });
  }
  copyFileSync(BUSYBOX, join(dir, 'bin/busybox'));
  execFileSync('chmod', ['0755', join(dir, 'bin/busybox')]);
  const applets = execFileSync(BUSYBOX, ['--list']).toString().trim().split('\n');
  for (const applet of applets) {
    const link = join(dir, 'bin', applet);
    if (applet !== 'busybox' && !existsSync(link)) symlinkSync('busybox', link);
  }
  writeFileSync(
    join(dir, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  );
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** True when a command is on PATH. */
export function haveCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const REPO_ROOT = join(import.meta.dirname, '../..');

/**
 * The node arguments that run the berth CLI: the compiled one when BERTH_TEST_DIST=1 (`npm test` builds
 * first and sets it; starting it is several times faster than compiling through tsx), else the sources.
 */
export function berthArgv(): string[] {
  if (process.env.BERTH_TEST_DIST === '1') return [join(REPO_ROOT, 'dist/src/cli/main.js')];
  return ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts')];
}

export interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a CLI to its end and never throws: tests assert on status, stdout and stderr. stdin gets `input`
 * (or the file `inputFile`), else it is closed at once; after `timeoutMs` the process is killed.
 */
export function runTool(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { input?: string | Buffer; inputFile?: string; cwd?: string; timeoutMs?: number } = {},
): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, cwd: opts.cwd ?? REPO_ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += b.toString();
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ status: code ?? -1, stdout, stderr });
    });
    child.stdin.on('error', () => {});
    if (opts.inputFile) createReadStream(opts.inputFile).pipe(child.stdin);
    else child.stdin.end(opts.input ?? '');
  });
}
