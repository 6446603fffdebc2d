// Upload sessions on disk: resumption after a restart, expiry, sha512 digests, and storage listings.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import type { RegistryError } from '../../../src/registry/errors.js';
import { Storage } from '../../../src/registry/storage.js';
import { Uploads } from '../../../src/registry/uploads.js';
import { tempDir } from '../../helpers/index.js';

async function setup() {
  const dir = tempDir('berth-registry-uploads-');
  const storage = new Storage(dir.path);
  await storage.init();
  return { dir, storage, uploads: new Uploads(storage, 0) };
}

test('a session survives a restart (state re-read from disk) and commits', async () => {
  const { dir, storage, uploads } = await setup();
  try {
    const s = await uploads.start('repo');
    await uploads.append(s, Readable.from([Buffer.from('abc')]));
    const again = new Uploads(storage, 0); // a new process: nothing in memory
    const resumed = await again.get('repo', s.id);
    assert.equal(resumed.size, 3);
    await again.append(resumed, Readable.from([Buffer.from('def')]), { start: 3, length: 3 });
    const hex = createHash('sha256').update('abcdef').digest('hex');
    const done = await again.commit(resumed, { algorithm: 'sha256', hex });
    assert.deepEqual(done, { digest: `sha256:${hex}`, size: 6 });
    assert.equal(await storage.linkedBlobSize('repo', `sha256:${hex}`), 6);
    assert.deepEqual(readdirSync(storage.uploadsDir), []);
    await assert.rejects(again.get('other', s.id), (e: RegistryError) => e.code === 'BLOB_UPLOAD_UNKNOWN');
  } finally {
    dir.cleanup();
  }
});

test('sha512 digests are verified too', async () => {
  const { dir, storage, uploads } = await setup();
  try {
    const s = await uploads.start('repo');
    await uploads.append(s, Readable.from([Buffer.from('data')]));
    const hex = createHash('sha512').update('data').digest('hex');
    const done = await uploads.commit(s, { algorithm: 'sha512', hex });
    assert.equal(done.digest, `sha512:${hex}`);
    assert.deepEqual(await storage.listBlobs(), [`sha512:${hex}`]);
  } finally {
    dir.cleanup();
  }
});

test('chunks out of order are refused with the current range; a long chunk is cut back', async () => {
  const { dir, uploads } = await setup();
  try {
    const s = await uploads.start('repo');
    await uploads.append(s, Readable.from([Buffer.from('12345')]));
    await assert.rejects(
      uploads.append(s, Readable.from([Buffer.from('x')]), { start: 2 }),
      (e: RegistryError) => {
        assert.equal(e.status, 416);
        assert.equal(e.headers.Range, '0-4');
        return true;
      },
    );
    await assert.rejects(
      uploads.append(s, Readable.from([Buffer.from('too long')]), { length: 2 }),
      /longer/,
    );
    assert.equal(s.size, 5);
    const limited = new Uploads((uploads as unknown as { storage: Storage }).storage, 6);
    const s2 = await limited.start('repo');
    await assert.rejects(
      limited.append(s2, Readable.from([Buffer.alloc(7)])),
      (e: RegistryError) => e.status === 413,
    );
    assert.equal(s2.size, 0);
  } finally {
    dir.cleanup();
  }
});

test('expired sessions are purged, fresh ones kept', async () => {
  const { dir, storage, uploads } = await setup();
  try {
    const old = await uploads.start('repo');
    const fresh = await uploads.start('repo');
    const restarted = new Uploads(storage, 0);
    const past = new Date(Date.now() - 7200_000);
    utimesSync(join(storage.uploadsDir, old.id, 'data'), past, past);
    assert.equal(await restarted.purgeExpired(3600), 1);
    assert.deepEqual(readdirSync(storage.uploadsDir), [fresh.id]);
    // In memory, the last activity counts.
    assert.equal(await uploads.purgeExpired(3600, Date.now() + 7200_000), 1);
    assert.deepEqual(readdirSync(storage.uploadsDir), []);
  } finally {
    dir.cleanup();
  }
});
