// The executor's COPY planning/writing and the build cache index, on real directories (chown needs root).
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { BuildCache, cacheKey } from '../../../src/build/cache/index.js';
import { planCopy, resolveOwner, writeCopy } from '../../../src/build/executor/copy.js';
import { IgnoreMatcher } from '../../../src/build/index.js';
import { isRoot, tempDir } from '../../helpers/index.js';
import { writeContext } from './helpers.js';

const base = { excludes: [], unpack: false, keepOwner: false, rootName: 'build context', destIsDir: false };

describe('COPY planning', () => {
  test('a file, a directory, globs, .dockerignore and --exclude', async () => {
    const t = tempDir();
    try {
      writeContext(t.path, {
        'a.txt': 'a',
        'b.txt': 'b',
        'c.md': 'c',
        'dir/x.txt': 'x',
        'dir/skip.log': 'l',
        'dir/sub/y.txt': 'y',
        'ignored/z.txt': 'z',
      });
      symlinkSync('a.txt', join(t.path, 'dir/link'));
      let plan = await planCopy({ ...base, root: t.path, sources: ['a.txt'], dest: '/app/a2.txt' });
      assert.deepEqual(
        plan.ops.map((o) => o.dest),
        ['/app/a2.txt'],
      );
      assert.equal(plan.label, 'file');
      plan = await planCopy({ ...base, root: t.path, sources: ['*.txt'], dest: '/app' });
      assert.deepEqual(
        plan.ops.map((o) => o.dest),
        ['/app/a.txt', '/app/b.txt'],
      );
      plan = await planCopy({
        ...base,
        root: t.path,
        sources: ['.'],
        dest: '/',
        ignore: new IgnoreMatcher(['ignored']),
        excludes: ['**/*.log'],
      });
      const dests = plan.ops.map((o) => o.dest);
      assert.ok(dests.includes('/dir/sub/y.txt'));
      assert.ok(dests.includes('/dir/link'));
      assert.ok(!dests.some((d) => d.startsWith('/ignored')));
      assert.ok(!dests.includes('/dir/skip.log'));
    } finally {
      t.cleanup();
    }
  });

  test('the checksum changes with content and mode, not with unrelated files', async () => {
    const t = tempDir();
    try {
      writeContext(t.path, { 'src/a.txt': 'a', 'other.txt': 'o' });
      const sum = async () =>
        (await planCopy({ ...base, root: t.path, sources: ['src'], dest: '/app/' })).checksum;
      const first = await sum();
      writeFileSync(join(t.path, 'other.txt'), 'changed');
      assert.equal(await sum(), first);
      writeFileSync(join(t.path, 'src/a.txt'), 'A');
      const second = await sum();
      assert.notEqual(second, first);
      const { chmodSync } = await import('node:fs');
      chmodSync(join(t.path, 'src/a.txt'), 0o600);
      assert.notEqual(await sum(), second);
    } finally {
      t.cleanup();
    }
  });

  test('bad input: a missing source, an unterminated glob, a path escaping the root', async () => {
    const t = tempDir();
    try {
      writeContext(t.path, { 'a.txt': 'a' });
      await assert.rejects(
        planCopy({ ...base, root: t.path, sources: ['nope'], dest: '/x' }),
        /file not found in build context: stat nope/,
      );
      await assert.rejects(planCopy({ ...base, root: t.path, sources: ['[ab'], dest: '/x' }), /unterminated/);
      // `..` cannot leave the context: it resolves inside the root, where the file does not exist.
      await assert.rejects(
        planCopy({ ...base, root: join(t.path), sources: ['../../etc/passwd'], dest: '/x' }),
        /file not found/,
      );
    } finally {
      t.cleanup();
    }
  });

  test('writing: parents keep the image metadata, owner and octal chmod applied, symlinks kept', {
    skip: !isRoot() && 'needs root',
  }, async () => {
    const t = tempDir();
    try {
      const ctx = join(t.path, 'ctx');
      const parent = join(t.path, 'parent');
      const layer = join(t.path, 'layer');
      writeContext(ctx, { 'f.txt': 'f', 'd/g.txt': 'g' });
      symlinkSync('f.txt', join(ctx, 'd/l'));
      mkdirSync(join(parent, 'tmp'), { recursive: true });
      const { chmodSync } = await import('node:fs');
      chmodSync(join(parent, 'tmp'), 0o1777);
      mkdirSync(layer);
      const plan = await planCopy({ ...base, root: ctx, sources: ['f.txt', 'd'], dest: '/tmp/out/' });
      await writeCopy(plan, {
        layerDir: layer,
        parentRoot: parent,
        keepOwner: false,
        owner: { uid: 1234, gid: 4321 },
        chmod: { octal: 0o640 },
      });
      assert.equal(lstatSync(join(layer, 'tmp')).mode & 0o7777, 0o1777);
      const f = lstatSync(join(layer, 'tmp/out/f.txt'));
      assert.equal(f.mode & 0o777, 0o640);
      assert.equal(f.uid, 1234);
      assert.equal(f.gid, 4321);
      assert.equal(readFileSync(join(layer, 'tmp/out/g.txt'), 'utf8'), 'g');
      assert.equal(readlinkSync(join(layer, 'tmp/out/l')), 'f.txt');
    } finally {
      t.cleanup();
    }
  });

  test('--chown names resolve through the image passwd/group; unknown names are refused', () => {
    const t = tempDir();
    try {
      writeContext(t.path, {
        'etc/passwd': 'root:x:0:0::/root:/bin/sh\napp:x:1001:1002::/home/app:/bin/sh\n',
        'etc/group': 'root:x:0:\nstaff:x:50:\n',
      });
      assert.deepEqual(resolveOwner('app', t.path), { uid: 1001, gid: 1002 });
      assert.deepEqual(resolveOwner('app:staff', t.path), { uid: 1001, gid: 50 });
      assert.deepEqual(resolveOwner('7', t.path), { uid: 7, gid: 7 });
      assert.deepEqual(resolveOwner('7:8', undefined), { uid: 7, gid: 8 });
      assert.throws(() => resolveOwner('ghost', t.path), /no such user: ghost/);
      assert.throws(() => resolveOwner('app:ghosts', t.path), /no such group: ghosts/);
    } finally {
      t.cleanup();
    }
  });
});

describe('build cache index', () => {
  test('keys depend on parent, instruction, args and content; args order does not matter', () => {
    const k = cacheKey({ parent: 'sha256:a', createdBy: 'RUN x', args: ['A=1', 'B=2'] });
    assert.equal(k, cacheKey({ parent: 'sha256:a', createdBy: 'RUN x', args: ['B=2', 'A=1'] }));
    assert.notEqual(k, cacheKey({ parent: 'sha256:b', createdBy: 'RUN x', args: ['A=1', 'B=2'] }));
    assert.notEqual(k, cacheKey({ parent: 'sha256:a', createdBy: 'RUN y', args: ['A=1', 'B=2'] }));
    assert.notEqual(k, cacheKey({ parent: 'sha256:a', createdBy: 'RUN x', args: ['A=1'] }));
    assert.notEqual(
      k,
      cacheKey({ parent: 'sha256:a', createdBy: 'RUN x', args: ['A=1', 'B=2'], contentChecksum: 'c' }),
    );
  });

  test('store, lookup across instances, entries whose image is gone, a corrupt index, prune', async () => {
    const t = tempDir();
    try {
      const c = new BuildCache(t.path);
      await c.store('k1', 'sha256:img1');
      await c.store('k2', 'sha256:img2');
      const again = new BuildCache(t.path);
      assert.equal(await again.lookup('k1', () => true), 'sha256:img1');
      assert.equal(await again.lookup('k2', (id) => id !== 'sha256:img2'), undefined);
      assert.equal(await again.lookup('k2', () => true), undefined, 'a stale entry is forgotten');
      writeFileSync(join(t.path, 'buildcache/index.json'), '{not json');
      assert.equal(await new BuildCache(t.path).lookup('k1', () => true), undefined);
      mkdirSync(again.mountDir('m'), { recursive: true });
      writeFileSync(join(again.mountDir('m'), 'data'), 'xyz');
      const pruned = await again.prune();
      assert.ok(pruned.entries.includes('k1'));
      assert.equal(pruned.space >= 3, true);
      assert.equal(await new BuildCache(t.path).lookup('k1', () => true), undefined);
    } finally {
      t.cleanup();
    }
  });
});
