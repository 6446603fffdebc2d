// berth compose end to end against a private berth daemon: a three-service project (httpd with a published
// port and a health check, a worker waiting for it to be healthy, a one-shot job it waits for), convergence
// by config-hash, scaling, named volumes across down/up, and bad input refused before anything is made.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EngineClient } from '../../src/client/index.js';
import { berthArgv } from '../helpers/index.js';
import { type Suite, setUp, skipReason } from './docker-cli-lib.js';

// Resolved here so the CLI can run with any working directory.
const TSX = import.meta.resolve('tsx');
// The CLI with tsx resolved from here: these tests run it from other working directories.
const BERTH = berthArgv().map((a) => (a === 'tsx' ? TSX : a));
const skip = skipReason();
let s: Suite;
const PROJECT = `bc${Math.random().toString(16).slice(2, 8)}`;
const PORT = 20000 + Math.floor(Math.random() * 20000);
let dir: string;

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

function compose(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Result {
  const r = spawnSync(process.execPath, [...BERTH, 'compose', ...args], {
    cwd: opts.cwd ?? dir,
    env: { ...s.d.env, ...opts.env },
    encoding: 'utf8',
    timeout: 180_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function ok(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Result {
  const r = compose(args, opts);
  if (r.status !== 0)
    throw new Error(`compose ${args.join(' ')} exited ${r.status}:\n${r.stderr}\n${r.stdout}`);
  return r;
}

const COMPOSE_YAML = `
services:
  job:
    image: busybox:latest
    command: sh -c 'echo hello > /www/index.html && echo job done'
    volumes: [data:/www]
  web:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    ports: ["${PORT}:8080"]
    volumes:
      - type: volume
        source: data
        target: /www
    depends_on:
      job: { condition: service_completed_successfully }
    healthcheck:
      test: ["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]
      interval: 1s
      retries: 30
  worker:
    image: busybox:latest
    command: sleep 3600
    environment:
      GREETING: \${GREETING:-hi}
    depends_on:
      web: { condition: service_healthy }
volumes:
  data: {}
`;

async function projectResources(project: string) {
  const label = [`com.docker.compose.project=${project}`];
  return {
    containers: await api((c) => c.containers.list({ all: true, filters: { label } })),
    networks: await api((c) => c.networks.list({ filters: { label } })),
    volumes: (await api((c) => c.volumes.list({ filters: { label } }))).Volumes ?? [],
  };
}

async function ids(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const c of (await projectResources(PROJECT)).containers)
    out[(c.Names?.[0] ?? '').replace(/^\//, '')] = c.Id as string;
  return out;
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
  if (skip) return;
  s = await setUp();
  dir = join(s.tmp, 'proj');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'compose.yaml'), COMPOSE_YAML);
});

after(async () => {
  if (skip) return;
  compose(['-p', PROJECT, 'down', '-v', '-t', '1']);
  await s.close();
});

test('up -d starts the project in dependency order with compose labels', { skip }, async () => {
  const r = ok(['-p', PROJECT, 'up', '-d']);
  assert.match(r.stderr, new RegExp(`Network ${PROJECT}_default  Created`));
  assert.match(r.stderr, new RegExp(`Volume ${PROJECT}_data  Created`));
  assert.match(r.stderr, new RegExp(`Container ${PROJECT}-web-1  Healthy`));
  const res = await projectResources(PROJECT);
  assert.equal(res.containers.length, 3);
  assert.deepEqual(
    res.networks.map((n) => n.Name),
    [`${PROJECT}_default`],
  );
  assert.equal(res.networks[0]?.Labels?.['com.docker.compose.network'], 'default');
  assert.deepEqual(
    res.volumes.map((v) => v.Name),
    [`${PROJECT}_data`],
  );
  const web = res.containers.find((c) => c.Labels?.['com.docker.compose.service'] === 'web');
  assert.equal(web?.Labels?.['com.docker.compose.container-number'], '1');
  assert.equal(web?.Labels?.['com.docker.compose.oneoff'], 'False');
  assert.match(web?.Labels?.['com.docker.compose.config-hash'] ?? '', /^[0-9a-f]{64}$/);
  assert.equal(web?.Labels?.['com.docker.compose.project.working_dir'], dir);
  const job = res.containers.find((c) => c.Labels?.['com.docker.compose.service'] === 'job');
  assert.equal(job?.State, 'exited');
  const worker = res.containers.find((c) => c.Labels?.['com.docker.compose.service'] === 'worker');
  assert.equal(worker?.State, 'running');
});

test('ps, logs, exec, port and top', { skip }, () => {
  const ps = ok(['-p', PROJECT, 'ps']).stdout;
  assert.match(ps, /^NAME\s+IMAGE\s+COMMAND\s+SERVICE\s+CREATED\s+STATUS\s+PORTS/);
  assert.match(ps, new RegExp(`${PROJECT}-web-1 .*0\\.0\\.0\\.0:${PORT}->8080/tcp`));
  assert.doesNotMatch(ps, /-job-1/, 'ps without -a hides the exited job');
  assert.match(ok(['-p', PROJECT, 'ps', '-a']).stdout, new RegExp(`${PROJECT}-job-1`));
  assert.deepEqual(ok(['-p', PROJECT, 'ps', '--services']).stdout.trim().split('\n').sort(), [
    'web',
    'worker',
  ]);
  const json = ok(['-p', PROJECT, 'ps', '--format', 'json'])
    .stdout.trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.equal(json.length, 2);
  assert.equal(ok(['-p', PROJECT, 'ps', '-q']).stdout.trim().split('\n').length, 2);
  assert.match(ok(['-p', PROJECT, 'logs', 'job']).stdout, /^job-1 +\| job done$/m);
  assert.equal(ok(['-p', PROJECT, 'exec', '-T', 'web', 'cat', '/www/index.html']).stdout, 'hello\n');
  // The worker reaches web by its service name on the project network.
  assert.equal(
    ok(['-p', PROJECT, 'exec', '-T', 'worker', 'wget', '-q', '-O', '-', 'http://web:8080/']).stdout,
    'hello\n',
  );
  assert.equal(compose(['-p', PROJECT, 'exec', '-T', 'worker', 'sh', '-c', 'exit 3']).status, 3);
  assert.equal(ok(['-p', PROJECT, 'port', 'web', '8080']).stdout.trim(), `0.0.0.0:${PORT}`);
  assert.match(ok(['-p', PROJECT, 'top', 'web']).stdout, /httpd -f -p 8080/);
});

test('up again changes nothing; a changed environment recreates only that service', { skip }, async () => {
  const before = await ids();
  const again = ok(['-p', PROJECT, 'up', '-d']);
  assert.doesNotMatch(again.stderr, /Recreate|Creating/);
  assert.deepEqual(await ids(), before);
  const changed = ok(['-p', PROJECT, 'up', '-d'], { env: { GREETING: 'changed' } });
  assert.match(changed.stderr, new RegExp(`Container ${PROJECT}-worker-1  Recreate`));
  const afterIds = await ids();
  assert.notEqual(afterIds[`${PROJECT}-worker-1`], before[`${PROJECT}-worker-1`]);
  assert.equal(afterIds[`${PROJECT}-web-1`], before[`${PROJECT}-web-1`]);
  assert.equal(afterIds[`${PROJECT}-job-1`], before[`${PROJECT}-job-1`]);
  const env = ok(['-p', PROJECT, 'exec', '-T', 'worker', 'sh', '-c', 'echo $GREETING'], {
    env: { GREETING: 'changed' },
  });
  assert.equal(env.stdout, 'changed\n');
});

test('--scale adds and removes replicas', { skip }, async () => {
  ok(['-p', PROJECT, 'up', '-d', '--scale', 'worker=3', '--no-recreate']);
  let names = Object.keys(await ids()).filter((n) => n.includes('-worker-'));
  assert.deepEqual(
    names.sort(),
    [1, 2, 3].map((i) => `${PROJECT}-worker-${i}`),
  );
  assert.equal(
    ok(['-p', PROJECT, 'exec', '-T', '--index', '3', 'worker', 'hostname']).stdout.trim().length > 0,
    true,
  );
  ok(['-p', PROJECT, 'up', '-d', '--scale', 'worker=1', '--no-recreate']);
  names = Object.keys(await ids()).filter((n) => n.includes('-worker-'));
  assert.deepEqual(names, [`${PROJECT}-worker-1`]);
  const bad = compose(['-p', PROJECT, 'up', '-d', '--scale', 'worker']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--scale: invalid value/);
});

test('run makes a one-off container', { skip }, async () => {
  const r = ok([
    '-p',
    PROJECT,
    'run',
    '--rm',
    '--no-deps',
    '-T',
    '-e',
    'X=42',
    'worker',
    'sh',
    '-c',
    'echo x=$X',
  ]);
  assert.equal(r.stdout, 'x=42\n');
  const left = (await projectResources(PROJECT)).containers.filter(
    (c) => c.Labels?.['com.docker.compose.oneoff'] === 'True',
  );
  assert.equal(left.length, 0, '--rm removed the one-off container');
  const code = compose(['-p', PROJECT, 'run', '--rm', '--no-deps', '-T', 'worker', 'sh', '-c', 'exit 7']);
  assert.equal(code.status, 7);
});

test('named volume data survives down/up; down -v removes everything', { skip }, async () => {
  ok(['-p', PROJECT, 'exec', '-T', 'web', 'sh', '-c', 'echo kept > /www/kept.txt']);
  ok(['-p', PROJECT, 'down', '-t', '1']);
  let res = await projectResources(PROJECT);
  assert.equal(res.containers.length, 0);
  assert.equal(res.networks.length, 0);
  assert.equal(res.volumes.length, 1, 'down without -v keeps the volume');
  ok(['-p', PROJECT, 'up', '-d', 'web']);
  assert.equal(ok(['-p', PROJECT, 'exec', '-T', 'web', 'cat', '/www/kept.txt']).stdout, 'kept\n');
  ok(['-p', PROJECT, 'down', '-v', '-t', '1']);
  res = await projectResources(PROJECT);
  assert.deepEqual([res.containers.length, res.networks.length, res.volumes.length], [0, 0, 0]);
});

test('up without -d streams prefixed logs and returns the exit code with --exit-code-from', { skip }, () => {
  const d = join(s.tmp, 'attach');
  mkdirSync(d, { recursive: true });
  writeFileSync(
    join(d, 'compose.yaml'),
    'services:\n  one:\n    image: busybox:latest\n    command: sh -c "echo from-one; exit 4"\n    network_mode: none\n',
  );
  const r = compose(['-p', `${PROJECT}a`, 'up', '--exit-code-from', 'one'], { cwd: d });
  assert.equal(r.status, 4, r.stderr);
  assert.match(r.stdout, /^one-1 +\| from-one$/m);
  ok(['-p', `${PROJECT}a`, 'down'], { cwd: d });
});

const BAD: [string, string, RegExp][] = [
  ['schema violation', 'services:\n  a:\n    image: busybox\n    ports: {x: 1}\n', /ports/],
  [
    'depends_on cycle',
    'services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n',
    /cycle/,
  ],
  [
    'undefined volume',
    'services:\n  a:\n    image: busybox\n    volumes: ["nope:/x"]\n',
    /undefined volume nope/,
  ],
  [
    'missing required variable',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose interpolation, not a JS template
    'services:\n  a:\n    image: busybox\n    command: echo ${NEEDED:?must be set}\n',
    /NEEDED/,
  ],
];

for (const [what, yaml, message] of BAD)
  test(`bad input is refused before anything is created: ${what}`, { skip }, async () => {
    const name = `${PROJECT}bad${BAD.findIndex((b) => b[0] === what)}`;
    const d = join(s.tmp, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'compose.yaml'), yaml);
    const r = compose(['-p', name, 'up', '-d'], { cwd: d });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, message);
    const res = await projectResources(name);
    assert.deepEqual([res.containers.length, res.networks.length, res.volumes.length], [0, 0, 0]);
  });

test('config prints the loaded model', { skip }, () => {
  assert.deepEqual(ok(['-p', PROJECT, 'config', '--services']).stdout.trim().split('\n'), [
    'job',
    'web',
    'worker',
  ]);
  assert.equal(ok(['-p', PROJECT, 'config', '--volumes']).stdout.trim(), 'data');
  const json = JSON.parse(ok(['-p', PROJECT, 'config', '--format', 'json']).stdout);
  assert.equal(json.name, PROJECT);
  assert.equal(json.services.web.ports[0].published, String(PORT));
  assert.match(compose(['-p', PROJECT, 'config', '--format', 'toml']).stderr, /unsupported format/);
});
