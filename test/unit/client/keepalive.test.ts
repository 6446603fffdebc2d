// Keep-alive sockets the server closed while the client sat idle: idempotent requests are re-sent on a
// fresh connection, idle sockets are dropped before the server's announced timeout.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { EngineClient } from '../../../src/client/index.js';
import { tempDir } from '../../helpers/index.js';

// The server runs in another process: the client blocks its own event loop to miss the server's close.
const SERVER = `
const http = require('node:http');
let conns = 0;
const server = http.createServer((req, res) => {
  const body = JSON.stringify({ conn: req.socket.connNo, method: req.method, url: req.url });
  req.resume();
  req.on('end', () => {
    res.setHeader('Api-Version', '1.47');
    res.setHeader('Content-Type', 'application/json');
    res.end(body);
  });
});
server.on('connection', (s) => { s.connNo = ++conns; });
server.keepAliveTimeout = Number(process.argv[2]);
server.listen(process.argv[1], () => process.stdout.write('ready\\n'));
`;

const dir = tempDir('berth-keepalive-unit-');
const KEEPALIVE_MS = 2000;
// Node's server closes an idle connection a second after its keepAliveTimeout.
const SERVER_CLOSES_AFTER_MS = KEEPALIVE_MS + 1000;
let child: ChildProcess;
let socket: string;

before(async () => {
  socket = join(dir.path, 'ka.sock');
  child = spawn(process.execPath, ['-e', SERVER, socket, String(KEEPALIVE_MS)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  assert.equal(data.toString().trim(), 'ready');
});

after(() => {
  child?.kill();
  dir.cleanup();
});

type Echo = { conn: number; method: string; url: string };

/** Blocks this thread (timers, socket events and all) for `ms`, like a CLI busy with synchronous work. */
function blockEventLoop(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

test('an idempotent request on a socket the server closed while the client was blocked is re-sent', async () => {
  const client = new EngineClient({ host: `unix://${socket}` });
  try {
    const first = await client.json<Echo>('GET', '/first');
    assert.equal(first.url, '/v1.47/first');
    // The ping and /first shared one kept-alive connection.
    const again = await client.json<Echo>('GET', '/again');
    assert.equal(again.conn, first.conn);
    // Idle past the server's keep-alive timeout without letting this process notice the close.
    blockEventLoop(SERVER_CLOSES_AFTER_MS + 500);
    const after = await client.json<Echo>('GET', '/after-idle');
    assert.equal(after.url, '/v1.47/after-idle');
    assert.ok(after.conn > first.conn, `expected a new connection, got ${after.conn} (first ${first.conn})`);
    // DELETE and PUT are idempotent too.
    blockEventLoop(SERVER_CLOSES_AFTER_MS + 500);
    assert.equal((await client.json<Echo>('DELETE', '/thing')).method, 'DELETE');
  } finally {
    client.close();
  }
});

test('a non-idempotent request on a dead reused socket fails with the socket error, not a retry', async () => {
  const client = new EngineClient({ host: `unix://${socket}` });
  try {
    await client.json<Echo>('GET', '/first');
    blockEventLoop(SERVER_CLOSES_AFTER_MS + 500);
    await assert.rejects(client.json<Echo>('POST', '/containers/x/start', { body: {} }), (err: Error) => {
      assert.match((err as NodeJS.ErrnoException).code ?? '', /^(ECONNRESET|EPIPE)$/);
      return true;
    });
    // The client stays usable.
    assert.equal((await client.json<Echo>('POST', '/next', { body: {} })).method, 'POST');
  } finally {
    client.close();
  }
});

test('an idle socket is dropped before the timeout the server announces, so nothing fails', async () => {
  const client = new EngineClient({ host: `unix://${socket}` });
  try {
    const first = await client.json<Echo>('POST', '/create', { body: { a: 1 } });
    // Node's server announces `Keep-Alive: timeout=2`; the client drops the socket a second before.
    await new Promise((r) => setTimeout(r, KEEPALIVE_MS + 500));
    const after = await client.json<Echo>('POST', '/create', { body: { a: 2 } });
    assert.ok(after.conn > first.conn);
  } finally {
    client.close();
  }
});
