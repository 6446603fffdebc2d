// Interop with the real thing: images saved by berth load and run in a private dockerd (20.10) and in
// podman; images saved by Docker load into berth with the same IDs and diffIDs.
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageService } from '../../../src/images/index.js';
import { debianImageTar } from '../../helpers/debian-image.js';
import { haveCommand, isRoot, tempDir } from '../../helpers/index.js';

const DOCKER = '/usr/bin/docker';
let t: { path: string; cleanup: () => void };
let svc: ImageService;
let dockerd: ChildProcess | undefined;
let dockerSkip: string | false = false;
let sock = '';

function docker(args: string[], input?: Buffer): string {
  return execFileSync(DOCKER, args, {
    env: { ...process.env, DOCKER_HOST: `unix://${sock}` },
    input,
    stdio: ['pipe', 'pipe', 'pipe'],
  }).toString();
}

before(async () => {
  t = tempDir('berth-interop-');
  svc = new ImageService(join(t.path, 'berth'));
  await svc.init();
  await svc.bootstrapBusybox('busybox:latest');
  if (!isRoot()) dockerSkip = 'needs root';
  else if (!haveCommand('dockerd') || !existsSync(DOCKER))
    dockerSkip = 'dockerd or /usr/bin/docker not installed';
  if (dockerSkip) return;
  const d = join(t.path, 'docker');
  sock = join(d, 'docker.sock');
  dockerd = spawn(
    'dockerd',
    [
      '--data-root',
      join(d, 'data'),
      '--exec-root',
      join(d, 'exec'),
      '--pidfile',
      join(d, 'pid'),
      '-H',
      `unix://${sock}`,
      '--bridge=none',
      '--iptables=false',
      '--ip-masq=false',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  dockerd.stderr!.on('data', (b: Buffer) => {
    log += b.toString();
  });
  for (let i = 0; i < 60; i++) {
    if (existsSync(sock)) {
      try {
        docker(['version']);
        return;
      } catch {}
    }
    if (dockerd.exitCode !== null) break;
    await sleep(500);
  }
  dockerSkip = `private dockerd did not start: ${log.trim().split('\n').slice(-3).join(' | ')}`;
});

after(async () => {
  if (dockerd && dockerd.exitCode === null) {
    dockerd.kill('SIGTERM');
    for (let i = 0; i < 40 && dockerd.exitCode === null; i++) await sleep(250);
    if (dockerd.exitCode === null) dockerd.kill('SIGKILL');
  }
  // dockerd leaves overlay mounts behind if it died hard.
  try {
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '');
    for (const m of mounts.filter((m) => m.startsWith(t.path)).reverse()) execFileSync('umount', ['-l', m]);
  } catch {}
  t.cleanup();
});

test('berth-saved images load and run in docker (docker-archive and OCI)', async (c) => {
  if (dockerSkip) return c.skip(dockerSkip);
  const id = svc.resolve('busybox').id;
  for (const format of ['docker', 'oci'] as const) {
    const tar = join(t.path, `bb-${format}.tar`);
    await pipeline(await svc.save(['busybox'], format), createWriteStream(tar));
    assert.match(docker(['load', '-i', tar]), /Loaded image: busybox:latest/);
    assert.equal(docker(['image', 'inspect', '-f', '{{.Id}}', 'busybox']).trim(), id);
    assert.equal(
      docker(['run', '--rm', '--network', 'none', 'busybox', 'echo', `hello ${format}`]).trim(),
      `hello ${format}`,
    );
    docker(['rmi', 'busybox']);
  }
});

test('docker-saved images load into berth with the same IDs and diffIDs, and go back', async (c) => {
  if (dockerSkip) return c.skip(dockerSkip);
  const bb = join(t.path, 'bb.tar');
  await pipeline(await svc.save(['busybox']), createWriteStream(bb));
  docker(['load', '-i', bb]);
  // A second layer made by Docker itself.
  const cid = docker([
    'create',
    '--network',
    'none',
    'busybox',
    'sh',
    '-c',
    'echo docker-layer > /from-docker; mkdir -p /d/e; rm /bin/vi',
  ]).trim();
  docker(['start', '-a', cid]);
  docker(['commit', '-c', 'CMD ["cat", "/from-docker"]', cid, 'fromdocker:v2']);
  docker(['rm', cid]);
  const dockerId = docker(['image', 'inspect', '-f', '{{.Id}}', 'fromdocker:v2']).trim();
  const dockerLayers = docker(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'fromdocker:v2']).trim();
  const saved = join(t.path, 'fromdocker.tar');
  docker(['save', '-o', saved, 'fromdocker:v2']);

  const res = await svc.load(createReadStream(saved));
  assert.deepEqual(res.loaded, ['Loaded image: fromdocker:v2']);
  const ins = await svc.inspect('fromdocker:v2');
  assert.equal(ins.Id, dockerId);
  assert.deepEqual(ins.RootFS.Layers, JSON.parse(dockerLayers));
  assert.deepEqual(ins.Config.Cmd, ['cat', '/from-docker']);

  // Round trip back into a fresh name.
  docker(['rmi', 'fromdocker:v2']);
  const back = join(t.path, 'back.tar');
  await pipeline(await svc.save(['fromdocker:v2']), createWriteStream(back));
  docker(['load', '-i', back]);
  assert.equal(docker(['image', 'inspect', '-f', '{{.Id}}', 'fromdocker:v2']).trim(), dockerId);
  assert.equal(docker(['run', '--rm', '--network', 'none', 'fromdocker:v2']).trim(), 'docker-layer');
  // The whiteout of /bin/vi survived both trips.
  assert.equal(
    docker([
      'run',
      '--rm',
      '--network',
      'none',
      'fromdocker:v2',
      'sh',
      '-c',
      'test -e /bin/vi && echo present || echo gone',
    ]).trim(),
    'gone',
  );
});

test('the bootstrapped Debian image runs in docker', async (c) => {
  if (dockerSkip) return c.skip(dockerSkip);
  const cached = await debianImageTar('bookworm');
  await svc.load(createReadStream(cached));
  const tar = join(t.path, 'debian.tar');
  await pipeline(await svc.save(['debian:bookworm']), createWriteStream(tar));
  docker(['load', '-i', tar]);
  assert.match(
    docker(['run', '--rm', '--network', 'none', 'debian:bookworm', 'cat', '/etc/debian_version']),
    /^12\./,
  );
  assert.match(
    docker(['run', '--rm', '--network', 'none', 'debian:bookworm', 'dpkg-query', '-W', 'bash']),
    /^bash\t/,
  );
});

test('berth-saved images load and run in podman', async (c) => {
  if (!isRoot()) return c.skip('needs root');
  if (!haveCommand('podman')) return c.skip('podman not installed');
  const p = join(t.path, 'podman');
  const base = [
    '--root',
    join(p, 'root'),
    '--runroot',
    join(p, 'run'),
    '--storage-driver',
    'overlay',
    '--runtime',
    'runc',
    '--cgroup-manager',
    'cgroupfs',
    '--events-backend',
    'file',
  ];
  const podman = (args: string[]) =>
    execFileSync('podman', [...base, ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  try {
    for (const format of ['oci', 'docker'] as const) {
      const tar = join(t.path, `pm-${format}.tar`);
      await pipeline(await svc.save(['busybox'], format), createWriteStream(tar));
      assert.match(podman(['load', '-i', tar]), /Loaded image/);
      // This host's hard RLIMIT_NOFILE is below podman's default, so ask for limits we may set.
      const out = podman([
        'run',
        '--rm',
        '--network',
        'none',
        '--ulimit',
        'nofile=1024:1024',
        '--ulimit',
        'nproc=1024:1024',
        'busybox',
        'echo',
        `podman ${format}`,
      ]);
      assert.equal(out.trim(), `podman ${format}`);
      podman(['rmi', '-a', '-f']);
    }
  } finally {
    try {
      podman(['rmi', '-a', '-f']);
      execFileSync('podman', [...base, 'system', 'reset', '-f'], { stdio: 'ignore' });
    } catch {}
  }
});
