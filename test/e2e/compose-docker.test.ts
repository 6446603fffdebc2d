// berth compose against a real Docker daemon (a private dockerd): the engine speaks only the public Engine
// API, so up/ps/down must work there too. That dockerd runs with --bridge=none, so the service uses
// network_mode: none and the project makes no network.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import { EngineClient } from '../../src/client/index.js';
import { berthArgv, haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../helpers/index.js';
import { type PrivateDockerd, startDockerd } from '../integration/client/dockerd.js';

const TSX = import.meta.resolve('tsx');
// The CLI with tsx resolved from here: these tests run it from other working directories.
const BERTH = berthArgv().map((a) => (a === 'tsx' ? TSX : a));
const skip = !isRoot() ? 'needs root' : !haveCommand('dockerd') ? 'needs dockerd' : undefined;
const PROJECT = `bcd${Math.random().toString(16).slice(2, 8)}`;
let dockerd: PrivateDockerd;
let client: EngineClient;
let tmp: { path: string; cleanup: () => void };

function compose(args: string[]) {
  const r = spawnSync(process.execPath, [...BERTH, 'compose', '-p', PROJECT, ...args], {
    cwd: tmp.path,
    env: { ...process.env, DOCKER_HOST: dockerd.host, BERTH_HOST: dockerd.host },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

before(async () => {
  if (skip) return;
  tmp = tempDir('berth-compose-docker-');
  dockerd = await startDockerd();
  client = new EngineClient({ host: dockerd.host });
  for (let i = 0; ; i++) {
    try {
      await client.ping();
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const rootfs = join(tmp.path, 'rootfs');
  mkdirSync(rootfs);
  makeBusyboxRootfs(rootfs);
  const tar = execFileSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
  for await (const _ of client.images.import(Readable.from(tar), {
    repo: 'busybox',
    tag: 'latest',
    changes: ['CMD ["sh"]'],
  }));
  writeFileSync(
    join(tmp.path, 'compose.yaml'),
    'services:\n  app:\n    image: busybox:latest\n    command: sleep 3600\n    network_mode: none\n    environment:\n      MODE: real-docker\n',
  );
});

after(async () => {
  if (skip) return;
  client?.close();
  await dockerd?.stop();
  tmp.cleanup();
});

test('up -d, ps and down against a real Docker daemon', { skip }, async () => {
  const up = compose(['up', '-d']);
  assert.equal(up.status, 0, up.stderr);
  const label = [`com.docker.compose.project=${PROJECT}`];
  const cs = await client.containers.list({ filters: { label } });
  assert.equal(cs.length, 1);
  assert.equal(cs[0]?.Names?.[0], `/${PROJECT}-app-1`);
  assert.equal(cs[0]?.Labels?.['com.docker.compose.service'], 'app');
  assert.equal(cs[0]?.State, 'running');
  const ps = compose(['ps']);
  assert.equal(ps.status, 0, ps.stderr);
  assert.match(ps.stdout, new RegExp(`${PROJECT}-app-1\\s+busybox:latest\\s+"sleep 3600"\\s+app`));
  const again = compose(['up', '-d']);
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /Recreate|Creating/);
  const exec = compose(['exec', '-T', 'app', 'sh', '-c', 'echo $MODE']);
  assert.equal(exec.stdout, 'real-docker\n', exec.stderr);
  const down = compose(['down', '-t', '1']);
  assert.equal(down.status, 0, down.stderr);
  assert.equal((await client.containers.list({ all: true, filters: { label } })).length, 0);
});
