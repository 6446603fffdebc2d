// resumableBody against a tiny server: a cut body continues from the byte received; a wrong
// Content-Range, an error status and too many bytes end the download with a message naming the blob.
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { after, before, test } from 'node:test';
import { httpFetch } from '../../../src/distribution/http.js';
import { contentRangeStart, resumableBody } from '../../../src/distribution/resume.js';

const data = Buffer.from(Array.from({ length: 100_000 }, (_, i) => i % 251));
let answer: (range: string | undefined, res: ServerResponse) => void = () => {};
const server = createServer((req, res) => answer(req.headers.range, res));
let base = '';
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}/blob`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

/** Sends `body` announcing `length` bytes, then cuts the connection when it was short. */
function send(
  res: ServerResponse,
  status: number,
  body: Buffer,
  headers: Record<string, string> = {},
  length = body.length,
) {
  res.writeHead(status, { 'Content-Length': String(length), ...headers });
  res.write(body);
  if (body.length < length) setTimeout(() => res.socket?.destroy(), 20);
  else res.end();
}

async function collect(first = 0): Promise<Buffer> {
  const res = await httpFetch(new URL(base));
  const body = resumableBody(res, {
    size: data.length,
    what: 'layer sha256:test',
    delays: [1, 1, 1].slice(first),
    refetch: (offset) => httpFetch(new URL(base), { headers: { Range: `bytes=${offset}-` } }),
  });
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('Content-Range parsing', () => {
  assert.equal(contentRangeStart('bytes 100-199/200'), 100);
  assert.equal(contentRangeStart('bytes 0-9/*'), 0);
  assert.equal(contentRangeStart('bytes */200'), undefined);
  assert.equal(contentRangeStart(undefined), undefined);
  assert.equal(contentRangeStart('items 1-2/3'), undefined);
});

test('a body cut twice is completed with Range requests, byte for byte', async () => {
  const ranges: (string | undefined)[] = [];
  answer = (range, res) => {
    ranges.push(range);
    const from = range ? Number(/bytes=(\d+)-/.exec(range)![1]) : 0;
    const rest = data.subarray(from);
    const part = ranges.length < 3 ? rest.subarray(0, 30_000) : rest;
    const headers: Record<string, string> = range
      ? { 'Content-Range': `bytes ${from}-${data.length - 1}/${data.length}` }
      : {};
    send(res, range ? 206 : 200, part, headers, rest.length);
  };
  assert.ok((await collect()).equals(data));
  assert.equal(ranges.length, 3);
  assert.equal(ranges[0], undefined);
  assert.match(ranges[1]!, /^bytes=\d+-$/);
});

test('a 206 starting after the byte asked for ends the download', async () => {
  let n = 0;
  answer = (_range, res) => {
    if (n++ === 0) return send(res, 200, data.subarray(0, 10_000), {}, data.length);
    send(res, 206, data.subarray(50_000), { 'Content-Range': `bytes 50000-99999/100000` });
  };
  await assert.rejects(
    collect(),
    /layer sha256:test: resuming at byte \d+: the registry answered Content-Range "bytes 50000-99999\/100000"/,
  );
});

test('an error status on resume ends the download; a 5xx is retried within the bound', async () => {
  let n = 0;
  answer = (_range, res) => {
    if (n++ === 0) return send(res, 200, data.subarray(0, 10_000), {}, data.length);
    res
      .writeHead(404, { 'Content-Type': 'application/json' })
      .end('{"errors":[{"code":"BLOB_UNKNOWN","message":"gone"}]}');
  };
  await assert.rejects(collect(), /layer sha256:test: blob unknown: gone/);
  n = 0;
  answer = (_range, res) => {
    if (n++ === 0) return send(res, 200, data.subarray(0, 10_000), {}, data.length);
    res.writeHead(503).end();
  };
  await assert.rejects(
    collect(),
    /error pulling layer sha256:test after 4 attempts: .* \(at byte \d+ of 100000\)$/,
  );
  assert.equal(n, 4);
});

test('more bytes than the descriptor says end the download', async () => {
  answer = (_range, res) => send(res, 200, Buffer.concat([data, Buffer.from('extra')]));
  await assert.rejects(collect(), /layer sha256:test: more than the 100000 bytes its descriptor announces/);
});
