import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { BlobStore } from '../../../src/images/index.js';
import { sha256 } from '../../../src/util/index.js';
import { tempDir } from '../../helpers/index.js';

test('blob store: put, has, stat, get, readJson, list, delete', async () => {
  const t = tempDir();
  try {
    const store = new BlobStore(join(t.path, 'blobs'));
    await store.init();
    const data = JSON.stringify({ hello: 'world' });
    const put = await store.put(Readable.from([Buffer.from(data)]));
    assert.equal(put.digest, sha256(data));
    assert.equal(put.size, data.length);
    assert.equal(put.created, true);
    assert.equal((await store.put(Readable.from([Buffer.from(data)]))).created, false);
    assert.ok(await store.has(put.digest));
    assert.deepEqual(await store.stat(put.digest), { digest: put.digest, size: data.length });
    assert.deepEqual(await store.readJson(put.digest), { hello: 'world' });
    let read = '';
    for await (const c of await store.get(put.digest)) read += c;
    assert.equal(read, data);
    assert.deepEqual(await store.list(), [put.digest]);
    assert.ok(await store.delete(put.digest));
    assert.equal(await store.has(put.digest), false);
    await assert.rejects(store.stat(put.digest), { status: 404 });
  } finally {
    t.cleanup();
  }
});

test('blob store: a digest mismatch names both digests and leaves nothing', async () => {
  const t = tempDir();
  try {
    const store = new BlobStore(join(t.path, 'blobs'));
    await store.init();
    const wrong = sha256('something else');
    await assert.rejects(
      store.put(Readable.from([Buffer.from('content')]), wrong),
      (err: Error & { status: number }) => {
        assert.equal(err.status, 400);
        assert.ok(err.message.includes(wrong));
        assert.ok(err.message.includes(sha256('content')));
        return true;
      },
    );
    assert.deepEqual(readdirSync(join(t.path, 'blobs/sha256')), []);
    // sha512 digests are accepted.
    const { createHash } = await import('node:crypto');
    const d512 = `sha512:${createHash('sha512').update('x').digest('hex')}`;
    assert.equal((await store.put(Readable.from([Buffer.from('x')]), d512)).digest, d512);
    assert.ok(await store.has(d512));
    await assert.rejects(store.readJson(d512), /not valid JSON/);
    await assert.rejects(store.put(Readable.from([Buffer.from('x')]), 'md5:abc'), { status: 400 });
  } finally {
    t.cleanup();
  }
});

test('blob store: init removes temp files left by a crash', async () => {
  const t = tempDir();
  try {
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(t.path, 'blobs/sha256'), { recursive: true });
    writeFileSync(join(t.path, 'blobs/sha256/.tmp-deadbeef'), 'partial');
    const store = new BlobStore(join(t.path, 'blobs'));
    await store.init();
    assert.deepEqual(readdirSync(join(t.path, 'blobs/sha256')), []);
  } finally {
    t.cleanup();
  }
});
