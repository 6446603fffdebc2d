// [NETWORK, SLOW] examples/three-tier end to end: three images built from the Debian base image (apt-get
// from Debian's mirror through the bridge NAT), MariaDB initialised from .env, nginx → app → db, rows kept
// in a named volume across down/up. A few minutes; skipped when deb.debian.org does not answer or when
// BERTH_SKIP_NETWORK_TESTS is set. The Debian image is cached under /var/tmp/berth-test-cache.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { debianImageTar } from '../helpers/debian-image.js';
import { berthArgv } from '../helpers/index.js';
import { skipReason } from './docker-cli-lib.js';

const TSX = import.meta.resolve('tsx');
// The CLI with tsx resolved from here: these tests run it from other working directories.
const BERTH = berthArgv().map((a) => (a === 'tsx' ? TSX : a));
const EXAMPLE = join(import.meta.dirname, '../../examples/three-tier');

function mirrorAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(
      'http://deb.debian.org/debian/dists/bookworm/Release',
      { method: 'HEAD', timeout: 5000 },
      (res) => {
        res.resume();
        resolve((res.statusCode ?? 500) < 400);
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

const skip =
  skipReason() ??
  (process.env.BERTH_SKIP_NETWORK_TESTS
    ? 'BERTH_SKIP_NETWORK_TESTS is set'
    : !(await mirrorAnswers())
      ? 'deb.debian.org does not answer (network test)'
      : undefined);
const P = `tt${Math.random().toString(16).slice(2, 8)}`;
const PORT = String(20000 + Math.floor(Math.random() * 20000));

interface Result {
  status: number;
  stdout: string;
  stderr: string;
}

function compose(env: NodeJS.ProcessEnv, args: string[]): Result {
  const r = spawnSync(process.execPath, [...BERTH, 'compose', '-p', P, ...args], {
    cwd: EXAMPLE,
    env: { ...env, HTTP_PORT: PORT },
    encoding: 'utf8',
    timeout: 1_200_000,
  });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

interface Visit {
  visits: number;
  database: string;
}

/** GET / through nginx (retried while the stack settles); each call inserts one row. */
async function visit(): Promise<Visit> {
  for (let i = 0; ; i++) {
    try {
      const res = await fetch(`http://127.0.0.1:${PORT}/`);
      if (res.ok) return (await res.json()) as Visit;
      if (i > 60) throw new Error(`HTTP ${res.status}: ${await res.text()}`);
    } catch (err) {
      if (i > 60) throw err;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe('[network, slow] examples/three-tier on berth', { skip }, () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon();
    const tar = await debianImageTar('bookworm');
    const load = spawnSync('docker', ['load', '-i', tar], { env: d.env, encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
  });
  after(async () => {
    if (!d) return;
    compose(d.env, ['down', '-v', '--rmi', 'local', '-t', '5']);
    await d.stop();
  });

  test('up --build, rows written and read through nginx, kept across down/up', async () => {
    const up = compose(d.env, ['up', '-d', '--build']);
    assert.equal(up.status, 0, `${up.stderr}\n${up.stdout}`);
    const first = await visit();
    assert.match(first.database, /MariaDB/);
    const second = await visit();
    assert.equal(second.visits, first.visits + 1);
    // The database and user came from .env: the app's user reads the table the rows went to.
    const rows = compose(d.env, [
      'exec',
      '-T',
      'db',
      'sh',
      '-c',
      'mariadb -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -N -e "SELECT COUNT(*) FROM visits" "$MYSQL_DATABASE"',
    ]);
    assert.equal(rows.status, 0, rows.stderr);
    assert.equal(rows.stdout.trim(), String(second.visits));
    const down = compose(d.env, ['down', '-t', '5']);
    assert.equal(down.status, 0, down.stderr);
    const vol = spawnSync('docker', ['volume', 'inspect', `${P}_dbdata`], { env: d.env, encoding: 'utf8' });
    assert.equal(vol.status, 0, `down keeps the named volume: ${vol.stderr}`);
    const again = compose(d.env, ['up', '-d']);
    assert.equal(again.status, 0, again.stderr);
    const third = await visit();
    assert.equal(third.visits, second.visits + 1, 'the named volume kept the rows');
  });
});
