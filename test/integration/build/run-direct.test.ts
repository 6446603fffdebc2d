// RUN steps without a bridge network (--network none|host) run on the OCI runtime directly (no conmon, no
// container record): output, layer contents, user, workdir, cache mounts, a failing step's exit code and
// output, a missing executable, a RUN that runs while the COPY before it commits (output order, contents,
// cache keys, a failure), and nothing left behind (mounts, runtime state, scratch directories).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { TestDaemon } from '../../helpers/daemon.js';
import { isRoot, tempDir } from '../../helpers/index.js';
import { cacheUse, DOCKER, daemonWithBusybox, runTool, writeContext } from './helpers.js';

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

async function build(name: string, dockerfile: string, network = 'none', files: Record<string, string> = {}) {
  const ctx = join(tmp.path, name);
  writeContext(ctx, { Dockerfile: dockerfile, ...files });
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
  // Views, RUN roots and COPY layer directories are gone too (the kept contexts stay).
  const scratch = readdirSync(join(d.root, 'data', 'tmp')).filter(
    (n) => n !== 'build-runtime' && n !== 'build-contexts',
  );
  assert.deepEqual(scratch, []);
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

test('a RUN right after a COPY runs while the COPY commits: output in order, contents, cache', {
  skip,
}, async () => {
  const df = 'FROM busybox\nWORKDIR /app\nCOPY files/ ./\nRUN cat a.txt b.txt > /joined && ls > /list\n';
  const files = { 'files/a.txt': 'alpha\n', 'files/b.txt': 'beta\n' };
  const r = await build('overlap', df, 'none', files);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  // The COPY's image line comes before the RUN's step, as when the steps run one after the other.
  assert.match(r.stdout, /Step 3\/4 : COPY files\/ \.\/\n ---> [0-9a-f]{12}\nStep 4\/4 : RUN cat/);
  assert.match(r.stdout, /Step 4\/4 : RUN [^\n]*\n ---> Running in [0-9a-f]{12}\n/);
  assert.equal(await runIn('run-direct-overlap:1', 'cat /joined /list'), 'alpha\nbeta\na.txt\nb.txt\n');
  const history = execFileSync(
    DOCKER,
    ['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'run-direct-overlap:1'],
    {
      env: env(),
      encoding: 'utf8',
    },
  );
  assert.match(history, /^[^\n]*cat a\.txt b\.txt[^\n]*\n[^\n]*COPY dir:[0-9a-f]+ in \/app\/ *\n/);
  assertNothingLeft();
  // Both steps were cached under the same keys as ever.
  const again = await build('overlap', df, 'none', files);
  assert.equal(again.status, 0, again.stderr + again.stdout);
  assert.deepEqual(
    cacheUse(again.stdout).map((s) => s.cached),
    [false, true, true, true],
  );
  // An edited source rebuilds from the COPY, and the RUN sees the new content.
  const edited = await build('overlap', df, 'none', { ...files, 'files/b.txt': 'gamma\n' });
  assert.equal(edited.status, 0, edited.stderr + edited.stdout);
  assert.deepEqual(
    cacheUse(edited.stdout).map((s) => s.cached),
    [false, true, false, false],
  );
  assert.equal(await runIn('run-direct-overlap:1', 'cat /joined'), 'alpha\ngamma\n');
  assertNothingLeft();
});

test('a failing RUN right after a COPY: its code and output, the COPY committed and cached', {
  skip,
}, async () => {
  const files = { 'files/a.txt': 'alpha\n' };
  const r = await build(
    'overlap-fail',
    'FROM busybox\nCOPY files/ /f/\nRUN cat /f/a.txt && exit 3\n',
    'none',
    files,
  );
  assert.equal(r.status, 3, r.stderr + r.stdout);
  assert.match(
    r.stdout,
    /Step 2\/3 : COPY files\/ \/f\/\n ---> [0-9a-f]{12}\nStep 3\/3 : RUN [^\n]*\n ---> Running in [0-9a-f]{12}\nalpha\n/,
  );
  assert.match(r.stderr, /returned a non-zero code: 3/);
  assertNothingLeft();
  const fixed = await build(
    'overlap-fail',
    'FROM busybox\nCOPY files/ /f/\nRUN cat /f/a.txt > /out\n',
    'none',
    files,
  );
  assert.equal(fixed.status, 0, fixed.stderr + fixed.stdout);
  assert.deepEqual(
    cacheUse(fixed.stdout).map((s) => s.cached),
    [false, true, false],
  );
  assert.equal(await runIn('run-direct-overlap-fail:1', 'cat /out'), 'alpha\n');
  assertNothingLeft();
});

test('a COPY read from the top layers makes the same layer as one through mounted views', {
  skip,
}, async () => {
  // --chown=0:0 (what the COPY makes anyway) keeps a COPY off the top-layer path: the two layers must
  // be the same bytes. The parents (cached, so shared) give the destination unusual metadata.
  const head = [
    'FROM busybox AS s',
    'RUN mkdir -p /d/sub && echo one > /d/one && echo two > /d/sub/two && chmod 600 /d/one',
    'FROM busybox',
    'RUN mkdir -p /opt/app/sub && chmod 750 /opt/app && touch -d "2001-02-03 04:05:06" /opt/app',
    'WORKDIR /opt/app',
  ].join('\n');
  // One context for both builds (rewritten files would get new times, hence other layers).
  const ctx = join(tmp.path, 'toplayer');
  const df = (chown: string) =>
    `${head}\nCOPY ${chown}files/ ./\nCOPY ${chown}--from=s /d/one /d/sub/two ./deep/\n`;
  writeContext(ctx, {
    'files/a.txt': 'alpha\n',
    'files/deep/b.txt': 'beta\n',
    'Dockerfile.fast': df(''),
    'Dockerfile.viewed': df('--chown=0:0 '),
  });
  // The last two layers' entries (type, mode, owner, size, name; the time of files only: a COPY's
  // directory times are those of the second it ran in, either way).
  const layers = async (name: string) => {
    const r = await runTool(
      DOCKER,
      [
        'build',
        '--network',
        'none',
        '-f',
        join(ctx, `Dockerfile.${name}`),
        '-t',
        `run-direct-toplayer:${name}`,
        ctx,
      ],
      env(),
    );
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const saved = join(tmp.path, `toplayer-${name}`);
    mkdirSync(saved);
    execFileSync(DOCKER, ['save', '-o', join(saved, 'image.tar'), `run-direct-toplayer:${name}`], {
      env: env(),
    });
    execFileSync('tar', ['-xf', join(saved, 'image.tar'), '-C', saved]);
    const manifest = JSON.parse(readFileSync(join(saved, 'manifest.json'), 'utf8')) as { Layers: string[] }[];
    return manifest[0]!.Layers.slice(-2).map((l) =>
      execFileSync('tar', ['--full-time', '-tvf', join(saved, l)], { encoding: 'utf8' })
        .split('\n')
        .map((line) => (line.startsWith('d') ? line.replace(/ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d /, ' ') : line)),
    );
  };
  const fast = await layers('fast');
  const viewed = await layers('viewed');
  assert.equal(fast.length, 2);
  assert.deepEqual(fast, viewed);
  assert.match(fast[1]!.join('\n'), /-rw------- 0\/0 +4 [^\n]* opt\/app\/deep\/one/);
  assert.equal(
    await runIn('run-direct-toplayer:fast', 'stat -c %a /opt/app; cat a.txt deep/b.txt deep/one deep/two'),
    '750\nalpha\nbeta\none\ntwo\n',
  );
  assertNothingLeft();
});
