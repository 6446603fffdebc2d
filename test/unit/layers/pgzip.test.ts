import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ParallelGzip } from '../../../src/layers/index.js';

async function gz(data: Buffer[], level = 1): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of Readable.from(data).pipe(new ParallelGzip(level))) out.push(c as Buffer);
  return Buffer.concat(out);
}

test('parallel gzip output is one standard gzip member (zlib and gzip(1) agree)', async () => {
  const text = Buffer.from('compressible line of text\n'.repeat(200_000));
  const random = randomBytes(3 * 1024 * 1024 + 123);
  const input = [text.subarray(0, 777), random, text];
  const whole = Buffer.concat(input);
  for (const level of [1, 6, 9]) {
    const out = await gz(input, level);
    assert.deepEqual(gunzipSync(out), whole);
    assert.deepEqual(execFileSync('gzip', ['-dc'], { input: out, maxBuffer: 1 << 26 }), whole);
  }
  assert.ok((await gz([text])).length < text.length / 10);
});

test('parallel gzip of empty input is a valid empty gzip file', async () => {
  const out = await gz([]);
  assert.equal(gunzipSync(out).length, 0);
});
