// examples/three-tier end to end: three images built from the Debian base image (apt-get from the Debian
// mirror), MariaDB initialised from .env, nginx → app → db, data kept in a named volume across down/up.
// Slow (package downloads): runs only with BERTH_SLOW_TESTS=1.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { debianImageTar } from '../helpers/debian-image.js';
import { berthArgv } from '../helpers/index.js';
import { skipReason } from './docker-cli-lib.js';

const TSX = import.meta.resolve('tsx');
// The CLI with tsx resolved from here: these tests run it from other working directories.
const BERTH = berthArgv().map((a) => (a === 'tsx' ? TSX : a));
const EXAMPLE = join(import.meta.dirname, '../../examples/three-tier');
const skip = skipReason() ?? (process.env.BERTH_SLOW_TESTS === '1' ? undefined : 'set BERTH_SLOW_TESTS=1');
const P = `tt${Math.random().toString(16).slice(2, 8)}`;
const PORT = String(20000 + Math.floor(Math.random() * 20000));
let d: TestDaemon;

function compose(args: string[]) {
  const r = spawnSync(process.execPath, [...BERTH, 'compose', '-p', P, ...args], {
    cwd: EXAMPLE,
    env: { ...d.env, HTTP_PORT: PORT },
    encoding: 'utf8',
    timeout: 1_800_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

async function get(): Promise<{ visits: number; database: string }> {
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${PORT}/`);
      if (res.ok) return (await res.json()) as { visits: number; database: string };
      if (i > 60) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    } catch (err) {
      if (i > 60) throw err;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

before(async () => {
  if (skip) return;
  d = await startTestDaemon();
  const tar = await debianImageTar('bookworm');
  const load = spawnSync('docker', ['load', '-i', tar], { env: d.env, encoding: 'utf8' });
  assert.equal(load.status, 0, load.stderr);
});

after(async () => {
  if (skip) return;
  compose(['down', '-v', '--rmi', 'local', '-t', '5']);
  await d.stop();
});

test('three-tier: up --build, visits counted through nginx, data survives down/up', { skip }, async () => {
  const up = compose(['up', '-d', '--build']);
  assert.equal(up.status, 0, `${up.stderr}\n${up.stdout}`);
  const first = await get();
  assert.match(first.database, /MariaDB/);
  const second = await get();
  assert.equal(second.visits, first.visits + 1);
  assert.equal(compose(['down', '-t', '5']).status, 0);
  assert.equal(compose(['up', '-d']).status, 0);
  const third = await get();
  assert.equal(third.visits, second.visits + 1, 'the named volume kept the visits');
});
