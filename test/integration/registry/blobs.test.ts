// Blob and upload endpoints against a real server on loopback: every success path and every bad input.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { digestOf, listFiles, pushBlob, req, startTestRegistry, type TestRegistry } from './helpers.js';

let t: TestRegistry;
before(async () => {
  t = await startTestRegistry({ limits: { maxBlobSize: 4096 } });
});
after(async () => {
  await t.close();
});

const blobFiles = () => listFiles(t.root).filter((f) => f.startsWith('blobs/'));
const uploadFiles = () => listFiles(t.root).filter((f) => f.startsWith('uploads/'));

async function startUpload(name: string): Promise<string> {
  const r = await req(t.url, `/v2/${name}/blobs/uploads/`, { method: 'POST' });
  assert.equal(r.status, 202);
  return r.headers.location!;
}

describe('base endpoint', () => {
  test('GET and HEAD /v2/ answer 200 with the API version header', async () => {
    for (const method of ['GET', 'HEAD']) {
      const r = await req(t.url, '/v2/', { method });
      assert.equal(r.status, 200);
      assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
    }
  });
  test('health endpoints answer 200', async () => {
    assert.equal((await req(t.url, '/healthz')).status, 200);
    assert.equal((await req(t.url, '/debug/health')).status, 200);
  });
  test('unknown paths and methods are refused with an error body', async () => {
    const r = await req(t.url, '/v3/nothing');
    assert.equal(r.status, 404);
    assert.ok(r.code());
    const m = await req(t.url, '/v2/', { method: 'POST' });
    assert.equal(m.status, 405);
    assert.equal(m.code(), 'UNSUPPORTED');
  });
});

describe('blobs', () => {
  test('monolithic upload, HEAD, GET and ranges', async () => {
    const data = Buffer.from('hello registry blob');
    const digest = digestOf(data);
    const up = await req(t.url, `/v2/app/blobs/uploads/?digest=${digest}`, { method: 'POST', body: data });
    assert.equal(up.status, 201);
    assert.equal(up.headers.location, `/v2/app/blobs/${digest}`);
    assert.equal(up.headers['docker-content-digest'], digest);

    const head = await req(t.url, `/v2/app/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(data.length));
    assert.equal(head.headers['docker-content-digest'], digest);
    assert.equal(head.body.length, 0);

    const get = await req(t.url, `/v2/app/blobs/${digest}`);
    assert.equal(get.status, 200);
    assert.deepEqual(get.body, data);

    const part = await req(t.url, `/v2/app/blobs/${digest}`, { headers: { Range: 'bytes=6-13' } });
    assert.equal(part.status, 206);
    assert.equal(part.body.toString(), 'registry');
    assert.equal(part.headers['content-range'], `bytes 6-13/${data.length}`);

    const suffix = await req(t.url, `/v2/app/blobs/${digest}`, { headers: { Range: 'bytes=-4' } });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.body.toString(), 'blob');

    const open = await req(t.url, `/v2/app/blobs/${digest}`, { headers: { Range: 'bytes=15-' } });
    assert.equal(open.body.toString(), 'blob');

    const bad = await req(t.url, `/v2/app/blobs/${digest}`, { headers: { Range: 'bytes=100-200' } });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers['content-range'], `bytes */${data.length}`);
  });

  test('blobs are per repository, and deduplicated in storage', async () => {
    const data = 'shared-content';
    const digest = await pushBlob(t.url, 'one', data);
    await pushBlob(t.url, 'two', 'other');
    const other = await req(t.url, `/v2/two/blobs/${digest}`);
    assert.equal(other.status, 404);
    assert.equal(other.code(), 'BLOB_UNKNOWN');
    const unknownRepo = await req(t.url, `/v2/nope/blobs/${digest}`);
    assert.equal(unknownRepo.status, 404);
    assert.equal(unknownRepo.code(), 'NAME_UNKNOWN');
    await pushBlob(t.url, 'two', data);
    assert.equal((await req(t.url, `/v2/two/blobs/${digest}`)).status, 200);
    assert.equal(blobFiles().filter((f) => f.endsWith(digest.slice(7))).length, 1);
  });

  test('bad names and digests', async () => {
    const upper = await req(t.url, '/v2/Bad/blobs/uploads/', { method: 'POST' });
    assert.equal(upper.status, 400);
    assert.equal(upper.code(), 'NAME_INVALID');
    const dots = await req(t.url, '/v2/a..b/tags/list');
    assert.equal(dots.code(), 'NAME_INVALID');
    const digest = await req(t.url, '/v2/app/blobs/sha256:xyz');
    assert.equal(digest.status, 400);
    assert.equal(digest.code(), 'DIGEST_INVALID');
    const algo = await req(t.url, `/v2/app/blobs/md5:${'a'.repeat(32)}`);
    assert.equal(algo.code(), 'DIGEST_INVALID');
  });

  test('delete unlinks the blob from the repository', async () => {
    const digest = await pushBlob(t.url, 'del', 'to-delete');
    const d = await req(t.url, `/v2/del/blobs/${digest}`, { method: 'DELETE' });
    assert.equal(d.status, 202);
    assert.equal((await req(t.url, `/v2/del/blobs/${digest}`)).code(), 'BLOB_UNKNOWN');
    assert.equal((await req(t.url, `/v2/del/blobs/${digest}`, { method: 'DELETE' })).code(), 'BLOB_UNKNOWN');
  });
});

describe('chunked uploads', () => {
  test('POST, PATCH in order, status, PUT with a final chunk', async () => {
    const start = await req(t.url, '/v2/chunks/blobs/uploads/', { method: 'POST' });
    assert.equal(start.status, 202);
    assert.match(start.headers.location!, /^\/v2\/chunks\/blobs\/uploads\/[0-9a-f-]{36}$/);
    assert.ok(start.headers['docker-upload-uuid']);
    assert.equal(start.headers.range, '0-0');
    const loc = start.headers.location!;

    const p1 = await req(t.url, loc, {
      method: 'PATCH',
      body: 'hello',
      headers: { 'Content-Range': '0-4', 'Content-Type': 'application/octet-stream' },
    });
    assert.equal(p1.status, 202);
    assert.equal(p1.headers.range, '0-4');

    const outOfOrder = await req(t.url, loc, {
      method: 'PATCH',
      body: 'zzz',
      headers: { 'Content-Range': '10-12' },
    });
    assert.equal(outOfOrder.status, 416);
    assert.equal(outOfOrder.headers.range, '0-4');
    const overlap = await req(t.url, loc, {
      method: 'PATCH',
      body: 'llo',
      headers: { 'Content-Range': '2-4' },
    });
    assert.equal(overlap.status, 416);
    assert.equal(overlap.headers.range, '0-4');
    const backwards = await req(t.url, loc, {
      method: 'PATCH',
      body: 'x',
      headers: { 'Content-Range': '6-5' },
    });
    assert.equal(backwards.status, 416);
    const mismatch = await req(t.url, loc, {
      method: 'PATCH',
      body: 'abc',
      headers: { 'Content-Range': '5-9' },
    });
    assert.equal(mismatch.status, 400);

    // A streamed chunk (no Content-Range) is appended.
    const p2 = await req(t.url, loc, { method: 'PATCH', body: ', ' });
    assert.equal(p2.status, 202);
    assert.equal(p2.headers.range, '0-6');

    const status = await req(t.url, loc);
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, '0-6');

    const full = 'hello, world';
    const digest = digestOf(full);
    const done = await req(t.url, `${loc}?digest=${digest}`, {
      method: 'PUT',
      body: 'world',
      headers: { 'Content-Range': '7-11' },
    });
    assert.equal(done.status, 201, done.body.toString());
    assert.equal(done.headers['docker-content-digest'], digest);
    assert.equal((await req(t.url, `/v2/chunks/blobs/${digest}`)).body.toString(), full);
    assert.equal((await req(t.url, loc)).code(), 'BLOB_UPLOAD_UNKNOWN');
  });

  test('PUT without a body completes an upload made of PATCHes', async () => {
    const loc = await startUpload('chunks');
    await req(t.url, loc, { method: 'PATCH', body: 'abc' });
    const digest = digestOf('abc');
    const done = await req(t.url, `${loc}?digest=${digest}`, { method: 'PUT' });
    assert.equal(done.status, 201);
  });

  test('a wrong digest stores nothing and ends the session', async () => {
    const before = blobFiles();
    const loc = await startUpload('wrong');
    await req(t.url, loc, { method: 'PATCH', body: 'some data' });
    const r = await req(t.url, `${loc}?digest=${digestOf('other data')}`, { method: 'PUT' });
    assert.equal(r.status, 400);
    assert.equal(r.code(), 'DIGEST_INVALID');
    assert.equal((await req(t.url, loc)).code(), 'BLOB_UPLOAD_UNKNOWN');
    const mono = await req(t.url, `/v2/wrong/blobs/uploads/?digest=${digestOf('x')}`, {
      method: 'POST',
      body: 'y',
    });
    assert.equal(mono.code(), 'DIGEST_INVALID');
    const missing = await req(t.url, `${await startUpload('wrong')}`, { method: 'PUT', body: 'z' });
    assert.equal(missing.code(), 'DIGEST_INVALID');
    assert.deepEqual(blobFiles(), before);
    assert.ok(!listFiles(t.root).some((f) => f.startsWith('repositories/wrong/_layers')));
  });

  test('cancel removes the session and its data', async () => {
    const loc = await startUpload('cancel');
    await req(t.url, loc, { method: 'PATCH', body: 'partial' });
    const id = loc.split('/').pop()!;
    assert.ok(uploadFiles().some((f) => f.includes(id)));
    const r = await req(t.url, loc, { method: 'DELETE' });
    assert.equal(r.status, 204);
    assert.ok(!uploadFiles().some((f) => f.includes(id)));
    assert.equal((await req(t.url, loc, { method: 'DELETE' })).code(), 'BLOB_UPLOAD_UNKNOWN');
  });

  test('sessions belong to their repository; bad ids are unknown', async () => {
    const loc = await startUpload('owner');
    const id = loc.split('/').pop();
    assert.equal((await req(t.url, `/v2/thief/blobs/uploads/${id}`)).code(), 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await req(t.url, '/v2/owner/blobs/uploads/../../etc')).status, 404);
    assert.equal((await req(t.url, '/v2/owner/blobs/uploads/not-a-uuid')).code(), 'BLOB_UPLOAD_UNKNOWN');
  });

  test('oversized blobs are refused with 413 SIZE_INVALID and nothing is stored', async () => {
    const before = blobFiles();
    const big = Buffer.alloc(5000, 1);
    const mono = await req(t.url, `/v2/big/blobs/uploads/?digest=${digestOf(big)}`, {
      method: 'POST',
      body: big,
    });
    assert.equal(mono.status, 413);
    assert.equal(mono.code(), 'SIZE_INVALID');
    const loc = await startUpload('big');
    assert.equal((await req(t.url, loc, { method: 'PATCH', body: Buffer.alloc(3000) })).status, 202);
    const over = await req(t.url, loc, { method: 'PATCH', body: Buffer.alloc(3000) });
    assert.equal(over.status, 413);
    const status = await req(t.url, loc);
    assert.equal(status.headers.range, '0-2999');
    assert.deepEqual(blobFiles(), before);
  });

  test('a client that disconnects mid-PATCH and mid-PUT stores nothing; the session resumes', async () => {
    const loc = await startUpload('flaky');
    await req(t.url, loc, { method: 'PATCH', body: 'first-' });
    const before = blobFiles();
    const abort = (method: string, path: string) =>
      new Promise<void>((resolve) => {
        const r = request(new URL(path, t.url), { method, headers: { 'Content-Length': 1000 } });
        r.on('error', () => resolve());
        r.write(Buffer.alloc(300, 2), () => setTimeout(() => r.destroy(), 50));
        r.on('close', () => resolve());
      });
    await abort('PATCH', loc);
    const full = 'first-second';
    await abort('PUT', `${loc}?digest=${digestOf(full)}`);
    // The server may notice the disconnect after our next request arrives: it waits for the session.
    const status = await req(t.url, loc);
    assert.equal(status.status, 204);
    assert.equal(status.headers.range, '0-5');
    assert.deepEqual(blobFiles(), before);
    // An aborted monolithic upload leaves no session behind.
    const sessions = uploadFiles().length;
    await abort('POST', `/v2/flaky/blobs/uploads/?digest=${digestOf('never')}`);
    await req(t.url, loc); // a request on the same server: the abort has been handled by the time it answers
    for (let i = 0; i < 100 && uploadFiles().length !== sessions; i++)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(uploadFiles().length, sessions);
    const done = await req(t.url, `${loc}?digest=${digestOf(full)}`, { method: 'PUT', body: 'second' });
    assert.equal(done.status, 201, done.body.toString());
    assert.equal((await req(t.url, `/v2/flaky/blobs/${digestOf(full)}`)).body.toString(), full);
  });

  test('a short body (Content-Length larger than what arrives) is not committed', async () => {
    const loc = await startUpload('short');
    const r = await req(t.url, loc, { method: 'PATCH', body: 'abc', headers: { 'Content-Range': '0-9' } });
    assert.equal(r.status, 400);
  });

  test('cross-repository mount: 201 when the source has the blob, else an upload session', async () => {
    const digest = await pushBlob(t.url, 'src/repo', 'mount-me');
    const m = await req(t.url, `/v2/dst/repo/blobs/uploads/?mount=${digest}&from=src/repo`, {
      method: 'POST',
    });
    assert.equal(m.status, 201);
    assert.equal(m.headers.location, `/v2/dst/repo/blobs/${digest}`);
    assert.equal((await req(t.url, `/v2/dst/repo/blobs/${digest}`)).body.toString(), 'mount-me');
    const miss = await req(t.url, `/v2/dst/repo/blobs/uploads/?mount=${digestOf('nope')}&from=src/repo`, {
      method: 'POST',
    });
    assert.equal(miss.status, 202);
    assert.ok(miss.headers['docker-upload-uuid']);
    const badFrom = await req(t.url, `/v2/dst/repo/blobs/uploads/?mount=${digest}&from=other`, {
      method: 'POST',
    });
    assert.equal(badFrom.status, 202);
  });
});

describe('shutdown', () => {
  test('close() lets an in-flight upload finish, then refuses connections', async () => {
    const t2 = await startTestRegistry();
    try {
      const r = await req(t2.url, '/v2/slow/blobs/uploads/', { method: 'POST' });
      const loc = r.headers.location!;
      const answer = new Promise<number>((resolve, reject) => {
        const p = request(
          new URL(loc, t2.url),
          { method: 'PATCH', headers: { 'Content-Length': 6 } },
          (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          },
        );
        p.on('error', reject);
        // Close once the server is inside the request (half the body received), finish the body after.
        p.write('abc', () =>
          setTimeout(() => {
            closing = t2.reg.close(5000);
            setTimeout(() => p.end('def'), 100);
          }, 100),
        );
      });
      let closing: Promise<void> | undefined;
      assert.equal(await answer, 202);
      await closing;
      // A pooled keep-alive socket sees a reset, a new connection is refused.
      const refused = (e: NodeJS.ErrnoException) => e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET';
      await assert.rejects(req(t2.url, '/v2/'), refused);
      await assert.rejects(req(t2.url, '/v2/'), refused);
    } finally {
      await t2.close();
    }
  });
});
