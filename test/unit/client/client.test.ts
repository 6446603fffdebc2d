// The client against berth's own server framework: transport, errors, streams, hijack, demux.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  type ApiServer,
  createApiServer,
  hijack,
  jsonStream,
  muxWriter,
  Router,
} from '../../../src/api/index.js';
import {
  demux,
  EngineClient,
  EngineError,
  encodeFilters,
  encodeQuery,
  hostFromEnv,
  parseHost,
  pipeStdio,
  registryAuthHeader,
} from '../../../src/client/index.js';
import { notFound } from '../../../src/util/index.js';
import { tempDir } from '../../helpers/index.js';

const dir = tempDir('berth-client-unit-');
let server: ApiServer;
let client: EngineClient;
const seen: { path: string; version: string; query: string; headers: Record<string, unknown> }[] = [];

before(async () => {
  const router = new Router()
    .get('/containers/json', (req) => {
      seen.push({
        path: req.path,
        version: req.apiVersion,
        query: req.query.toString(),
        headers: req.headers,
      });
      return { json: [{ Id: 'a', Names: ['/x'] }] };
    })
    .get('/containers/:id/json', (req) => {
      throw notFound(`No such container: ${req.params.id}`);
    })
    .get('/images/:name+/json', (req) => ({ json: { Id: req.params.name } }))
    .post('/images/create', async (req) => {
      const s = jsonStream(req);
      s.write({ status: 'Pulling', id: 'l1' });
      if (req.query.get('fromImage') === 'bad') throw new Error('manifest unknown');
      s.write({ status: 'Done' });
      s.end();
    })
    .post('/images/load', async (req) => {
      let n = 0;
      for await (const c of req.raw) n += (c as Buffer).length;
      return { json: { stream: `read ${n} bytes` } };
    })
    .post('/containers/:id/attach', async (req) => {
      const sock = await hijack(req, { multiplexed: true });
      const out = muxWriter(sock, 1);
      const err = muxWriter(sock, 2);
      sock.on('data', (b: Buffer) => out.write(Buffer.from(b.toString().toUpperCase())));
      sock.on('end', () => err.write('bye\n', () => sock.end()));
    });
  server = await createApiServer(router, { socketPath: join(dir.path, 's.sock'), onError: () => {} });
  client = new EngineClient({ host: `unix://${join(dir.path, 's.sock')}` });
});

after(async () => {
  client.close();
  await server.close();
  dir.cleanup();
});

test('parseHost and hostFromEnv', () => {
  assert.deepEqual(parseHost('unix:///run/x.sock'), { socketPath: '/run/x.sock' });
  assert.deepEqual(parseHost('/run/x.sock'), { socketPath: '/run/x.sock' });
  assert.deepEqual(parseHost('tcp://127.0.0.1:2375'), { host: '127.0.0.1', port: 2375 });
  assert.deepEqual(parseHost('tcp://[::1]:80'), { host: '::1', port: 80 });
  assert.deepEqual(parseHost('tcp://example'), { host: 'example', port: 2375 });
  assert.throws(() => parseHost('unix://'), /empty socket path/);
  assert.throws(() => parseHost('ssh://me@host'), /invalid host/);
  assert.equal(hostFromEnv({ DOCKER_HOST: 'unix:///a', BERTH_HOST: 'unix:///b' }), 'unix:///b');
  assert.equal(hostFromEnv({ DOCKER_HOST: 'unix:///a' }), 'unix:///a');
  assert.equal(hostFromEnv({}), 'unix:///run/berth/berth.sock');
});

test('encodeQuery and encodeFilters', () => {
  assert.equal(encodeQuery(undefined), '');
  assert.equal(
    encodeQuery({ all: true, size: false, limit: 3, skip: undefined, n: null }),
    '?all=1&size=0&limit=3',
  );
  assert.equal(encodeQuery({ names: ['a', 'b'] }), '?names=a&names=b');
  assert.equal(
    encodeQuery({ filters: { a: { b: true } } }),
    `?filters=${encodeURIComponent('{"a":{"b":true}}')}`,
  );
  assert.deepEqual(encodeFilters({ status: ['running', 'exited'], name: 'x', empty: [] }), {
    status: { running: true, exited: true },
    name: { x: true },
  });
  assert.equal(encodeFilters({}), undefined);
});

test('negotiates the version and sends typed queries', async () => {
  const list = await client.containers.list({ all: true, filters: { status: ['running'] } });
  assert.deepEqual(list, [{ Id: 'a', Names: ['/x'] }]);
  assert.equal(await client.apiVersion(), '1.47');
  const last = seen.at(-1)!;
  assert.equal(last.version, '1.47');
  assert.equal(
    last.query,
    new URLSearchParams({ all: '1', filters: '{"status":{"running":true}}' }).toString(),
  );
});

test('errors carry the daemon message and status', async () => {
  await assert.rejects(client.containers.inspect('zzz'), (err: unknown) => {
    assert.ok(err instanceof EngineError);
    assert.equal(err.status, 404);
    assert.equal(err.message, 'No such container: zzz');
    assert.equal(err.path, '/containers/zzz/json');
    return true;
  });
  await assert.rejects(client.request('GET', '/nope'), /page not found/);
});

test('image names keep their slashes', async () => {
  assert.equal((await client.images.inspect('localhost:5000/a/b:c')).Id, 'localhost:5000/a/b:c');
});

test('JSON streams yield objects and throw on in-stream errors', async () => {
  const ok = [];
  for await (const m of client.images.pull('good')) ok.push(m);
  assert.deepEqual(ok, [{ status: 'Pulling', id: 'l1' }, { status: 'Done' }]);
  const got: unknown[] = [];
  await assert.rejects(
    (async () => {
      for await (const m of client.images.pull('bad')) got.push(m);
    })(),
    (err: unknown) => err instanceof EngineError && err.message === 'manifest unknown',
  );
  assert.equal(got.length, 1);
  const all = [];
  for await (const m of client.jsonStream('POST', '/images/create', {
    query: { fromImage: 'bad' },
    yieldErrors: true,
  }))
    all.push(m);
  assert.equal(all.length, 2);
});

test('request bodies stream', async () => {
  const body = Readable.from([Buffer.alloc(1000), Buffer.alloc(2345)]);
  const msgs = [];
  for await (const m of client.images.load(body)) msgs.push(m);
  assert.deepEqual(msgs, [{ stream: 'read 3345 bytes' }]);
});

test('hijack: stdin in, demuxed stdout/stderr out', async () => {
  const s = await client.containers.attach('c1', { stream: true, stdin: true, stdout: true });
  assert.equal(s.status, 101);
  assert.equal(s.contentType, 'application/vnd.docker.multiplexed-stream');
  const { stdout, stderr } = demux(s);
  const out: string[] = [];
  const err: string[] = [];
  stdout.on('data', (b: Buffer) => out.push(b.toString()));
  stderr.on('data', (b: Buffer) => err.push(b.toString()));
  s.write('hello\n');
  s.end();
  await new Promise((r) => stdout.on('end', r));
  assert.equal(out.join(''), 'HELLO\n');
  assert.equal(err.join(''), 'bye\n');
});

test('hijack errors are EngineErrors', async () => {
  await assert.rejects(
    client.hijack('/containers/x/nope'),
    (err: unknown) => (err as EngineError).status === 404,
  );
});

function frame(kind: number, text: string): Buffer {
  const h = Buffer.alloc(8);
  h[0] = kind;
  h.writeUInt32BE(Buffer.byteLength(text), 4);
  return Buffer.concat([h, Buffer.from(text)]);
}

test('demux handles frames split across chunks', async () => {
  const all = Buffer.concat([frame(1, 'abc'), frame(2, 'err'), frame(1, ''), frame(1, 'def')]);
  const src = new PassThrough();
  const { stdout, stderr } = demux(src);
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  stdout.on('data', (b: Buffer) => o.push(b));
  stderr.on('data', (b: Buffer) => e.push(b));
  for (let i = 0; i < all.length; i++) src.write(all.subarray(i, i + 1));
  src.end();
  await new Promise((r) => stdout.on('end', r));
  assert.equal(Buffer.concat(o).toString(), 'abcdef');
  assert.equal(Buffer.concat(e).toString(), 'err');
});

test('demux: stream 3 and unknown stream ids are errors', async () => {
  for (const [bytes, re] of [
    [frame(3, 'exec failed'), /exec failed/],
    [frame(9, 'x'), /unexpected stream id 9/],
  ] as const) {
    const src = new PassThrough();
    const { stdout } = demux(src);
    const failed = new Promise<Error>((r) => stdout.on('error', r));
    src.write(bytes);
    assert.match((await failed).message, re);
  }
});

test('registry auth headers use padded URL-safe base64 like the docker CLI', () => {
  const header = registryAuthHeader({ username: 'u', password: 'p?>' })['X-Registry-Auth']!;
  assert.match(header, /^[A-Za-z0-9_-]+=*$/);
  assert.equal(header.length % 4, 0);
  assert.deepEqual(JSON.parse(Buffer.from(header, 'base64url').toString()), {
    username: 'u',
    password: 'p?>',
  });
  assert.deepEqual(registryAuthHeader(undefined), {});
});

test('TCP: the server listens on 127.0.0.1 and the client speaks tcp://', async () => {
  const tcpServer = await createApiServer(
    new Router().get('/info', () => ({ json: { OSType: 'linux' } })),
    {
      tcp: { host: '127.0.0.1', port: 0 },
      onError: () => {},
    },
  );
  const tcp = new EngineClient({ host: `tcp://127.0.0.1:${tcpServer.tcpAddress!.port}` });
  try {
    assert.equal(tcpServer.tcpAddress?.host, '127.0.0.1');
    assert.equal((await tcp.ping()).apiVersion, '1.47');
    assert.equal((await tcp.system.info()).OSType, 'linux');
  } finally {
    tcp.close();
    await tcpServer.close();
  }
  await assert.rejects(tcp.ping(), /Cannot connect to the daemon/);
});

test('pipeStdio: stdin to the stream, demuxed output to stdout/stderr, EOF half-closes', async () => {
  const stream = await client.containers.attach('c1', {
    stream: true,
    stdin: true,
    stdout: true,
    stderr: true,
  });
  const out: string[] = [];
  const err: string[] = [];
  const sink = (into: string[]) =>
    new Writable({
      write(c, _e, cb) {
        into.push(c.toString());
        cb();
      },
    });
  await pipeStdio(stream, {
    tty: false,
    stdin: Readable.from([Buffer.from('one\n'), Buffer.from('two\n')]),
    stdout: sink(out),
    stderr: sink(err),
  });
  assert.equal(out.join(''), 'ONE\nTWO\n');
  assert.equal(err.join(''), 'bye\n');
});
