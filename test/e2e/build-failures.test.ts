// A failed build leaves nothing behind but reusable cache: no build container, no mount, no temp dir,
// no tag; the steps that succeeded are cache hits for the next build. Failing RUN (exit code and its last
// lines of output), missing COPY source, unknown stage and a stage cycle, through `berth build`.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TestDaemon } from '../helpers/daemon.js';
import { berthArgv, haveCommand, isRoot, tempDir } from '../helpers/index.js';
import { cacheUse, DOCKER, daemonWithBusybox, runTool, writeContext } from '../integration/build/helpers.js';

const skip = !isRoot()
  ? 'needs root'
  : !haveCommand('runc') || !haveCommand('conmon') || !existsSync(DOCKER) || !existsSync('/bin/busybox')
    ? 'needs runc, conmon, the docker CLI and busybox-static'
    : undefined;

describe('failed builds', { skip }, () => {
  let d: TestDaemon;
  const tmp = tempDir('berth-build-fail-');
  let n = 0;
  const build = async (files: Record<string, string>, tag = `bt-fail-${++n}:1`) => {
    const dir = join(tmp.path, `ctx${n}`);
    writeContext(dir, files);
    const r = await runTool(process.execPath, [...berthArgv(), 'build', '-t', tag, dir], d.env);
    return { ...r, tag };
  };
  const dataRoot = () => join(d.root, 'data');
  const entries = (p: string) => (existsSync(p) ? readdirSync(p) : []);
  /** What a finished build must not leave: containers (build ones included), temp dirs, mounts. */
  const assertClean = (what: string) => {
    assert.deepEqual(entries(join(dataRoot(), 'containers')), [], `${what}: containers left`);
    // tmp/build-contexts is the executor's pool of reusable context copies (cache, not leftovers).
    assert.deepEqual(
      entries(join(dataRoot(), 'tmp')).filter((e) => e !== 'build-contexts'),
      [],
      `${what}: temp dirs left`,
    );
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .filter((l) => l.includes(d.root));
    assert.deepEqual(mounts, [], `${what}: mounts left`);
  };

  before(async () => {
    d = await daemonWithBusybox();
  });
  after(async () => {
    await d?.stop();
    tmp.cleanup();
  });

  test('a failing RUN: its exit code and last lines; the steps before it are cache for the next build', async () => {
    const files = {
      Dockerfile: [
        'FROM busybox',
        'COPY a.txt /a.txt',
        'RUN echo first > /first',
        'RUN echo "line one"; echo "line two" >&2; exit 3',
        'CMD ["cat", "/first"]',
      ].join('\n'),
      'a.txt': 'a',
    };
    const r = await build(files, 'bt-fail-run:1');
    assert.equal(r.status, 3, r.stderr);
    assert.match(
      r.stderr,
      /The command '\/bin\/sh -c echo "line one"; echo "line two" >&2; exit 3' returned a non-zero code: 3/,
    );
    assert.match(r.stdout, /line one\n/);
    assert.match(r.stdout, /line two\n/);
    assert.notEqual((await runTool(DOCKER, ['image', 'inspect', 'bt-fail-run:1'], d.env)).status, 0);
    assertClean('failing RUN');
    const fixed = await build(
      { ...files, Dockerfile: files.Dockerfile.replace('exit 3', 'exit 0') },
      'bt-fail-run:1',
    );
    assert.equal(fixed.status, 0, fixed.stderr);
    assert.deepEqual(
      cacheUse(fixed.stdout).map((s) => s.cached),
      [false, true, true, false, false],
      fixed.stdout,
    );
    assertClean('fixed build');
    const run = await runTool(DOCKER, ['run', '--rm', 'bt-fail-run:1'], d.env);
    assert.equal(run.stdout, 'first\n', run.stderr);
  });

  test('a missing COPY source, an unknown stage and a stage cycle fail clearly and leave nothing', async () => {
    let r = await build({ Dockerfile: 'FROM busybox\nRUN true\nCOPY missing.txt /m\n' });
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /COPY failed: file not found in build context: stat missing\.txt: file does not exist/,
    );
    assertClean('missing source');
    r = await build({ Dockerfile: 'FROM busybox\nCOPY --from=nosuchstage /x /x\n' });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /nosuchstage/);
    assertClean('unknown stage');
    r = await build({
      Dockerfile: 'FROM busybox AS a\nCOPY --from=b /x /x\n\nFROM busybox AS b\nCOPY --from=a /y /y\n',
    });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Dockerfile:\d+: circular dependency detected on stage: \w \(\w -> \w -> \w\)/);
    assertClean('cycle');
  });
});
