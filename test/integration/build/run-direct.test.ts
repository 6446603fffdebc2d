// RUN steps without a bridge network (--network none|host) run on the OCI runtime directly (no conmon, no
// container record): output, layer contents, user, workdir, cache mounts, a failing step's exit code and
// output, a missing executable, and nothing left behind (mounts, runtime state, scratch directories).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestDaemon } from '../../helpers/daemon.js';
import { isRoot, tempDir } from '../../helpers/index.js';
import { DOCKER, daemonWithBusybox, runTool, writeContext } from './helpers.js';

const skip = !isRoot() && 'needs root';
let d: TestDaemon;
let tmp: { path: string; cleanup: () => void };

before(async () => {
  if (skip) return;
  d = await daemonWithBusybox();
  tmp = tempDir('berth-run-direct-');
});
after(async () => {
  await d?.stop();
  tmp?.cleanup();
});

const env = () => ({ ...d.env, DOCKER_BUILDKIT: '0' });

async function build(name: string, dockerfile: string, network = 'none') {
  const ctx = join(tmp.path, name);
  writeContext(ctx, { Dockerfile: dockerfile });
  return runTool(DOCKER, ['build', '--network', network, '-t', `run-direct-${name}:1`, ctx], env());
}

async function runIn(image: string, script: string): Promise<string> {
  const r = await runTool(DOCKER, ['run', '--rm', '--network', 'none', image, 'sh', '-c', script], env());
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/**
 * Nothing of finished RUN steps is left: no mounts in the daemon's scratch directory (where builds mount
 * their views and RUN roots), no runtime state. (`docker run --rm` containers go on their own time.)
 */
function assertNothingLeft(): void {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .filter((l) => l.split(' ')[1]?.startsWith(join(d.root, 'data', 'tmp')));
  assert.deepEqual(mounts, []);
  const state = join(d.root, 'data', 'tmp', 'build-runtime');
  if (existsSync(state)) assert.deepEqual(readdirSync(state), []);
  const ps = execFileSync(DOCKER, ['ps', '-a', '-q', '--filter', 'label=io.berth.build'], {
    env: env(),
    encoding: 'utf8',
  });
  assert.equal(ps.trim(), '');
}

test('RUN with --network none: output streamed, layer, user, workdir and env', { skip }, async () => {
  const r = await build(
    'ok',
    [
      'FROM busybox',
      'ENV GREETING=hello',
      'WORKDIR /work',
      'RUN echo "$GREETING from $(pwd) as $(id -u)" && echo to-stderr >&2 && echo made > made.txt',
      "RUN echo 'app:x:1234:1234::/home/app:/bin/sh' >> /etc/passwd && mkdir -p /out && chmod 777 /out",
      'USER app',
      'RUN id -u > /out/uid && hostname > /out/host',
      '',
    ].join('\n'),
  );
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /hello from \/work as 0/);
  assert.match(r.stdout, /to-stderr/);
  assert.match(r.stdout, / ---> Running in [0-9a-f]{12}/);
  assert.match(r.stdout, / ---> Removed intermediate container [0-9a-f]{12}/);
  const out = await runIn('run-direct-ok:1', 'cat /work/made.txt /out/uid; ls -a /etc/hostname /etc/hosts');
  assert.match(out, /^made\n1234\n/);
  // The runtime's mount points (hosts, resolv.conf, hostname) are not in the layers.
  const history = execFileSync(DOCKER, ['history', '--no-trunc', '-q', 'run-direct-ok:1'], {
    env: env(),
    encoding: 'utf8',
  });
  assert.ok(history.trim().length > 0);
  const host = await runIn('run-direct-ok:1', 'cat /out/host');
  assert.match(host, /^[0-9a-f]{12}\n$/);
  assertNothingLeft();
});

test('RUN with --network host sees the host name; cache mounts persist across builds', { skip }, async () => {
  const df = [
    'FROM busybox',
    'RUN hostname > /h',
    'RUN --mount=type=cache,target=/cache,id=run-direct-cache echo x >> /cache/log && wc -l < /cache/log > /n',
    '',
  ].join('\n');
  const r = await build('host', df, 'host');
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.equal(await runIn('run-direct-host:1', 'cat /h'), `${hostname()}\n`);
  // The cache mount's target was made for the mount only: it is not in the layer.
  assert.equal(await runIn('run-direct-host:1', 'test -e /cache || echo absent'), 'absent\n');
  // The same cache directory again (a changed Dockerfile forces the step to run).
  const r2 = await build('host2', `${df}RUN true\n`.replace('hostname > /h', 'hostname > /h2'), 'host');
  assert.equal(r2.status, 0, r2.stderr + r2.stdout);
  assert.equal(await runIn('run-direct-host2:1', 'cat /n'), '2\n');
  assertNothingLeft();
});

test('a failing RUN exits with its code and shows its output; nothing is left behind', { skip }, async () => {
  const r = await build('fail', 'FROM busybox\nRUN echo last words && exit 7\n');
  assert.equal(r.status, 7, r.stderr + r.stdout);
  assert.match(r.stdout, /last words/);
  assert.match(r.stderr, /returned a non-zero code: 7/);
  assertNothingLeft();
});

test('a RUN whose executable is missing fails naming it', { skip }, async () => {
  const r = await build('missing', 'FROM busybox\nRUN ["/no/such/tool", "x"]\n');
  assert.notEqual(r.status, 0);
  assert.match(r.stderr + r.stdout, /\/no\/such\/tool/);
  assertNothingLeft();
});
