// `DOCKER_BUILDKIT=0 docker build` (the real docker 28 CLI, legacy builder path) against a private
// berth daemon: multi-stage, cache hits, one-file edits, ARG/ENV, failures, history and inspect.
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestDaemon } from '../helpers/daemon.js';
import { haveCommand, isRoot, tempDir } from '../helpers/index.js';
import { cacheUse, DOCKER, daemonWithBusybox, runTool, writeContext } from '../integration/build/helpers.js';

const skip = !isRoot()
  ? 'needs root'
  : !haveCommand('runc') || !haveCommand('conmon') || !existsSync(DOCKER) || !existsSync('/bin/busybox')
    ? 'needs runc, conmon, the docker CLI and busybox-static'
    : undefined;

const MULTI = `FROM busybox AS base
ARG GREETING=hello
ENV APP_HOME=/app
WORKDIR /app
COPY a.txt ./
COPY b.txt ./
RUN echo "$GREETING from $APP_HOME" > greeting && cat a.txt b.txt > both

FROM busybox AS unused
RUN exit 9

FROM busybox
LABEL org.example.role=demo
EXPOSE 8080/tcp
COPY --from=base /app/greeting /app/both /out/
ENV MODE=prod
USER 1000:1000
STOPSIGNAL SIGTERM
CMD ["cat", "/out/greeting"]
`;

describe('docker build (legacy builder) against berth', { skip }, () => {
  let d: TestDaemon;
  const ctx = tempDir('berth-build-docker-');
  let env: NodeJS.ProcessEnv;
  const docker = (args: string[], input?: string) => runTool(DOCKER, args, env, { input });
  const build = (args: string[], input?: string) => docker(['build', ...args], input);

  before(async () => {
    d = await daemonWithBusybox();
    env = { ...d.env, DOCKER_BUILDKIT: '0' };
    writeContext(ctx.path, { 'a.txt': 'A\n', 'b.txt': 'B\n', Dockerfile: MULTI, 'skip.log': 'x' });
  });
  after(async () => {
    await d?.stop();
    ctx.cleanup();
  });

  test('multi-stage build runs only the stages the target needs and the image works', async () => {
    const r = await build(['-t', 'bt-multi:1', ctx.path]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /Step 1\/\d+ : FROM busybox AS base/);
    assert.doesNotMatch(r.stdout, /exit 9/, 'the unused stage must not run');
    assert.match(r.stdout, / ---> Running in [0-9a-f]{12}\n/);
    assert.match(r.stdout, /Successfully built [0-9a-f]{12}\n/);
    assert.match(r.stdout, /Successfully tagged bt-multi:1\n/);
    const run = await docker(['run', '--rm', 'bt-multi:1']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'hello from /app\n');
    const both = await docker(['run', '--rm', 'bt-multi:1', 'cat', '/out/both']);
    assert.equal(both.stdout, 'A\nB\n');
  });

  test('inspect and history show the config and the legacy builder history', async () => {
    const r = await docker(['inspect', 'bt-multi:1']);
    assert.equal(r.status, 0, r.stderr);
    const [img] = JSON.parse(r.stdout) as {
      Config: {
        Cmd: string[];
        Env: string[];
        Labels: Record<string, string>;
        ExposedPorts: Record<string, object>;
        User: string;
        StopSignal: string;
      };
    }[];
    assert.deepEqual(img!.Config.Cmd, ['cat', '/out/greeting']);
    assert.ok(img!.Config.Env.includes('MODE=prod'));
    assert.ok(!img!.Config.Env.some((e) => e.startsWith('APP_HOME=')), 'ENV of another stage leaked');
    assert.equal(img!.Config.Labels['org.example.role'], 'demo');
    assert.ok('8080/tcp' in img!.Config.ExposedPorts);
    assert.equal(img!.Config.User, '1000:1000');
    assert.equal(img!.Config.StopSignal, 'SIGTERM');
    const h = await docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Size}}', 'bt-multi:1']);
    assert.equal(h.status, 0, h.stderr);
    const lines = h.stdout.trim().split('\n');
    assert.match(lines[0]!, /^\/bin\/sh -c #\(nop\) {2}CMD \["cat" "\/out\/greeting"\]\|0B$/);
    assert.ok(
      lines.some((l) => /^\/bin\/sh -c #\(nop\) COPY (dir|multi|file):[0-9a-f]+ in \/out\/ /.test(l)),
    );
    const base = await docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'bt-multi:1']);
    assert.ok(!base.stdout.includes('exit 9'));
  });

  test('a rebuild uses the cache for every step and yields the same image', async () => {
    const first = await docker(['inspect', '--format', '{{.Id}}', 'bt-multi:1']);
    const r = await build(['-t', 'bt-multi:1', ctx.path]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const steps = cacheUse(r.stdout).filter((s) => !s.step.startsWith('FROM'));
    assert.ok(steps.length > 5);
    assert.ok(
      steps.every((s) => s.cached),
      `not cached: ${steps.filter((s) => !s.cached).map((s) => s.step)}`,
    );
    assert.doesNotMatch(r.stdout, /Running in/);
    const second = await docker(['inspect', '--format', '{{.Id}}', 'bt-multi:1']);
    assert.equal(second.stdout, first.stdout);
  });

  test('editing one file rebuilds only from the COPY that reads it', async () => {
    writeFileSync(join(ctx.path, 'b.txt'), 'B2\n');
    const r = await build(['-t', 'bt-multi:2', ctx.path]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const steps = cacheUse(r.stdout);
    const idx = (p: string) => steps.findIndex((s) => s.step.startsWith(p));
    assert.equal(steps[idx('ARG')]!.cached, true);
    assert.equal(steps[idx('WORKDIR')]!.cached, true);
    assert.equal(steps[idx('COPY a.txt')]!.cached, true);
    assert.equal(steps[idx('COPY b.txt')]!.cached, false);
    assert.equal(steps[idx('RUN echo')]!.cached, false);
    const both = await docker(['run', '--rm', 'bt-multi:2', 'cat', '/out/both']);
    assert.equal(both.stdout, 'A\nB2\n');
  });

  test('--no-cache rebuilds every step', async () => {
    const r = await build(['--no-cache', '-t', 'bt-multi:3', ctx.path]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.ok(cacheUse(r.stdout).every((s) => !s.cached));
  });

  test('ARG and ENV: --build-arg overrides a default; history records the args of RUN', async () => {
    const r = await build(['--build-arg', 'GREETING=bonjour', '-t', 'bt-args:1', ctx.path]);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    const run = await docker(['run', '--rm', 'bt-args:1']);
    assert.equal(run.stdout, 'bonjour from /app\n');
    const tmp = tempDir('berth-build-arg-');
    try {
      writeContext(tmp.path, {
        Dockerfile:
          // biome-ignore lint/suspicious/noTemplateCurlyInString: a Dockerfile variable
          'ARG BASE=busybox\nFROM $BASE\nARG V=1\nENV W=${V}-env\nRUN echo "V=$V W=$W" > /v\nCMD ["cat", "/v"]\n',
      });
      const b = await build(['--build-arg', 'V=7', '-t', 'bt-args:2', tmp.path]);
      assert.equal(b.status, 0, b.stderr + b.stdout);
      assert.equal((await docker(['run', '--rm', 'bt-args:2'])).stdout, 'V=7 W=7-env\n');
      const h = await docker(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'bt-args:2']);
      assert.match(h.stdout, /\|1 V=7 \/bin\/sh -c echo "V=\$V W=\$W" > \/v/);
    } finally {
      tmp.cleanup();
    }
  });

  test('independent stages build together; the log keeps each stage whole and in order', async () => {
    const tmp = tempDir('berth-build-par-');
    try {
      writeContext(tmp.path, {
        Dockerfile: [
          'FROM busybox AS left',
          'RUN echo L > /l',
          'FROM busybox AS right',
          'RUN echo R > /r',
          'FROM busybox',
          'COPY --from=left /l /l',
          'COPY --from=right /r /r',
          'CMD ["cat", "/l", "/r"]',
        ].join('\n'),
      });
      const r = await build(['-t', 'bt-par:1', tmp.path]);
      assert.equal(r.status, 0, r.stderr + r.stdout);
      const numbers = [...r.stdout.matchAll(/^Step (\d+)\/8 : /gm)].map((m) => Number(m[1]));
      assert.deepEqual(numbers, [1, 2, 3, 4, 5, 6, 7, 8]);
      assert.equal((await docker(['run', '--rm', 'bt-par:1'])).stdout, 'L\nR\n');
    } finally {
      tmp.cleanup();
    }
  });

  test('a failing RUN reports the command and its exit code (and the CLI exits with it)', async () => {
    const tmp = tempDir('berth-build-fail-');
    try {
      writeContext(tmp.path, { Dockerfile: 'FROM busybox\nRUN echo before\nRUN exit 3\n' });
      const r = await build([tmp.path]);
      assert.equal(r.status, 3, r.stdout + r.stderr);
      assert.match(r.stderr + r.stdout, /The command '\/bin\/sh -c exit 3' returned a non-zero code: 3/);
      // Build containers stay out of `ps -a`, and failed ones are removed.
      const ps = await docker(['ps', '-a', '-q']);
      assert.equal(ps.stdout.trim(), '');
    } finally {
      tmp.cleanup();
    }
  });

  test('a missing COPY source, an unknown stage and an unknown target fail clearly', async () => {
    const tmp = tempDir('berth-build-bad-');
    try {
      writeContext(tmp.path, { Dockerfile: 'FROM busybox\nCOPY nothere.txt /x\n' });
      let r = await build([tmp.path]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr + r.stdout, /COPY failed: file not found in build context: stat nothere.txt/);

      writeContext(tmp.path, { Dockerfile: 'FROM busybox\nCOPY --from=nosuchstage /a /b\n' });
      r = await build([tmp.path]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr + r.stdout, /No such image or build stage: nosuchstage/);

      writeContext(tmp.path, { Dockerfile: 'FROM busybox AS one\nRUN true\n' });
      r = await build(['--target', 'two', tmp.path]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr + r.stdout, /target stage "two" could not be found/);

      writeContext(tmp.path, { Dockerfile: 'FROM nosuchimage:1\n' });
      r = await build([tmp.path]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr + r.stdout, /nosuchimage:1/);
    } finally {
      tmp.cleanup();
    }
  });

  test('an invalid Dockerfile fails with the parser error naming file and line', async () => {
    const tmp = tempDir('berth-build-parse-');
    try {
      writeContext(tmp.path, { Dockerfile: 'FROM busybox\nRUN true\nFROBNICATE now\n' });
      const r = await build([tmp.path]);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr + r.stdout, /Dockerfile:3/);
      assert.match(r.stderr + r.stdout, /FROBNICATE/i);
    } finally {
      tmp.cleanup();
    }
  });

  test('an invalid tag is refused before anything is built', async () => {
    const r = await build(['-t', 'Bad:Tag:x', ctx.path]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /invalid (tag|reference)/i);
  });
});
