// The builder's mount helper shell: mounts and unmounts answered in order with their exit codes, odd
// paths quoted, a failure's message, and nothing mounted left behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { Mounter } from '../../../src/build/executor/mounter.js';
import { isRoot, tempDir } from '../../helpers/index.js';

const skip = !isRoot() && 'needs root';
const mounted = (target: string) =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some(
      (l) =>
        l
          .split(' ')[4]
          ?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))) === target,
    );

test('mounts and unmounts through the shell, in order, with odd paths', { skip }, async () => {
  const t = tempDir('berth-mounter-');
  const m = new Mounter();
  const targets: string[] = [];
  try {
    const mounts = [0, 1, 2].map((i) => {
      // A space, a quote and a dollar sign: nothing of the path is read by the shell.
      const base = join(t.path, `it's $HOME ${i}`);
      const [a, b, target] = ['a', 'b', 'merged'].map((n) => join(base, n));
      for (const d of [a!, b!, target!]) mkdirSync(d, { recursive: true });
      writeFileSync(join(a!, 'from-a'), `${i}`);
      targets.push(target!);
      // Relative lowers: the request's working directory is honoured.
      return m.run('mount', ['-t', 'overlay', 'overlay', '-o', 'ro,lowerdir=a:b', target!], base);
    });
    const results = await Promise.all(mounts);
    assert.deepEqual(
      results.map((r) => r.code),
      [0, 0, 0],
    );
    for (const [i, target] of targets.entries()) {
      assert.ok(mounted(target), target);
      assert.equal(readFileSync(join(target, 'from-a'), 'utf8'), `${i}`);
    }
    const un = await m.run('umount', targets);
    assert.equal(un.code, 0, un.stderr);
    for (const target of targets) assert.ok(!mounted(target), target);
  } finally {
    for (const target of targets) if (mounted(target)) execFileSync('umount', ['-l', target]);
    t.cleanup();
  }
});

test('a failing mount answers its exit code and message; later requests still work', { skip }, async () => {
  const t = tempDir('berth-mounter-');
  const m = new Mounter();
  try {
    const bad = await m.run('mount', ['-t', 'overlay', 'overlay', '-o', 'lowerdir=/no/such/dir', t.path]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /\S/);
    const notMounted = await m.run('umount', [t.path]);
    assert.notEqual(notMounted.code, 0);
    assert.match(notMounted.stderr, /not mounted|no mount point/);
  } finally {
    t.cleanup();
  }
});
