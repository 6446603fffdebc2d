// A private Docker daemon for tests that check berth's client (or behaviour) against the real thing.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

export interface PrivateDockerd {
  dir: string;
  socketPath: string;
  host: string;
  stop(): Promise<void>;
}

/**
 * Starts dockerd with its own data/exec roots under a short /tmp path (socket paths are limited to 108
 * bytes); `dataRoot` puts its data elsewhere (the caller's to clean up).
 */
export async function startDockerd(opts: { dataRoot?: string } = {}): Promise<PrivateDockerd> {
  const dir = mkdtempSync('/tmp/bdk-');
  const socketPath = join(dir, 'd.sock');
  const child: ChildProcess = spawn(
    'dockerd',
    [
      '--data-root',
      opts.dataRoot ?? join(dir, 'root'),
      '--exec-root',
      join(dir, 'exec'),
      '--pidfile',
      join(dir, 'd.pid'),
      '-H',
      `unix://${socketPath}`,
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (b: Buffer) => {
    log = (log + b.toString()).slice(-8000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    // dockerd unmounts on a clean stop; make sure nothing is left mounted below the test dir.
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(dir))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) {
      try {
        execFileSync('umount', ['-l', m]);
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break;
    if (existsSync(socketPath)) return { dir, socketPath, host: `unix://${socketPath}`, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new Error(`dockerd did not start:\n${log}`);
}
