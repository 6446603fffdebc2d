// The daemon keeps received contexts and updates them from each build's tar: what a rebuild COPYs must be
// exactly the new context (a same-size edit with the old mtime, a mode change, a removed file, a new
// file), and an unchanged context must hit the cache for every step.
import assert from 'node:assert/strict';
import { chmodSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
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
  tmp = tempDir('berth-ctx-reuse-');
});
after(async () => {
  await d?.stop();
  tmp?.cleanup();
});

const env = () => ({ ...d.env, DOCKER_BUILDKIT: '0' });

async function build(ctx: string): Promise<{ log: string; id: string }> {
  const r = await runTool(DOCKER, ['build', '--network', 'none', '-t', 'ctx-reuse:1', ctx], env());
  assert.equal(r.status, 0, r.stderr + r.stdout);
  const ins = await runTool(DOCKER, ['image', 'inspect', '-f', '{{.Id}}', 'ctx-reuse:1'], env());
  return { log: r.stdout, id: ins.stdout.trim() };
}

async function listing(): Promise<string> {
  const r = await runTool(
    DOCKER,
    [
      'run',
      '--rm',
      '--network',
      'none',
      'ctx-reuse:1',
      'sh',
      '-c',
      'cd /ctx && find . | sort && cat a.txt && stat -c "%a %n" b.sh',
    ],
    env(),
  );
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test('rebuilds COPY exactly the new context; an unchanged one is all cache hits', { skip }, async () => {
  const ctx = join(tmp.path, 'ctx');
  writeContext(ctx, {
    Dockerfile: 'FROM busybox\nCOPY . /ctx/\n',
    'a.txt': 'one\n',
    'b.sh': 'echo b\n',
    'sub/c.txt': 'c\n',
  });
  chmodSync(join(ctx, 'b.sh'), 0o644);
  const first = await build(ctx);
  assert.match(await listing(), /\.\/sub\/c\.txt\none\n644 b\.sh/);

  // Same size, same mtime: only the content differs (a cache keyed on size+mtime would miss it).
  const before = statSync(join(ctx, 'a.txt'));
  writeFileSync(join(ctx, 'a.txt'), 'two\n');
  utimesSync(join(ctx, 'a.txt'), before.atime, before.mtime);
  chmodSync(join(ctx, 'b.sh'), 0o755);
  rmSync(join(ctx, 'sub'), { recursive: true });
  writeFileSync(join(ctx, 'd.txt'), 'new\n');
  const second = await build(ctx);
  assert.notEqual(second.id, first.id);
  assert.deepEqual(
    cacheUse(second.log)
      .slice(1)
      .map((s) => s.cached),
    [false],
    'the COPY step is rebuilt',
  );
  const out = await listing();
  assert.match(out, /\.\/d\.txt/);
  assert.doesNotMatch(out, /sub/);
  assert.match(out, /two\n755 b\.sh/);
  // COPY hard-links kept context files into its layer: the context's changes (content, and mode on a
  // file whose content stayed) must not reach the first image's layer.
  const old = await runTool(
    DOCKER,
    ['run', '--rm', '--network', 'none', first.id, 'sh', '-c', 'cd /ctx && cat a.txt && stat -c "%a" b.sh'],
    env(),
  );
  assert.equal(old.status, 0, old.stderr);
  assert.equal(old.stdout, 'one\n644\n');

  const third = await build(ctx);
  assert.equal(third.id, second.id);
  assert.ok(
    cacheUse(third.log)
      .slice(1)
      .every((s) => s.cached),
    third.log,
  );
});
