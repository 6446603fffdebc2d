// `berth build` against a private berth daemon: client-side context (.dockerignore, -f outside the
// context, -f -, context on stdin), -q/--iidfile, --check, labels, targets, and the instructions the
// executor implements beyond the basics (cache mounts, heredocs, --chown/--chmod, ONBUILD, ADD tar).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestDaemon } from '../helpers/daemon.js';
import { berthArgv, haveCommand, isRoot, tempDir } from '../helpers/index.js';
import { DOCKER, daemonWithBusybox, runTool, writeContext } from '../integration/build/helpers.js';

const skip = !isRoot()
  ? 'needs root'
  : !haveCommand('runc') || !haveCommand('conmon') || !existsSync(DOCKER) || !existsSync('/bin/busybox')
    ? 'needs runc, conmon, the docker CLI and busybox-static'
    : undefined;

describe('berth build', { skip }, () => {
  let d: TestDaemon;
  const tmp = tempDir('berth-build-cli-');
  const berth = (args: string[], input?: string | Buffer) =>
    runTool(process.execPath, [...berthArgv(), ...args], d.env, { input });
  const docker = (args: string[]) => runTool(DOCKER, args, d.env);
  const ctx = (name: string, files: Record<string, string>) => {
    const dir = join(tmp.path, name);
    writeContext(dir, files);
    return dir;
  };
  const out = async (image: string, cmd: string[]) => {
    const r = await docker(['run', '--rm', image, ...cmd]);
    assert.equal(r.status, 0, r.stderr);
    return r.stdout;
  };

  before(async () => {
    d = await daemonWithBusybox();
  });
  after(async () => {
    await d?.stop();
    tmp.cleanup();
  });

  test('several tags, .dockerignore, -q and --iidfile', async () => {
    const dir = ctx('basic', {
      Dockerfile: 'FROM busybox\nCOPY . /ctx/\nCMD ["ls", "-A", "/ctx"]\n',
      'keep.txt': 'k',
      'secret.env': 'TOKEN=1',
      'logs/a.log': 'x',
      '.dockerignore': 'secret.env\nlogs\n',
    });
    const iid = join(tmp.path, 'iid');
    const r = await berth(['build', '-q', '--iidfile', iid, '-t', 'bb-basic:1', '-t', 'bb-basic:2', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^sha256:[0-9a-f]{64}\n$/);
    assert.equal(readFileSync(iid, 'utf8'), r.stdout.trim());
    const listing = (await out('bb-basic:2', [])).split('\n').filter(Boolean).sort();
    assert.deepEqual(listing, ['.dockerignore', 'Dockerfile', 'keep.txt']);
    const ids = await docker(['inspect', '--format', '{{.Id}}', 'bb-basic:1', 'bb-basic:2']);
    assert.deepEqual(ids.stdout.trim().split('\n'), [r.stdout.trim(), r.stdout.trim()]);
  });

  test('-f outside the context, -f - and a context tar on stdin', async () => {
    const dir = ctx('outside', { 'data.txt': 'data\n' });
    const dockerfile = join(tmp.path, 'Elsewhere.Dockerfile');
    writeFileSync(dockerfile, 'FROM busybox\nCOPY data.txt /data.txt\n');
    let r = await berth(['build', '-f', dockerfile, '-t', 'bb-out:1', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await out('bb-out:1', ['cat', '/data.txt']), 'data\n');

    r = await berth(['build', '-f', '-', '-t', 'bb-out:2', dir], 'FROM busybox\nRUN echo piped > /p\n');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await out('bb-out:2', ['cat', '/p']), 'piped\n');

    const tarDir = ctx('tarctx', { Dockerfile: 'FROM busybox\nCOPY f /f\n', f: 'from tar\n' });
    const tar = execFileSync('tar', ['-C', tarDir, '-cf', '-', '.']);
    r = await berth(['build', '-t', 'bb-out:3', '-'], tar);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(await out('bb-out:3', ['cat', '/f']), 'from tar\n');
  });

  test('--check prints the build checks and fails when there are any; warnings precede a build', async () => {
    const dir = ctx('check', {
      Dockerfile: 'FROM busybox AS one\nrun true\nFROM busybox\nCOPY --from=one /bin/sh /x\n',
    });
    let r = await berth(['build', '--check', dir]);
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /Dockerfile:2: .*\(ConsistentInstructionCasing\)/);
    assert.match(r.stdout, /Check complete, \d+ warnings? ha(s|ve) been found!/);
    const clean = ctx('check-clean', { Dockerfile: '# check=skip=all\nFROM busybox\n' });
    r = await berth(['build', '--check', clean]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /no warnings found/);
    r = await berth(['build', dir]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /WARNING: Dockerfile:2: .*ConsistentInstructionCasing/);
  });

  test('--label, --target and --build-arg', async () => {
    const dir = ctx('target', {
      Dockerfile:
        'FROM busybox AS dev\nARG MODE\nRUN echo "dev $MODE" > /mode\nFROM busybox AS prod\nRUN echo prod > /mode\n',
    });
    const r = await berth([
      'build',
      '--target',
      'dev',
      '--build-arg',
      'MODE=x',
      '--label',
      'team=core',
      '-t',
      'bb-t:1',
      dir,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /echo prod/);
    assert.equal(await out('bb-t:1', ['cat', '/mode']), 'dev x\n');
    const labels = await docker(['inspect', '--format', '{{json .Config.Labels}}', 'bb-t:1']);
    assert.deepEqual(JSON.parse(labels.stdout), { team: 'core' });
  });

  test('RUN --mount=type=cache persists between builds and stays out of the image', async () => {
    const dir = ctx('cachemount', {
      Dockerfile:
        'FROM busybox\nRUN --mount=type=cache,target=/cache,id=bb-test echo run >> /cache/log && wc -l < /cache/log > /count\n',
    });
    let r = await berth(['build', '--no-cache', '-t', 'bb-cm:1', dir]);
    assert.equal(r.status, 0, r.stderr);
    r = await berth(['build', '--no-cache', '-t', 'bb-cm:2', dir]);
    assert.equal(r.status, 0, r.stderr);
    const first = Number((await out('bb-cm:1', ['cat', '/count'])).trim());
    const second = Number((await out('bb-cm:2', ['cat', '/count'])).trim());
    assert.equal(second, first + 1);
    assert.equal(await out('bb-cm:2', ['sh', '-c', 'ls -A /cache 2>/dev/null | wc -l']), '0\n');
  });

  test('RUN --mount=type=secret: the secret is readable in RUN and nowhere in the image', async () => {
    const secretFile = join(tmp.path, 'token.txt');
    writeFileSync(secretFile, 's3cr3t-value');
    const dir = ctx('secret', {
      Dockerfile:
        'FROM busybox\nRUN --mount=type=secret,id=tok,required=true wc -c < /run/secrets/tok > /ok\n',
    });
    let r = await berth(['build', '--secret', `id=tok,src=${secretFile}`, '-t', 'bb-sec:1', dir]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal((await out('bb-sec:1', ['cat', '/ok'])).trim(), '12');
    assert.equal(
      await out('bb-sec:1', ['sh', '-c', 'test -e /run/secrets/tok && echo leaked || echo absent']),
      'absent\n',
    );
    const history = await docker(['history', '--no-trunc', 'bb-sec:1']);
    const inspect = await docker(['inspect', 'bb-sec:1']);
    assert.ok(!history.stdout.includes('s3cr3t') && !inspect.stdout.includes('s3cr3t'));
    r = await berth(['build', '--no-cache', dir]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /secret tok not found/);
  });

  test('heredocs, COPY --chown/--chmod, WORKDIR and ADD of a local tar', async () => {
    const dir = ctx('instr', {
      Dockerfile: [
        'FROM busybox',
        'WORKDIR /w/sub',
        'RUN <<EOF',
        'echo one > /h1',
        'echo two >> /h1',
        'EOF',
        'COPY <<EOF /etc/app.conf',
        'key=value',
        'EOF',
        'COPY --chown=1000:2000 --chmod=0640 f.txt ./',
        'ADD pack.tar /unpacked/',
        'RUN pwd > /wd',
      ].join('\n'),
      'f.txt': 'f\n',
    });
    const packDir = ctx('packsrc', { 'inner/x.txt': 'x\n' });
    execFileSync('tar', ['-C', packDir, '-cf', join(dir, 'pack.tar'), 'inner']);
    const r = await berth(['build', '-t', 'bb-i:1', dir]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.equal(await out('bb-i:1', ['cat', '/h1']), 'one\ntwo\n');
    assert.equal(await out('bb-i:1', ['cat', '/etc/app.conf']), 'key=value\n');
    assert.equal(await out('bb-i:1', ['stat', '-c', '%u:%g %a', '/w/sub/f.txt']), '1000:2000 640\n');
    assert.equal(await out('bb-i:1', ['cat', '/unpacked/inner/x.txt']), 'x\n');
    assert.equal(await out('bb-i:1', ['cat', '/wd']), '/w/sub\n');
  });

  test('ONBUILD triggers run in the child build and are not inherited further', async () => {
    const base = ctx('onbuild-base', { Dockerfile: 'FROM busybox\nONBUILD RUN echo triggered > /trig\n' });
    let r = await berth(['build', '-t', 'bb-ob:base', base]);
    assert.equal(r.status, 0, r.stderr);
    const child = ctx('onbuild-child', { Dockerfile: 'FROM bb-ob:base\nRUN cat /trig\n' });
    r = await berth(['build', '-t', 'bb-ob:child', child]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Executing build trigger/);
    assert.equal(await out('bb-ob:child', ['cat', '/trig']), 'triggered\n');
    const ob = await docker(['inspect', '--format', '{{json .Config.OnBuild}}', 'bb-ob:child']);
    assert.match(ob.stdout.trim(), /^(null|\[\])$/);
  });

  test('bad API input: malformed buildargs, secrets header and context tar are 400s', async () => {
    const tar = execFileSync('tar', ['-C', ctx('api', { Dockerfile: 'FROM busybox\n' }), '-cf', '-', '.']);
    const status = async (
      query: Record<string, string>,
      body: Buffer,
      headers: Record<string, string> = {},
    ) => {
      try {
        const res = await d.client.request('POST', '/build', {
          query,
          body,
          headers: { 'Content-Type': 'application/x-tar', ...headers },
        });
        res.stream.resume();
        return res.status;
      } catch (err) {
        return (err as { status: number }).status;
      }
    };
    assert.equal(await status({ buildargs: '{not json' }, tar), 400);
    assert.equal(await status({ buildargs: '{"A": 1}' }, tar), 400);
    assert.equal(await status({ t: 'UPPER/Case:x:y' }, tar), 400);
    assert.equal(await status({}, tar, { 'X-Berth-Build-Secrets': 'bm90IGpzb24=' }), 400);
    assert.equal(
      await status({}, Buffer.from('this is not a tar archive at all, just text'.repeat(20))),
      400,
    );
    assert.equal(await status({}, tar), 200);
  });

  test('bad input: missing context, a failing RUN exit code, an ADD --checksum mismatch', async () => {
    let r = await berth(['build', join(tmp.path, 'does-not-exist')]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /path .* not found/);
    const fail = ctx('fail', { Dockerfile: 'FROM busybox\nRUN exit 4\n' });
    r = await berth(['build', fail]);
    assert.equal(r.status, 4);
    assert.match(r.stderr, /The command '\/bin\/sh -c exit 4' returned a non-zero code: 4/);
    const sum = ctx('checksum', {
      Dockerfile:
        'FROM busybox\nADD --checksum=sha256:0000000000000000000000000000000000000000000000000000000000000000 f /f\n',
      f: 'x',
    });
    r = await berth(['build', sum]);
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /Dockerfile:2: ADD --checksum: digest mismatch for f: expected sha256:0{64}, got sha256:2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881/,
    );
  });
});
