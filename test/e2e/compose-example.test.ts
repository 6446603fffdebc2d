// [NETWORK, SLOW] examples/three-tier end to end: three images built from the Debian base image (apt-get
// from Debian's mirror through the bridge NAT), MariaDB initialised from .env, nginx → app → db, rows kept
// in a named volume across down/up — with berth compose on a berth daemon, and the same compose file with
// berth compose on a private real dockerd. A few minutes each; skipped when deb.debian.org does not answer
// or when BERTH_SKIP_NETWORK_TESTS is set. The Debian image is cached under /var/tmp/berth-test-cache.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { EngineClient } from '../../src/client/index.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { debianImageTar } from '../helpers/debian-image.js';
import { berthArgv, haveCommand } from '../helpers/index.js';
import { DOCKER, skipReason } from './docker-cli-lib.js';

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

/**
 * The example's life: up --build, two visits through nginx (two rows), the rows read back with the .env
 * user in the db container, down (the volume stays), up, and the next visit counts on from the kept rows.
 */
async function scenario(env: NodeJS.ProcessEnv, volumeExists: (name: string) => Promise<boolean>) {
  const up = compose(env, ['up', '-d', '--build']);
  assert.equal(up.status, 0, `${up.stderr}\n${up.stdout}`);
  const first = await visit();
  assert.match(first.database, /MariaDB/);
  const second = await visit();
  assert.equal(second.visits, first.visits + 1);
  // The database and user came from .env: the app's user reads the table the rows went to.
  const rows = compose(env, [
    'exec',
    '-T',
    'db',
    'sh',
    '-c',
    'mariadb -u"$MYSQL_USER" -p"$MYSQL_PASSWORD" -N -e "SELECT COUNT(*) FROM visits" "$MYSQL_DATABASE"',
  ]);
  assert.equal(rows.status, 0, rows.stderr);
  assert.equal(rows.stdout.trim(), String(second.visits));
  const down = compose(env, ['down', '-t', '10']);
  assert.equal(down.status, 0, down.stderr);
  assert.ok(await volumeExists(`${P}_dbdata`), 'down keeps the named volume');
  const again = compose(env, ['up', '-d']);
  assert.equal(again.status, 0, again.stderr);
  const third = await visit();
  assert.equal(third.visits, second.visits + 1, 'the named volume kept the rows');
  const gone = compose(env, ['down', '-v', '--rmi', 'local', '-t', '10']);
  assert.equal(gone.status, 0, gone.stderr);
  assert.equal(await volumeExists(`${P}_dbdata`), false, 'down -v removes the volume');
}

const volumeProbe = (client: EngineClient) => async (name: string) => {
  try {
    await client.volumes.inspect(name);
    return true;
  } catch (err) {
    if ((err as { status?: number }).status === 404) return false;
    throw err;
  }
};

describe('[network, slow] examples/three-tier on berth', { skip }, () => {
  let d: TestDaemon;
  before(async () => {
    d = await startTestDaemon();
    const tar = await debianImageTar('bookworm');
    const load = spawnSync(DOCKER, ['load', '-i', tar], { env: d.env, encoding: 'utf8' });
    assert.equal(load.status, 0, load.stderr);
  });
  after(async () => {
    if (!d) return;
    compose(d.env, ['down', '-v', '--rmi', 'local', '-t', '5']);
    await d.stop();
  });

  test('up --build, rows written and read through nginx, kept across down/up', async () => {
    await scenario(d.env, volumeProbe(d.client));
  });
});

/**
 * A private dockerd for the same compose file. startDockerd()'s daemon has no bridge, and its builds
 * need the mirror: this one gets a bridge of its own with an outbound MASQUERADE rule (dockerd's own
 * iptables management stays off so it leaves the host's chains alone) and an address pool of its own.
 */
async function dockerdWithBridge(): Promise<{ host: string; client: EngineClient; stop(): Promise<void> }> {
  const r = Math.floor(Math.random() * 60);
  const bridge = `bdk${Math.random().toString(16).slice(2, 8)}`;
  const subnet = `10.199.${r}.0/24`;
  const masq = ['-t', 'nat', '-s', subnet, '!', '-o', bridge, '-j', 'MASQUERADE'];
  const dir = mkdtempSync('/tmp/bdk-');
  const socket = join(dir, 'd.sock');
  let child: ChildProcess | undefined;
  let log = '';
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((res) => child?.once('exit', res));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child?.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
    const mounts = readFileSync('/proc/mounts', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[1] ?? '')
      .filter((m) => m.startsWith(dir))
      .sort((a, b) => b.length - a.length);
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    rmSync(dir, { recursive: true, force: true });
    spawnSync('iptables', ['-D', 'POSTROUTING', ...masq]);
    spawnSync('ip', ['link', 'del', bridge]);
  };
  const sh = (cmd: string, args: string[]) => {
    const x = spawnSync(cmd, args, { encoding: 'utf8' });
    if (x.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${x.stderr}`);
  };
  try {
    sh('ip', ['link', 'add', bridge, 'type', 'bridge']);
    sh('ip', ['addr', 'add', `10.199.${r}.1/24`, 'dev', bridge]);
    sh('ip', ['link', 'set', bridge, 'up']);
    sh('iptables', ['-A', 'POSTROUTING', ...masq]);
    child = spawn(
      'dockerd',
      [
        ...['--data-root', join(dir, 'root'), '--exec-root', join(dir, 'exec')],
        ...['--pidfile', join(dir, 'd.pid'), '-H', `unix://${socket}`],
        ...[`--bridge=${bridge}`, '--iptables=false', '--ip6tables=false'],
        ...['--default-address-pool', `base=10.198.${r * 4}.0/22,size=26`],
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    child.stderr?.on('data', (b: Buffer) => {
      log = (log + b.toString()).slice(-8000);
    });
    const client = new EngineClient({ host: `unix://${socket}` });
    for (let i = 0; ; i++) {
      try {
        await client.ping();
        break;
      } catch (err) {
        if (i > 300 || child.exitCode !== null) throw new Error(`dockerd did not start: ${err}\n${log}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    }
    return {
      host: `unix://${socket}`,
      client,
      stop: async () => {
        client.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

describe('[network, slow] examples/three-tier with berth compose on a real dockerd', {
  skip: skip ?? (haveCommand('dockerd') ? undefined : 'needs dockerd'),
}, () => {
  let dk: Awaited<ReturnType<typeof dockerdWithBridge>> | undefined;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    dk = await dockerdWithBridge();
    env = { ...process.env, DOCKER_HOST: dk.host, BERTH_HOST: dk.host };
    const load = spawnSync(DOCKER, ['load', '-i', await debianImageTar('bookworm')], {
      env,
      encoding: 'utf8',
    });
    assert.equal(load.status, 0, load.stderr);
  });
  after(async () => {
    if (!dk) return;
    compose(env, ['down', '-v', '--rmi', 'local', '-t', '5']);
    await dk.stop();
  });

  test('the same compose file: up --build, rows through nginx, kept across down/up', async () => {
    assert.ok(dk);
    await scenario(env, volumeProbe(dk.client));
  });
});
