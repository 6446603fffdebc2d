// Pull through a proxy in front of berth's registry that cuts the connection in the middle of a blob:
// the download continues with a Range request from the byte received (or, when the registry ignores
// Range and answers 200, skips what it already has) and the pull completes with every digest verified.
// A registry that always cuts fails the pull after a bounded number of attempts and leaves nothing.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { Distribution } from '../../../src/distribution/index.js';
import { sha256 } from '../../../src/util/index.js';
import {
  berthRegistry,
  fileTar,
  imageStore,
  storeContents,
  type TestRegistry,
  type TestStore,
} from './helpers.js';

let reg: TestRegistry;
let src: TestStore;
let proxy: Server;
let proxyHost = '';
let bigDigest = '';
let bigSize = 0;

/** How the proxy treats GETs of the big blob. */
const mode = { cuts: 1, ignoreRange: false, cutAt: 0.4 };
const seen: { range: string | undefined; status: number }[] = [];

function forward(req: IncomingMessage, res: import('node:http').ServerResponse): void {
  const [host, port] = reg.host.split(':');
  const headers = { ...req.headers, host: reg.host };
  const isBig = req.method === 'GET' && req.url?.endsWith(`/blobs/${bigDigest}`);
  if (isBig && mode.ignoreRange) delete headers.range;
  const up = request({ host, port: Number(port), method: req.method, path: req.url, headers }, (ures) => {
    res.writeHead(ures.statusCode ?? 502, ures.headers);
    if (!isBig) return void ures.pipe(res);
    seen.push({ range: req.headers.range, status: ures.statusCode ?? 0 });
    if (mode.cuts <= 0) return void ures.pipe(res);
    mode.cuts--;
    // Send part of the body, then drop the connection without finishing the response.
    const limit = Math.floor(bigSize * mode.cutAt);
    let sent = 0;
    ures.on('data', (c: Buffer) => {
      if (sent >= limit) return;
      const part = c.subarray(0, limit - sent);
      sent += part.length;
      res.write(part);
      if (sent >= limit) {
        ures.destroy();
        res.socket?.destroy();
      }
    });
  });
  up.on('error', () => res.socket?.destroy());
  req.pipe(up);
}

before(async () => {
  reg = await berthRegistry();
  src = await imageStore();
  // One layer of incompressible bytes, so the cut lands inside the gzip stream.
  const rec = await src.images.commit({
    parent: null,
    layer: fileTar('data.bin', randomBytes(3 << 20)),
    createdBy: 'resume test',
  });
  await src.images.tag(rec.id, `${reg.host}/resume/app:1`);
  await new Distribution({ images: src.images }).push(`${reg.host}/resume/app:1`, undefined);
  const manifest = await src.images.getManifest(src.images.resolve(`${reg.host}/resume/app:1`));
  bigDigest = manifest.layers[0]!.digest;
  bigSize = manifest.layers[0]!.size;
  proxy = createServer(forward);
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyHost = `127.0.0.1:${(proxy.address() as { port: number }).port}`;
});

after(async () => {
  proxy?.closeAllConnections();
  await new Promise((r) => (proxy ? proxy.close(r) : r(null)));
  await reg?.close();
  src?.cleanup();
});

async function blobSha(store: TestStore, digest: string): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of createReadStream(store.images.blobs.path(digest))) chunks.push(c as Buffer);
  return sha256(Buffer.concat(chunks));
}

async function pullResumed(ignoreRange: boolean, cuts: number): Promise<void> {
  Object.assign(mode, { cuts, ignoreRange });
  seen.length = 0;
  const dst = await imageStore();
  try {
    const d = new Distribution({ images: dst.images, retryDelays: [10, 10, 10] });
    const [r] = await d.pull(`${proxyHost}/resume/app:1`);
    assert.equal(r!.id, src.images.resolve(`${reg.host}/resume/app:1`).id);
    assert.equal(await blobSha(dst, bigDigest), bigDigest);
    assert.equal(seen.length, cuts + 1, JSON.stringify(seen));
    assert.equal(seen[0]!.range, undefined);
    // Each attempt asks for the rest from the byte received (less than the proxy wrote: the cut drops
    // what was still buffered). A cut answer carries `limit` bytes of what was asked: with Range the
    // offset moves on each time; with the whole blob again it never passes `limit`.
    const limit = Math.floor(bigSize * mode.cutAt);
    let prev = 0;
    for (const s of seen.slice(1)) {
      const m = /^bytes=(\d+)-$/.exec(s.range ?? '');
      assert.ok(m, `Range header ${s.range}`);
      const from = Number(m[1]);
      assert.ok(from > 0 && from >= prev && from <= prev + limit, `resumed at ${from} after ${prev}`);
      if (!ignoreRange) assert.ok(from > prev);
      else assert.ok(from <= limit);
      prev = from;
      assert.equal(s.status, ignoreRange ? 200 : 206);
    }
    // The unpacked layer is there and the image runs from it.
    const rec = dst.images.resolve(`${proxyHost}/resume/app:1`);
    assert.ok(rec.topChainId && dst.images.layers.has(rec.topChainId));
  } finally {
    dst.cleanup();
  }
}

test('a blob cut mid-download resumes with a Range request', async () => {
  await pullResumed(false, 1);
});

test('a registry that ignores Range (200 instead of 206) still completes the pull', async () => {
  await pullResumed(true, 1);
});

test('several cuts in a row are each resumed from where the last one stopped', async () => {
  await pullResumed(false, 2);
});

test('several cuts of a registry that ignores Range each start over and skip what is there', async () => {
  await pullResumed(true, 2);
});

test('a registry that always cuts fails the pull after bounded attempts and leaves nothing', async () => {
  // The whole blob cut at the same byte every time: no attempt gets further than the first.
  Object.assign(mode, { cuts: 100, ignoreRange: true });
  seen.length = 0;
  const dst = await imageStore();
  try {
    const d = new Distribution({ images: dst.images, retryDelays: [5, 5] });
    await assert.rejects(d.pull(`${proxyHost}/resume/app:1`), (err: Error) => {
      assert.match(err.message, new RegExp(`error pulling layer ${bigDigest} after 3 attempts`));
      return true;
    });
    assert.equal(seen.length, 3);
    assert.deepEqual(await storeContents(dst.images), []);
  } finally {
    dst.cleanup();
  }
});
