import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  type ApiServer,
  createApiServer,
  hijack,
  jsonStream,
  muxWriter,
  Router,
} from '../../../src/api/index.js';
import { conflict, notFound } from '../../../src/util/index.js';
import { tempDir } from '../../helpers/index.js';

const dir = tempDir('berth-api-test-');
const socketPath = join(dir.path, 'api.sock');
let server: ApiServer;
const errors: unknown[] = [];

const VERSION_BODY = {
  Platform: { Name: 'berth' },
  Components: [{ Name: 'Engine', Version: '0.1.0', Details: { ApiVersion: '1.47', MinAPIVersion: '1.24' } }],
  Version: '0.1.0-berthtest',
  ApiVersion: '1.47',
  MinAPIVersion: '1.24',
  GitCommit: 'abcdef0',
  GoVersion: 'node',
  Os: 'linux',
  Arch: 'amd64',
  KernelVersion: '6.1.0',
  BuildTime: '2026-01-01T00:00:00.000000000+00:00',
};

function routes(): Router {
  return (
    new Router()
      .get('/version', () => ({ json: VERSION_BODY }))
      .get('/echo/:id', (req) => ({
        json: {
          id: req.params.id,
          version: req.apiVersion,
          path: req.path,
          all: req.bool('all'),
          size: req.bool('size', true),
          limit: req.int('limit', 7),
          filters: Object.fromEntries(req.filters()),
          labels: req.jsonQuery('labels') ?? null,
        },
      }))
      .get('/images/:name+/json', (req) => ({ json: { name: req.params.name } }))
      .post('/body', async (req) => ({ status: 201, json: { got: await req.json() } }))
      .post('/nothing', () => {})
      .get('/text', () => ({ body: 'plain', headers: { 'X-Extra': '1' } }))
      .get('/conflict', () => {
        throw conflict('container abc is running');
      })
      .get('/missing', async () => {
        throw notFound('No such container: zzz');
      })
      .get('/boom', () => {
        throw new Error('kaboom');
      })
      .post('/progress', async (req) => {
        const s = jsonStream(req);
        s.write({ status: 'Pulling fs layer', id: 'abc' });
        await new Promise((r) => setTimeout(r, 5));
        if (req.bool('fail')) throw new Error('pull access denied');
        s.write({ status: 'Done' });
        s.end();
      })
      .get('/stream', () => {
        return {
          stream: Readable.from([Buffer.from('ab'), Buffer.from('cd')]),
          headers: { 'Content-Type': 'application/x-tar' },
        };
      })
      .post('/attach', async (req) => {
        const tty = req.bool('tty');
        const sock = await hijack(req, { multiplexed: !tty });
        if (tty) {
          sock.write('hello tty\n');
          // echo stdin back until the client half-closes
          sock.on('data', (b: Buffer) => sock.write(b));
          sock.on('end', () => sock.end());
          return;
        }
        const out = muxWriter(sock, 1);
        const err = muxWriter(sock, 2);
        out.write('to stdout\n');
        err.write('to stderr\n', () => sock.end());
      })
      .get('/slow', async (req) => {
        const s = jsonStream(req);
        for (let i = 0; i < 200 && !s.closed; i++) {
          s.write({ i, pad: 'x'.repeat(4000) });
          await s.drained();
          await new Promise((r) => setTimeout(r, 2));
        }
        s.end();
      })
      // just enough of a container and its exec instances for `docker exec`
      .get('/containers/:id/json', (req) => {
        if (req.params.id !== 'c1') throw notFound(`No such container: ${req.params.id}`);
        return {
          json: {
            Id: 'c1'.padEnd(64, '0'),
            Name: '/c1',
            State: { Running: true, Status: 'running' },
            Config: { Tty: false },
          },
        };
      })
      .post('/containers/:id/exec', async (req) => {
        if (req.params.id !== 'c1') throw notFound(`No such container: ${req.params.id}`);
        const body = await req.json<{ Cmd: string[]; Tty?: boolean }>();
        execs.set('e1', { cmd: body.Cmd, tty: !!body.Tty, exit: 0 });
        return { status: 201, json: { Id: 'e1' } };
      })
      .post('/exec/:id/start', async (req) => {
        const e = execs.get(req.params.id!);
        if (!e) throw notFound(`No such exec instance: ${req.params.id}`);
        await req.json();
        const sock = await hijack(req, { multiplexed: !e.tty });
        const out = e.tty ? sock : muxWriter(sock, 1);
        const err = e.tty ? sock : muxWriter(sock, 2);
        if (e.cmd[0] === 'upper') {
          // like `cat`, upper-cased: reads stdin until the client closes it
          await new Promise<void>((resolve) => {
            sock.on('data', (b: Buffer) => out.write(b.toString().toUpperCase()));
            sock.on('end', resolve);
          });
        } else {
          out.write(`${e.cmd.join(' ')}\n`);
          await new Promise<void>((resolve) => err.write('to stderr\n', () => resolve()));
          e.exit = 3;
        }
        sock.end();
      })
      .get('/exec/:id/json', (req) => {
        const e = execs.get(req.params.id!);
        if (!e) throw notFound(`No such exec instance: ${req.params.id}`);
        return {
          json: { ID: req.params.id, Running: false, ExitCode: e.exit, ProcessConfig: { tty: e.tty } },
        };
      })
  );
}

const execs = new Map<string, { cmd: string[]; tty: boolean; exit: number }>();

interface Res {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

function call(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Sends raw bytes and collects everything until the server closes or `until` matches. */
function raw(text: string | Buffer, until?: (got: string) => boolean, after?: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    const chunks: Buffer[] = [];
    let sentAfter = false;
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      const got = Buffer.concat(chunks).toString('latin1');
      if (after && !sentAfter && got.includes('\r\n\r\n')) {
        sentAfter = true;
        s.write(after);
        s.end();
      }
      if (until?.(got)) {
        s.destroy();
        resolve(Buffer.concat(chunks));
      }
    });
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.write(text);
  });
}

before(async () => {
  writeFileSync(join(dir.path, 'marker'), '');
  server = await createApiServer(routes(), { socketPath, onError: (e) => errors.push(e) });
});

after(async () => {
  await server?.close();
  dir.cleanup();
});

test('the socket is 0660 and refuses a second daemon', async () => {
  assert.equal(statSync(socketPath).mode & 0o777, 0o660);
  await assert.rejects(createApiServer(routes(), { socketPath }), /already listening/);
  const notSocket = join(dir.path, 'marker');
  await assert.rejects(createApiServer(routes(), { socketPath: notSocket }), /not a socket/);
  await assert.rejects(
    createApiServer(routes(), { socketPath: join(dir.path, 'g.sock'), socketGroup: 'no-such-group-xyz' }),
    /does not exist/,
  );
});

test('a stale socket file is replaced', async () => {
  const path = join(dir.path, 'stale.sock');
  // A crashed daemon leaves a bound socket file nobody listens on.
  execFileSync('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path]);
  assert.ok(existsSync(path));
  const srv = await createApiServer(routes(), { socketPath: path, socketGroup: 0 });
  await srv.close();
  assert.equal(existsSync(path), false);
});

test('_ping answers GET and HEAD with Docker headers', async () => {
  const get = await call('GET', '/_ping');
  assert.equal(get.status, 200);
  assert.equal(get.body, 'OK');
  assert.equal(get.headers['api-version'], '1.47');
  assert.equal(get.headers.ostype, 'linux');
  assert.equal(get.headers['docker-experimental'], 'false');
  assert.equal(get.headers['builder-version'], '1');
  assert.equal(get.headers['cache-control'], 'no-cache, no-store, must-revalidate');
  assert.equal(get.headers.pragma, 'no-cache');
  assert.match(String(get.headers.server), /^berth\/.* \(linux\)$/);
  const head = await call('HEAD', '/v1.40/_ping');
  assert.equal(head.status, 200);
  assert.equal(head.body, '');
  assert.equal(head.headers['api-version'], '1.47');
});

test('version prefixes: served range, too new, too old', async () => {
  const ok = await call('GET', '/v1.24/echo/x');
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.body).version, '1.24');
  assert.equal(JSON.parse(ok.body).path, '/echo/x');
  assert.equal(JSON.parse((await call('GET', '/echo/x')).body).version, '1.47');
  const tooNew = await call('GET', '/v1.50/echo/x');
  assert.equal(tooNew.status, 400);
  assert.equal(tooNew.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(tooNew.body), {
    message: 'client version 1.50 is too new. Maximum supported API version is 1.47',
  });
  const tooOld = await call('GET', '/v1.12/_ping');
  assert.equal(tooOld.status, 400);
  assert.match(
    JSON.parse(tooOld.body).message,
    /^client version 1.12 is too old. Minimum supported API version is 1.24/,
  );
});

test('unknown routes and wrong methods are 404 page not found', async () => {
  for (const [m, p] of [
    ['GET', '/nope'],
    ['DELETE', '/version'],
    ['GET', '/v1.47/nope/x'],
  ]) {
    const r = await call(m!, p!);
    assert.equal(r.status, 404, `${m} ${p}`);
    assert.deepEqual(JSON.parse(r.body), { message: 'page not found' });
  }
  const bad = await call('GET', '/echo/%zz');
  assert.equal(bad.status, 400);
});

test('query helpers parse like Docker and reject bad values', async () => {
  const q = new URLSearchParams({
    all: '1',
    size: '0',
    limit: '-3',
    filters: '{"status":{"running":true},"label":["a=b"]}',
    labels: '{"x":"y"}',
  });
  const r = JSON.parse((await call('GET', `/echo/i%2Fd?${q}`)).body);
  assert.deepEqual(r, {
    id: 'i/d',
    version: '1.47',
    path: '/echo/i%2Fd',
    all: true,
    size: false,
    limit: -3,
    filters: { status: ['running'], label: ['a=b'] },
    labels: { x: 'y' },
  });
  const defaults = JSON.parse((await call('GET', '/echo/x')).body);
  assert.equal(defaults.all, false);
  assert.equal(defaults.size, true);
  assert.equal(defaults.limit, 7);
  const badInt = await call('GET', '/echo/x?limit=ten');
  assert.equal(badInt.status, 400);
  assert.match(JSON.parse(badInt.body).message, /limit/);
  const badFilters = await call('GET', '/echo/x?filters=%7B');
  assert.equal(badFilters.status, 400);
  assert.match(JSON.parse(badFilters.body).message, /invalid filter/);
  const badLabels = await call('GET', '/echo/x?labels=nope');
  assert.equal(badLabels.status, 400);
  assert.match(JSON.parse(badLabels.body).message, /labels/);
});

test('greedy image names reach the handler', async () => {
  const r = await call('GET', '/v1.41/images/localhost:5000/a/b:tag/json');
  assert.deepEqual(JSON.parse(r.body), { name: 'localhost:5000/a/b:tag' });
});

test('JSON bodies: parsed, empty is {}, malformed is 400', async () => {
  const ok = await call('POST', '/body', '{"Image":"busybox"}', { 'Content-Type': 'application/json' });
  assert.equal(ok.status, 201);
  assert.deepEqual(JSON.parse(ok.body), { got: { Image: 'busybox' } });
  assert.ok(ok.body.endsWith('\n'));
  assert.deepEqual(JSON.parse((await call('POST', '/body')).body), { got: {} });
  const bad = await call('POST', '/body', '{"Image":', { 'Content-Type': 'application/json' });
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.body).message, /^invalid JSON: /);
});

test('results: 204 for nothing, text bodies with headers, piped streams', async () => {
  const none = await call('POST', '/nothing');
  assert.equal(none.status, 204);
  assert.equal(none.body, '');
  const text = await call('GET', '/text');
  assert.equal(text.body, 'plain');
  assert.equal(text.headers['x-extra'], '1');
  const s = await call('GET', '/stream');
  assert.equal(s.body, 'abcd');
  assert.equal(s.headers['content-type'], 'application/x-tar');
});

test('errors map to Docker error bodies with their status', async () => {
  const c = await call('GET', '/conflict');
  assert.equal(c.status, 409);
  assert.deepEqual(JSON.parse(c.body), { message: 'container abc is running' });
  const m = await call('GET', '/missing');
  assert.equal(m.status, 404);
  assert.deepEqual(JSON.parse(m.body), { message: 'No such container: zzz' });
  const before = errors.length;
  const b = await call('GET', '/boom');
  assert.equal(b.status, 500);
  assert.deepEqual(JSON.parse(b.body), { message: 'kaboom' });
  assert.equal(errors.length, before + 1, '500s are reported');
});

test('JSON progress streams, and errors after the stream started', async () => {
  const ok = await call('POST', '/progress');
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['content-type'], 'application/json');
  assert.deepEqual(
    ok.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l)),
    [{ status: 'Pulling fs layer', id: 'abc' }, { status: 'Done' }],
  );
  const failed = await call('POST', '/progress?fail=1');
  assert.equal(failed.status, 200);
  const lines = failed.body
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(lines[1], { errorDetail: { message: 'pull access denied' }, error: 'pull access denied' });
});

test('hijack with Upgrade: 101, multiplexed frames', async () => {
  const got = await raw(
    'POST /v1.47/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n',
  );
  const text = got.toString('latin1');
  assert.match(text, /^HTTP\/1.1 101 UPGRADED\r\n/);
  assert.match(text, /Content-Type: application\/vnd.docker.multiplexed-stream\r\n/);
  assert.match(text, /Upgrade: tcp\r\n/);
  const body = got.subarray(text.indexOf('\r\n\r\n') + 4);
  assert.equal(body[0], 1);
  assert.equal(body.readUInt32BE(4), 10);
  assert.equal(body.subarray(8, 18).toString(), 'to stdout\n');
  assert.equal(body[18], 2);
  assert.equal(body.subarray(26).toString(), 'to stderr\n');
  // API < 1.42 gets the raw-stream content type even when multiplexed
  const old = (
    await raw('POST /v1.41/attach HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
  ).toString('latin1');
  assert.match(old, /Content-Type: application\/vnd.docker.raw-stream\r\n/);
});

test('hijack with Upgrade: stdin reaches the handler (tty echo)', async () => {
  const got = await raw(
    'POST /attach?tty=1 HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n',
    undefined,
    'typed input\n',
  );
  const text = got.toString();
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  assert.equal(body, 'hello tty\ntyped input\n');
});

test('hijack with Upgrade: a body that arrives after the head is split from stdin', async () => {
  await call('POST', '/containers/c1/exec', '{"Cmd":["upper"]}', { 'Content-Type': 'application/json' });
  const body = '{"Detach":false,"Tty":false}';
  const got = await new Promise<Buffer>((resolve, reject) => {
    const s = connect(socketPath);
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.write(
      `POST /v1.47/exec/e1/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    setTimeout(() => s.write(body.slice(0, 5)), 10);
    setTimeout(() => {
      s.write(`${body.slice(5)}stdin text`);
      s.end();
    }, 30);
  });
  const text = got.toString('latin1');
  assert.match(text, /^HTTP\/1.1 101 UPGRADED\r\n/);
  const payload = got.subarray(text.indexOf('\r\n\r\n') + 4);
  assert.equal(payload[0], 1);
  assert.equal(payload.subarray(8).toString(), 'STDIN TEXT');
});

test('hijack without Upgrade: 200 and the raw stream until close', async () => {
  const r = await call('POST', '/attach?tty=1');
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], 'application/vnd.docker.raw-stream');
  assert.equal(r.body, 'hello tty\n');
});

test('an Upgrade request to a normal route gets a normal response', async () => {
  const got = (
    await raw('GET /missing HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n')
  ).toString();
  assert.match(got, /^HTTP\/1.1 404 Not Found\r\n/);
  assert.match(got, /\{"message":"No such container: zzz"\}/);
});

test('bad requests and disconnects never take the server down', async () => {
  const junk = (await raw('THIS IS NOT HTTP\r\n\r\n')).toString();
  assert.match(junk, /^HTTP\/1.1 400/);
  // client goes away in the middle of a stream, and in the middle of a body
  await raw('GET /slow HTTP/1.1\r\nHost: x\r\n\r\n', (got) => got.includes('"i":3'));
  await new Promise<void>((resolve) => {
    const s = connect(socketPath, () => {
      s.write('POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"a":');
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 20);
    });
  });
  const r = await call('GET', '/_ping');
  assert.equal(r.status, 200);
});

function docker(
  bin: string,
  args: string[],
  input?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      bin,
      args,
      { env: { ...process.env, DOCKER_HOST: `unix://${socketPath}`, DOCKER_CONFIG: dir.path } },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      },
    );
    child.stdin?.end(input ?? '');
  });
}

for (const bin of ['/usr/local/bin/docker', '/usr/bin/docker']) {
  test(`the real docker CLI (${bin}) negotiates and prints our /version`, {
    skip: !existsSync(bin),
  }, async () => {
    const r = await docker(bin, [
      'version',
      '--format',
      '{{.Server.Version}} {{.Server.APIVersion}} {{.Client.APIVersion}}',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const [serverVersion, serverApi, clientApi] = r.stdout.trim().split(' ');
    assert.equal(serverVersion, '0.1.0-berthtest');
    assert.equal(serverApi, '1.47');
    // the client negotiated down to (at most) our version
    assert.ok(Number.parseFloat(clientApi!.split('.')[1]!) <= 47, clientApi);
    const full = await docker(bin, ['version']);
    assert.equal(full.code, 0, full.stderr);
    assert.match(full.stdout, /Server: berth/);
  });
}

for (const bin of ['/usr/local/bin/docker', '/usr/bin/docker']) {
  test(`the real docker CLI (${bin}) runs exec through a hijacked stream`, {
    skip: !existsSync(bin),
  }, async () => {
    const r = await docker(bin, ['exec', 'c1', 'echo', 'hi']);
    assert.equal(r.stdout, 'echo hi\n');
    assert.equal(r.stderr, 'to stderr\n');
    assert.equal(r.code, 3, 'the exit code comes from GET /exec/{id}/json');
    const piped = await docker(bin, ['exec', '-i', 'c1', 'upper'], 'hello\nworld\n');
    assert.equal(piped.stdout, 'HELLO\nWORLD\n');
    assert.equal(piped.code, 0, piped.stderr);
    const missing = await docker(bin, ['exec', 'nope', 'true']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /No such container: nope/);
  });
}
