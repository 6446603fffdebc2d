// Push through a registry that drops the connection during the first blob upload: the upload starts
// again in a new session ("Retrying in N seconds") and the push completes; a registry that always drops
// fails the push with the reason.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { Distribution } from '../../../src/distribution/index.js';
import { imageStore, makeImage, type TestStore } from './helpers.js';

let store: TestStore;
let drops = 0;
let dropAlways = false;
const puts: string[] = [];
const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (req.method === 'HEAD') return void res.writeHead(404).end();
  if (req.method === 'POST' && url.pathname.endsWith('/blobs/uploads/')) {
    res.writeHead(202, { Location: `/upload/${Math.random().toString(16).slice(2)}` });
    return void res.end();
  }
  if (req.method === 'PUT' && url.pathname.startsWith('/upload/')) {
    if (dropAlways || drops === 0) {
      drops++;
      req.once('data', () => req.socket.destroy());
      return;
    }
    req.resume();
    req.on('end', () => {
      puts.push(url.searchParams.get('digest') ?? '');
      res.writeHead(201).end();
    });
    return;
  }
  if (req.method === 'PUT' && url.pathname.includes('/manifests/')) {
    req.resume();
    req.on('end', () => res.writeHead(201).end());
    return;
  }
  if (url.pathname === '/v2/') return void res.writeHead(200).end('{}');
  res.writeHead(404).end();
});
let host = '';

before(async () => {
  store = await imageStore();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  host = `127.0.0.1:${(server.address() as { port: number }).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  store?.cleanup();
});

test('a dropped upload is retried in a new session', async () => {
  const ref = `${host}/retry/app:1`;
  await makeImage(store.images, ref, { layers: 1, seed: 'push-retry' });
  const msgs: { status?: string }[] = [];
  const d = new Distribution({ images: store.images, retryDelays: [10, 10], concurrency: 1 });
  const [r] = await d.push(ref, undefined, { progress: (m) => msgs.push(m) });
  assert.match(r!.digest, /^sha256:/);
  assert.equal(drops, 1);
  assert.ok(
    msgs.some((m) => /^Retrying in \d+ seconds?$/.test(m.status ?? '')),
    JSON.stringify(msgs),
  );
  assert.ok(msgs.some((m) => m.status === 'Pushed'));
  assert.equal(puts.length, 2); // the layer and the config
});

test('an upload that always drops fails the push with the reason', async () => {
  dropAlways = true;
  const ref = `${host}/retry/other:1`;
  await makeImage(store.images, ref, { layers: 1, seed: 'push-retry-fail' });
  const d = new Distribution({ images: store.images, retryDelays: [10], concurrency: 1 });
  await assert.rejects(
    d.push(ref, undefined),
    /PUT http:\/\/127\.0\.0\.1:\d+\/upload\/.*(socket hang up|ECONNRESET|EPIPE)/,
  );
});
