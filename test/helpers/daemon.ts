// A berth daemon of a test's own: its own data root, socket, bridge, subnet, iptables chains and netns
// prefix, so tests (and a berth or Docker already running here) never see each other's state.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EngineClient } from '../../src/client/index.js';
import { NetworkService } from '../../src/network/index.js';
import { berthArgv, makeBusyboxRootfs, tempDir } from './index.js';

const REPO = join(fileURLToPath(import.meta.url), '../../..');

export interface TestDaemon {
  root: string;
  socket: string;
  /** `unix://…` for DOCKER_HOST / BERTH_HOST. */
  host: string;
  /** Environment for child processes (docker, berth, docker-compose) pointed at this daemon. */
  env: NodeJS.ProcessEnv;
  client: EngineClient;
  logPath: string;
  /** Restarts the daemon process on the same data root (containers keep running meanwhile). */
  restart(): Promise<void>;
  /** Removes every container, network and volume it made, stops it and deletes its files. */
  stop(): Promise<void>;
}

function netSettings() {
  const n = Math.floor(Math.random() * 40);
  const tag = Math.random().toString(16).slice(2, 6);
  return {
    prefix: `bt${tag}`,
    bridge: `bt${tag}0`,
    subnet: `10.${210 + n}.0.0/24`,
    pool: `10.${210 + n}.128.0/17`,
  };
}

async function waitForSocket(client: EngineClient, child: ChildProcess, logPath: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null)
      throw new Error(`berth daemon exited (${child.exitCode}): ${readFileSync(logPath, 'utf8')}`);
    try {
      await client.ping();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`berth daemon did not answer within 20 s: ${readFileSync(logPath, 'utf8')}`);
}

/**
 * `berthArgv`: how to run berth (node arguments before `daemon`); the tree's CLI by default. `dataRoot`:
 * where the daemon keeps its data (the caller's to clean up), for a bench that wants it on a filesystem
 * of its choosing; a directory of the test's own by default.
 */
export async function startTestDaemon(
  opts: { berthArgv?: string[]; dataRoot?: string } = {},
): Promise<TestDaemon> {
  const root = mkdtempSync('/tmp/berth-e2e-');
  const net = netSettings();
  const dataRoot = opts.dataRoot ?? join(root, 'data');
  const execRoot = join(root, 'run');
  const socket = join(root, 'berth.sock');
  const logPath = join(root, 'daemon.log');
  mkdirSync(dataRoot, { recursive: true });
  const args = [
    ...(opts.berthArgv ?? berthArgv()),
    'daemon',
    '--data-root',
    dataRoot,
    '--exec-root',
    execRoot,
    '-H',
    `unix://${socket}`,
    '--bridge',
    net.bridge,
    '--bip',
    net.subnet,
    '--net-prefix',
    net.prefix,
  ];
  let child: ChildProcess;
  const launch = async () => {
    const log = openSync(logPath, 'a');
    child = spawn(process.execPath, args, {
      cwd: REPO,
      stdio: ['ignore', log, log],
      env: { ...process.env, BERTH_NETWORK_POOL: net.pool },
    });
    await waitForSocket(client, child, logPath);
  };
  const host = `unix://${socket}`;
  const client = new EngineClient({ host });
  await launch();
  const stopProcess = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  return {
    root,
    socket,
    host,
    env: { ...process.env, DOCKER_HOST: host, BERTH_HOST: host },
    client,
    logPath,
    async restart() {
      await stopProcess();
      await launch();
    },
    async stop() {
      try {
        for (const c of await client.containers.list({ all: true })) {
          if (c.Id) await client.containers.remove(c.Id, { force: true, volumes: true }).catch(() => {});
        }
        for (const n of await client.networks.list()) {
          if (!['bridge', 'host', 'none'].includes(n.Name ?? ''))
            await client.networks.remove(n.Id!).catch(() => {});
        }
      } catch {
        // the daemon may already be gone; the sweep below still cleans up
      }
      client.close();
      await stopProcess();
      // Whatever the daemon could not clean: our runtime's containers, mounts, netns, chains, bridge.
      const runtimeRoot = join(execRoot, 'runtime');
      if (existsSync(runtimeRoot)) {
        const list = JSON.parse(
          execFileSync('runc', ['--root', runtimeRoot, 'list', '--format', 'json']).toString() || 'null',
        ) as { id: string }[] | null;
        for (const c of list ?? [])
          execFileSync('runc', ['--root', runtimeRoot, 'delete', '--force', c.id], { stdio: 'ignore' });
      }
      const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[4])
        .filter((m): m is string => !!m && (m.startsWith(root) || m.startsWith(`${dataRoot}/`)))
        .sort((a, b) => b.length - a.length);
      for (const m of mounts) execFileSync('umount', ['-l', m], { stdio: 'ignore' });
      await new NetworkService({
        dataRoot,
        runDir: execRoot,
        defaultBridge: net.bridge,
        defaultSubnet: net.subnet,
        pool: net.pool,
        chainPrefix: net.prefix.toUpperCase(),
        netnsPrefix: `${net.prefix}-`,
      })
        .cleanup({ removeRecords: true })
        .catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
}

/** Imports `busybox:latest` (CMD ["sh"]) into a test daemon from a busybox-static root filesystem. */
export async function importBusybox(d: TestDaemon): Promise<void> {
  const tmp = tempDir('berth-bb-');
  try {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    const tar = join(tmp.path, 'bb.tar');
    execFileSync('tar', ['-C', rootfs, '-cf', tar, '.']);
    for await (const _ of d.client.images.import(createReadStream(tar), {
      repo: 'busybox',
      tag: 'latest',
      changes: ['CMD ["sh"]'],
    })) {
      // drain progress
    }
  } finally {
    tmp.cleanup();
  }
}
