import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { LayerStore, tarDirectory } from '../../../src/layers/index.js';
import { isRoot, tempDir } from '../../helpers/index.js';

test('120 tiny layers mount as one overlay through short links', {
  skip: !isRoot() && 'needs root',
}, async () => {
  const t = tempDir('berth-snap-');
  const target = join(t.path, 'merged');
  const store = new LayerStore(join(t.path, 'root'));
  let mounted = false;
  try {
    await store.init();
    let parent: string | null = null;
    for (let i = 0; i < 120; i++) {
      const src = join(t.path, `src${i}`);
      mkdirSync(src);
      writeFileSync(join(src, `f${i}`), `layer ${i}`);
      writeFileSync(join(src, 'top'), `from ${i}`);
      const { stream } = tarDirectory(src, { gzipLevel: 1 });
      parent = (await store.apply(parent, stream)).chainId;
    }
    assert.equal(store.chain(parent).length, 120);
    await store.mountRootfs(parent, join(t.path, 'upper'), join(t.path, 'work'), target);
    mounted = true;
    assert.equal(readFileSync(join(target, 'f0'), 'utf8'), 'layer 0');
    assert.equal(readFileSync(join(target, 'f119'), 'utf8'), 'layer 119');
    assert.equal(readFileSync(join(target, 'top'), 'utf8'), 'from 119');
    writeFileSync(join(target, 'new'), 'written');
    await store.unmount(target);
    mounted = false;
    assert.equal(readFileSync(join(t.path, 'upper/new'), 'utf8'), 'written');
    assert.equal(existsSync(join(target, 'f0')), false);

    // A fresh store rebuilds its index from disk.
    const again = new LayerStore(join(t.path, 'root'));
    await again.init();
    assert.equal(again.chain(parent).length, 120);
  } finally {
    if (mounted) await store.unmount(target).catch(() => {});
    t.cleanup();
  }
});

test('an image without layers mounts over the empty lower', { skip: !isRoot() && 'needs root' }, async () => {
  const t = tempDir('berth-snap-');
  const target = join(t.path, 'merged');
  const store = new LayerStore(join(t.path, 'root'));
  try {
    await store.init();
    await store.mountRootfs(null, join(t.path, 'upper'), join(t.path, 'work'), target);
    writeFileSync(join(target, 'x'), 'y');
    await store.unmount(target);
    assert.equal(readFileSync(join(t.path, 'upper/x'), 'utf8'), 'y');
  } finally {
    await store.unmount(target).catch(() => {});
    t.cleanup();
  }
});

test('concurrent requests for the same chain unpack once', { skip: !isRoot() && 'needs root' }, async () => {
  const t = tempDir('berth-snap-');
  try {
    const store = new LayerStore(join(t.path, 'root'));
    await store.init();
    const src = join(t.path, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'f'), 'x');
    const chunks: Buffer[] = [];
    const first = tarDirectory(src, { gzipLevel: 0 });
    for await (const c of first.stream) chunks.push(c as Buffer);
    const { diffId } = await first.done;
    let opens = 0;
    const { Readable } = await import('node:stream');
    const open = async () => {
      opens++;
      return Readable.from([Buffer.concat(chunks)]);
    };
    const [a, b] = await Promise.all([store.ensure(null, diffId, open), store.ensure(null, diffId, open)]);
    assert.equal(opens, 1);
    assert.equal(a, b);
    await assert.rejects(store.ensure(null, `sha256:${'0'.repeat(64)}`, open), /does not match its diffID/);
  } finally {
    t.cleanup();
  }
});
