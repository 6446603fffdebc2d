// Networks, published ports and volumes through the docker CLI, with Docker's errors for bad input.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLIS, type Suite, setUp, skipReason, until } from './docker-cli-lib.js';

const skip = skipReason();

function curl(url: string): { status: number; body: string } {
  const r = spawnSync('curl', ['-s', '--max-time', '5', url], { encoding: 'utf8' });
  return { status: r.status ?? -1, body: r.stdout };
}

describe('docker networks, ports and volumes', { skip, concurrency: false }, () => {
  let s: Suite;
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    await s?.close();
  });
  for (const cli of CLIS)
    describe(cli.name, { concurrency: false }, () => {
      before(() => s.use(cli));

      test('two containers on a user network reach each other by name and alias', () => {
        const netId = s.ok(['network', 'create', 'e2enet']);
        assert.match(netId, /^[0-9a-f]{64}$/);
        s.ok([
          'run',
          '-d',
          '--name',
          'srv',
          '--network',
          'e2enet',
          '--network-alias',
          'web',
          'busybox',
          'sleep',
          '300',
        ]);
        assert.match(
          s.ok(['run', '--rm', '--network', 'e2enet', 'busybox', 'ping', '-c1', '-W2', 'srv']),
          /1 packets received/,
        );
        assert.match(
          s.ok(['run', '--rm', '--network', 'e2enet', 'busybox', 'ping', '-c1', '-W2', 'web']),
          /1 packets received/,
        );
        const insp = JSON.parse(s.ok(['network', 'inspect', 'e2enet'])) as {
          Containers: Record<string, { Name: string }>;
        }[];
        assert.deepEqual(
          Object.values(insp[0]?.Containers ?? {}).map((c) => c.Name),
          ['srv'],
        );
        // connect/disconnect a running container from the default bridge
        s.ok(['run', '-d', '--name', 'other', 'busybox', 'sleep', '300']);
        // (a container started on the default bridge keeps the host's resolver, so ping by address)
        const srvIp = s.ok(['inspect', '-f', '{{.NetworkSettings.Networks.e2enet.IPAddress}}', 'srv']);
        s.ok(['network', 'connect', 'e2enet', 'other']);
        assert.equal(s.ok(['exec', 'other', 'ls', '/sys/class/net']).split(/\s+/).length, 3);
        assert.match(s.ok(['exec', 'other', 'ping', '-c1', '-W2', srvIp]), /1 packets received/);
        s.ok(['network', 'disconnect', 'e2enet', 'other']);
        assert.equal(s.ok(['exec', 'other', 'ls', '/sys/class/net']).split(/\s+/).length, 2);
        const missing = s.cmd(['network', 'connect', 'nosuchnet', 'other']);
        assert.equal(missing.status, 1);
        assert.match(missing.stderr, /network nosuchnet not found/);
        const inUse = s.cmd(['network', 'rm', 'e2enet']);
        assert.equal(inUse.status, 1);
        assert.match(inUse.stderr, /has active endpoints/);
        s.ok(['rm', '-f', 'srv', 'other']);
        s.ok(['network', 'rm', 'e2enet']);
        const dup = s.cmd(['network', 'create', 'bridge']);
        assert.notEqual(dup.status, 0);
      });

      test('a published port serves busybox httpd to curl on 127.0.0.1', async () => {
        s.ok([
          'run',
          '-d',
          '--name',
          'httpd',
          '-p',
          '127.0.0.1::8080',
          'busybox',
          'sh',
          '-c',
          'mkdir -p /www && echo served-by-berth > /www/index.html && httpd -f -p 8080 -h /www',
        ]);
        const hostPort = s.ok(['port', 'httpd', '8080/tcp']).split(':').pop();
        assert.ok(Number(hostPort) > 0);
        const res = await until(() => {
          const r = curl(`http://127.0.0.1:${hostPort}/`);
          return r.status === 0 ? r : undefined;
        });
        assert.equal(res?.body, 'served-by-berth\n');
        s.ok(['rm', '-f', 'httpd']);
      });

      test('port in use and invalid port specs are refused with Docker’s messages', async () => {
        const server = createServer();
        await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
        const port = (server.address() as { port: number }).port;
        try {
          const busy = s.cmd([
            'run',
            '-d',
            '--name',
            'busyport',
            '-p',
            `127.0.0.1:${port}:80`,
            'busybox',
            'sleep',
            '30',
          ]);
          assert.equal(busy.status, 125);
          assert.match(busy.stderr, /address already in use|port is already allocated/);
          s.cmd(['rm', '-f', 'busyport']);
        } finally {
          server.close();
        }
        const bad = s.cmd(['run', '--rm', '-p', '99999:80', 'busybox', 'true']);
        assert.equal(bad.status, 125);
        assert.match(bad.stderr, /invalid (containerPort|hostPort|port)|Invalid hostPort/i);
      });

      test('a named volume keeps its data across containers; rm of a volume in use is a conflict', () => {
        assert.equal(s.ok(['volume', 'create', 'e2evol']), 'e2evol');
        s.ok(['run', '--rm', '-v', 'e2evol:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
        assert.equal(s.ok(['run', '--rm', '-v', 'e2evol:/data', 'busybox', 'cat', '/data/f']), 'kept');
        s.ok(['create', '--name', 'voluser', '-v', 'e2evol:/data', 'busybox', 'true']);
        const inUse = s.cmd(['volume', 'rm', 'e2evol']);
        assert.equal(inUse.status, 1);
        assert.match(inUse.stderr, /volume is in use/);
        s.ok(['rm', 'voluser']);
        assert.equal(s.ok(['run', '--rm', '-v', 'e2evol:/data:ro', 'busybox', 'cat', '/data/f']), 'kept');
        s.ok(['volume', 'rm', 'e2evol']);
        const gone = s.cmd(['volume', 'inspect', 'e2evol']);
        assert.equal(gone.status, 1);
        assert.match(gone.stderr, /no such volume/i);
      });

      test('an image’s content at a VOLUME path is copied into a fresh volume', () => {
        const root = join(s.tmp, 'volimg');
        mkdirSync(join(root, 'data'), { recursive: true });
        writeFileSync(join(root, 'data/seed.txt'), 'seeded');
        const tar = join(s.tmp, 'volimg.tar');
        execFileSync('tar', ['-C', root, '-cf', tar, '.']);
        s.ok(['import', '-c', 'VOLUME /data', tar, 'volimg:latest']);
        // The image layer has only /data: run busybox with the volume, then read it from busybox.
        s.ok(['create', '--name', 'seeder', '-v', 'seedvol:/data', 'volimg', 'none']);
        assert.equal(
          s.ok(['run', '--rm', '-v', 'seedvol:/data', 'busybox', 'cat', '/data/seed.txt']),
          'seeded',
        );
        s.ok(['rm', '-v', 'seeder']);
        s.ok(['volume', 'rm', 'seedvol']);
        // anonymous volume from the image's VOLUME, removed with rm -v
        s.ok(['create', '--name', 'anon', 'volimg', 'none']);
        const mounts = JSON.parse(s.ok(['inspect', '-f', '{{json .Mounts}}', 'anon'])) as {
          Type: string;
          Destination: string;
          Name: string;
        }[];
        assert.equal(mounts.length, 1);
        assert.equal(mounts[0]?.Type, 'volume');
        assert.equal(mounts[0]?.Destination, '/data');
        s.ok(['rm', '-v', 'anon']);
        assert.equal(s.cmd(['volume', 'inspect', mounts[0]?.Name ?? '']).status, 1);
      });

      test('invalid mount specs are refused', () => {
        const r = s.cmd([
          'run',
          '--rm',
          '--mount',
          'type=bind,source=/no/such/dir,target=/x',
          'busybox',
          'true',
        ]);
        assert.equal(r.status, 125);
        assert.match(r.stderr, /bind source path does not exist|no such file or directory/);
        const t = s.cmd(['run', '--rm', '--mount', 'type=bogus,target=/x', 'busybox', 'true']);
        assert.equal(t.status, 125);
      });
    });
});
