import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { test } from 'node:test';
import { DigestStream, isDigest, parseDigest, sha256 } from '../../../src/util/digest.js';

test('parseDigest accepts sha256 and sha512 and rejects the rest with the digest named', () => {
  const hex = 'a'.repeat(64);
  assert.deepEqual(parseDigest(`sha256:${hex}`), { algorithm: 'sha256', hex });
  assert.equal(parseDigest(`sha512:${'b'.repeat(128)}`).algorithm, 'sha512');
  assert.throws(() => parseDigest('md5:abc'), /invalid digest "md5:abc": unsupported algorithm/);
  assert.throws(() => parseDigest(`sha256:${'A'.repeat(64)}`), /lower-case hex/);
  assert.throws(() => parseDigest('sha256:abc'), /expected 64/);
  assert.equal(isDigest('nope'), false);
});

test('DigestStream hashes and counts what passes through', async () => {
  const stream = new DigestStream();
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from([Buffer.from('hello '), Buffer.from('world')]),
    stream,
    new Writable({
      write(c, _e, cb) {
        chunks.push(c);
        cb();
      },
    }),
  );
  assert.equal(stream.digest(), sha256('hello world'));
  assert.equal(stream.size, 11);
  assert.equal(Buffer.concat(chunks).toString(), 'hello world');
});
