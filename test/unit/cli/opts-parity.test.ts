// buildCreateBody against the real docker CLI: `docker create <flags>` posts its body to a recording server,
// and ours must carry the same values for the fields both set.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Command } from 'commander';
import { addContainerOptions, buildCreateBody, type ContainerFlags } from '../../../src/cli/opts/index.js';
import { tempDir } from '../../helpers/index.js';

const DOCKER = '/usr/local/bin/docker';
const skip = existsSync(DOCKER) ? false : 'docker 28 CLI not installed';

let server: Server;
let socket: string;
let dir: ReturnType<typeof tempDir>;
let lastBody: Record<string, unknown> | undefined;

before(async () => {
  if (skip) return;
  dir = tempDir();
  socket = join(dir.path, 'fake.sock');
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('Api-Version', '1.47');
      res.setHeader('Ostype', 'linux');
      if (req.url?.includes('/containers/create')) {
        lastBody = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        res.writeHead(201, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ Id: 'a'.repeat(64), Warnings: [] }));
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('OK');
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
});

after(() => {
  if (skip) return;
  server.close();
  dir.cleanup();
});

function dockerBody(args: string[]): Promise<Record<string, unknown>> {
  lastBody = undefined;
  return new Promise((resolve, reject) => {
    execFile(
      DOCKER,
      ['create', ...args],
      { env: { ...process.env, DOCKER_HOST: `unix://${socket}`, DOCKER_CONFIG: dir.path } },
      (err, _out, stderr) => {
        if (err || !lastBody) reject(new Error(`docker create failed: ${stderr}`));
        else resolve(lastBody);
      },
    );
  });
}

function ourBody(args: string[]): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  addContainerOptions(new Command('create').argument('<image>').argument('[command...]'))
    .passThroughOptions()
    .exitOverride()
    .action((image: string, command: string[], flags: ContainerFlags) => {
      out = buildCreateBody(flags, image, command) as unknown as Record<string, unknown>;
    })
    .parse(args, { from: 'user' });
  assert.ok(out);
  return out;
}

const CONFIG_KEYS = [
  'Image',
  'Cmd',
  'Entrypoint',
  'Env',
  'User',
  'WorkingDir',
  'Tty',
  'OpenStdin',
  'StdinOnce',
  'AttachStdin',
  'AttachStdout',
  'AttachStderr',
  'Labels',
  'ExposedPorts',
  'Hostname',
  'StopSignal',
  'Healthcheck',
];
const HOST_KEYS = [
  'Binds',
  'NetworkMode',
  'PortBindings',
  'RestartPolicy',
  'AutoRemove',
  'CapAdd',
  'CapDrop',
  'Dns',
  'ExtraHosts',
  'Privileged',
  'ReadonlyRootfs',
  'Tmpfs',
  'Memory',
  'MemorySwap',
  'NanoCpus',
  'CpuShares',
  'PidsLimit',
  'Ulimits',
  'ShmSize',
  'Sysctls',
  'Init',
];

/** Docker omits empty values; compare with empties normalised. */
function norm(v: unknown): unknown {
  if (v === null || v === undefined || v === '' || v === 0 || v === false) return undefined;
  if (Array.isArray(v)) return v.length ? v : undefined;
  if (typeof v === 'object') return Object.keys(v as object).length ? v : undefined;
  return v;
}

const CASES: string[][] = [
  ['busybox'],
  ['--rm', '-it', 'busybox', 'sh', '-c', 'exit 3'],
  ['-e', 'A=1', '-u', '1000', '-w', '/tmp', '-l', 'a=b', '--entrypoint', '/bin/sh', 'busybox', '-c', 'x'],
  ['-p', '8080:80', '-p', '127.0.0.1::53/udp', '--expose', '443', 'busybox'],
  ['-m', '256m', '--cpus', '0.5', '--cpu-shares', '100', '--pids-limit', '50', '--shm-size', '1g', 'busybox'],
  ['--ulimit', 'nofile=100:200', '--restart', 'on-failure:2', '--cap-add', 'NET_ADMIN', 'busybox'],
  ['-v', '/tmp:/t:ro', '--tmpfs', '/run', '--read-only', '--privileged', '--init', 'busybox'],
  ['--network', 'host', '--dns', '1.1.1.1', '--add-host', 'h:1.2.3.4', '-h', 'box', 'busybox'],
  ['--health-cmd', 'true', '--health-interval', '5s', '--stop-signal', 'SIGINT', 'busybox'],
  ['-a', 'stdout', '--sysctl', 'net.ipv4.ip_forward=1', 'busybox'],
];

for (const args of CASES) {
  test(`create ${args.join(' ')}`, { skip }, async () => {
    const theirs = await dockerBody(args);
    const ours = ourBody(args);
    for (const key of CONFIG_KEYS) assert.deepEqual(norm(ours[key]), norm(theirs[key]), `Config.${key}`);
    const th = theirs.HostConfig as Record<string, unknown>;
    const oh = ours.HostConfig as Record<string, unknown>;
    for (const key of HOST_KEYS) assert.deepEqual(norm(oh[key]), norm(th[key]), `HostConfig.${key}`);
  });
}
