// berth compose lifecycle commands against a private berth daemon: create/start/stop/restart/pause/kill/rm,
// images/ls, --force-recreate, orphans, builds, secrets, fixed addresses, and failing dependencies.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EngineClient } from '../../src/client/index.js';
import { berthArgv } from '../helpers/index.js';
import { type Suite, setUp, skipReason } from './docker-cli-lib.js';

const TSX = import.meta.resolve('tsx');
// The CLI with tsx resolved from here: these tests run it from other working directories.
const BERTH = berthArgv().map((a) => (a === 'tsx' ? TSX : a));
const skip = skipReason();
let s: Suite;
const P = `bl${Math.random().toString(16).slice(2, 8)}`;
const SUBNET_OCTET = 100 + Math.floor(Math.random() * 100);

function compose(dir: string, args: string[]) {
  const r = spawnSync(process.execPath, [...BERTH, 'compose', ...args], {
    cwd: dir,
    env: s.d.env,
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}
function ok(dir: string, args: string[]) {
  const r = compose(dir, args);
  if (r.status !== 0)
    throw new Error(`compose ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return r;
}
function project(name: string, files: Record<string, string>): string {
  const dir = join(s.tmp, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, content] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), content);
  }
  return dir;
}
async function states(project: string): Promise<Record<string, string>> {
  const cs = await api((c) =>
    c.containers.list({ all: true, filters: { label: [`com.docker.compose.project=${project}`] } }),
  );
  return Object.fromEntries(cs.map((c) => [(c.Names?.[0] ?? '').slice(1), c.State ?? '']));
}

/** A client per query: a kept-alive socket may have been closed by the daemon while the compose CLI ran. */
async function api<T>(fn: (c: EngineClient) => Promise<T>): Promise<T> {
  const c = new EngineClient({ host: s.d.host });
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

before(async () => {
  if (!skip) s = await setUp();
});
after(async () => {
  if (!skip) await s.close();
});

test('create, start, pause, unpause, stop, restart, kill, rm, images, ls', { skip }, async () => {
  const dir = project('life', {
    'compose.yaml':
      'services:\n  a:\n    image: busybox:latest\n    command: sleep 3600\n    init: true\n  b:\n    image: busybox:latest\n    command: sleep 3600\n    depends_on: [a]\n',
  });
  const p = `${P}life`;
  ok(dir, ['-p', p, 'create']);
  assert.deepEqual(await states(p), { [`${p}-a-1`]: 'created', [`${p}-b-1`]: 'created' });
  ok(dir, ['-p', p, 'start']);
  assert.deepEqual(Object.values(await states(p)), ['running', 'running']);
  ok(dir, ['-p', p, 'pause', 'a']);
  assert.equal((await states(p))[`${p}-a-1`], 'paused');
  ok(dir, ['-p', p, 'unpause', 'a']);
  assert.equal((await states(p))[`${p}-a-1`], 'running');
  ok(dir, ['-p', p, 'stop', '-t', '1', 'b']);
  assert.equal((await states(p))[`${p}-b-1`], 'exited');
  ok(dir, ['-p', p, 'restart', '-t', '1']);
  assert.deepEqual(Object.values(await states(p)), ['running', 'running']);
  const images = ok(dir, ['-p', p, 'images']).stdout;
  assert.match(images, /^CONTAINER\s+REPOSITORY\s+TAG\s+IMAGE ID\s+SIZE/);
  assert.match(images, new RegExp(`${p}-a-1\\s+busybox\\s+latest\\s+[0-9a-f]{12}`));
  assert.match(ok(dir, ['ls']).stdout, new RegExp(`^${p}\\s+running\\(2\\)\\s+${dir}/compose.yaml`, 'm'));
  const before = await api((c) => c.containers.list({ filters: { name: [`${p}-a-1`] } }));
  ok(dir, ['-p', p, 'up', '-d', '--force-recreate', 'a', '--no-deps']);
  const recreated = await api((c) => c.containers.list({ filters: { name: [`${p}-a-1`] } }));
  assert.notEqual(recreated[0]?.Id, before[0]?.Id);
  ok(dir, ['-p', p, 'kill', 'b']);
  await api((c) => c.containers.wait(`${p}-b-1`));
  assert.equal((await states(p))[`${p}-b-1`], 'exited');
  const rm = ok(dir, ['-p', p, 'rm', '-f', 'b']);
  assert.match(rm.stderr, new RegExp(`${p}-b-1  Removed`));
  assert.deepEqual(Object.keys(await states(p)), [`${p}-a-1`]);
  const bad = compose(dir, ['-p', p, 'stop', 'nope']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /no such service: nope/);
  ok(dir, ['-p', p, 'down', '-t', '1']);
  assert.deepEqual(await states(p), {});
});

test('orphans are reported, then removed with --remove-orphans', { skip }, async () => {
  const dir = project('orph', {
    'compose.yaml':
      'services:\n  a:\n    image: busybox:latest\n    command: sleep 3600\n  b:\n    image: busybox:latest\n    command: sleep 3600\n',
  });
  const p = `${P}orph`;
  ok(dir, ['-p', p, 'up', '-d']);
  writeFileSync(
    join(dir, 'compose.yaml'),
    'services:\n  a:\n    image: busybox:latest\n    command: sleep 3600\n',
  );
  const warn = ok(dir, ['-p', p, 'up', '-d']);
  assert.match(warn.stderr, new RegExp(`Found orphan containers \\(${p}-b-1\\)`));
  assert.ok(`${p}-b-1` in (await states(p)));
  ok(dir, ['-p', p, 'up', '-d', '--remove-orphans']);
  assert.deepEqual(Object.keys(await states(p)), [`${p}-a-1`]);
  ok(dir, ['-p', p, 'down', '-t', '1']);
});

test('build, secrets, configs and a fixed address on a project network', { skip }, async () => {
  const dir = project('built', {
    'compose.yaml': `services:
  app:
    build:
      context: ./app
      args: { GREETING: built-ok }
    command: sleep 3600
    secrets: [token]
    configs: [{ source: conf, target: /etc/app.conf }]
    networks:
      net: { ipv4_address: 10.${SUBNET_OCTET}.7.9, aliases: [api] }
secrets:
  token: { file: ./token.txt }
configs:
  conf: { file: ./app.conf }
networks:
  net:
    ipam: { config: [{ subnet: 10.${SUBNET_OCTET}.7.0/24 }] }
`,
    'app/Dockerfile': 'FROM busybox:latest\nARG GREETING\nRUN echo "$GREETING" > /greeting\n',
    'token.txt': 'tok-123\n',
    'app.conf': 'key=value\n',
  });
  const p = `${P}built`;
  ok(dir, ['-p', p, 'up', '-d', '--build']);
  assert.equal(ok(dir, ['-p', p, 'exec', '-T', 'app', 'cat', '/greeting']).stdout, 'built-ok\n');
  assert.equal(ok(dir, ['-p', p, 'exec', '-T', 'app', 'cat', '/run/secrets/token']).stdout, 'tok-123\n');
  assert.equal(ok(dir, ['-p', p, 'exec', '-T', 'app', 'cat', '/etc/app.conf']).stdout, 'key=value\n');
  const ro = compose(dir, ['-p', p, 'exec', '-T', 'app', 'sh', '-c', 'echo x > /run/secrets/token']);
  assert.notEqual(ro.status, 0, 'secrets are read-only');
  const info = await api((c) => c.containers.inspect(`${p}-app-1`));
  const ep = info.NetworkSettings?.Networks?.[`${p}_net`];
  assert.equal(ep?.IPAddress, `10.${SUBNET_OCTET}.7.9`);
  assert.ok(ep?.Aliases?.includes('api') && ep.Aliases.includes('app'));
  const img = await api((c) => c.images.inspect(`${p}-app`));
  assert.equal(img.Config?.Labels?.['com.docker.compose.project'], p);
  ok(dir, ['-p', p, 'down', '--rmi', 'local', '-t', '1']);
  // Through the docker CLI (a fresh connection): the test's own client may hold a keep-alive socket the
  // daemon closed while the compose CLI ran.
  const gone = s.docker(['image', 'inspect', `${p}-app`]);
  assert.notEqual(gone.status, 0);
  assert.match(gone.stderr, /no such image/i);
  const badRmi = compose(dir, ['-p', p, 'down', '--rmi', 'some']);
  assert.match(badRmi.stderr, /--rmi: invalid value "some"/);
});

test('a failing dependency stops up before its dependents start', { skip }, async () => {
  const dir = project('deps', {
    'compose.yaml': `services:
  sick:
    image: busybox:latest
    command: sleep 3600
    healthcheck: { test: ["CMD", "false"], interval: 1s, retries: 2 }
  job:
    image: busybox:latest
    command: sh -c 'exit 3'
  needs-sick:
    image: busybox:latest
    command: sleep 3600
    depends_on: { sick: { condition: service_healthy } }
  needs-job:
    image: busybox:latest
    command: sleep 3600
    depends_on: { job: { condition: service_completed_successfully } }
`,
  });
  const p = `${P}deps`;
  const r = compose(dir, ['-p', p, 'up', '-d']);
  assert.notEqual(r.status, 0);
  assert.match(
    r.stderr,
    new RegExp(`container ${p}-sick-1 is unhealthy|service "job" didn't complete successfully: exit 3`),
  );
  const st = await states(p);
  assert.equal(st[`${p}-needs-sick-1`], 'created');
  assert.equal(st[`${p}-needs-job-1`], 'created');
  ok(dir, ['-p', p, 'down', '-t', '1']);
});

test('dockerfile_inline, volumes_from, depends_on.restart, recreate by rename keeping anonymous volumes', {
  skip,
}, async () => {
  const dir = project('more', {
    'compose.yaml': `services:
  data:
    build:
      context: .
      dockerfile_inline: |
        FROM busybox:latest
        RUN mkdir /shared && echo inline-built > /shared/msg
        VOLUME /shared
    command: sleep 3600
    init: true
    environment: { REV: "\${REV:-1}" }
  reader:
    image: busybox:latest
    command: sleep 3600
    init: true
    volumes_from: ["data:ro"]
    depends_on:
      data: { condition: service_started, restart: true }
  bystander:
    image: busybox:latest
    command: sleep 3600
    init: true
    depends_on: [data]
`,
  });
  const p = `${P}more`;
  const run = (args: string[], env: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [...BERTH, 'compose', '-p', p, ...args], {
      cwd: dir,
      env: { ...s.d.env, ...env },
      encoding: 'utf8',
      timeout: 180_000,
    });
    if (r.status !== 0) throw new Error(`compose ${args.join(' ')} exited ${r.status}:\n${r.stderr}`);
    return r;
  };
  const started = async (svc: string) => {
    const info = await api((c) => c.containers.inspect(`${p}-${svc}-1`));
    return { id: info.Id, at: info.State?.StartedAt };
  };
  run(['up', '-d', '--build']);
  assert.equal(run(['exec', '-T', 'reader', 'cat', '/shared/msg']).stdout, 'inline-built\n');
  const ro = compose(dir, ['-p', p, 'exec', '-T', 'reader', 'sh', '-c', 'echo x > /shared/msg']);
  assert.notEqual(ro.status, 0, 'volumes_from :ro mounts read-only');

  // `restart data` restarts reader (depends_on.restart) but not bystander.
  const before = { reader: await started('reader'), bystander: await started('bystander') };
  run(['restart', '-t', '1', 'data']);
  assert.notEqual((await started('reader')).at, before.reader.at, 'reader restarted with data');
  assert.equal((await started('bystander')).at, before.bystander.at);

  // A changed data service is recreated: a new container under the same name, none left under the
  // temporary name; reader is restarted in place, bystander left alone.
  run(['exec', '-T', 'data', 'sh', '-c', 'echo kept > /shared/extra']);
  const old = await started('data');
  const mid = { reader: await started('reader'), bystander: await started('bystander') };
  const up = run(['up', '-d', '-t', '1'], { REV: '2' });
  assert.match(up.stderr, new RegExp(`Container ${p}-data-1  Recreated`));
  const now = await started('data');
  assert.notEqual(now.id, old.id);
  const names = Object.keys(await states(p)).sort();
  assert.deepEqual(names, [`${p}-bystander-1`, `${p}-data-1`, `${p}-reader-1`]);
  const reader = await started('reader');
  assert.equal(reader.id, mid.reader.id);
  assert.notEqual(reader.at, mid.reader.at, 'reader restarted after data was recreated');
  assert.equal((await started('bystander')).at, mid.bystander.at);
  // The image's anonymous volume (VOLUME /shared) carried over into the new container.
  assert.equal(run(['exec', '-T', 'data', 'cat', '/shared/extra']).stdout, 'kept\n');
  const replaced = await api((c) => c.containers.inspect(`${p}-data-1`));
  assert.equal(replaced.Config?.Labels?.['com.docker.compose.replace'], old.id);

  writeFileSync(
    join(dir, 'compose.yaml'),
    'services:\n  x:\n    build: { context: ., dockerfile: Dockerfile, dockerfile_inline: "FROM busybox:latest" }\n',
  );
  const bad = compose(dir, ['-p', `${p}bad`, 'build']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /dockerfile and dockerfile_inline are mutually exclusive/);
  run(['down', '--rmi', 'local', '-t', '1', '--remove-orphans']);
  assert.deepEqual(await states(p), {});
});
