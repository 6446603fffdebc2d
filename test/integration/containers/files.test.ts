// cp / export / diff against a private berth daemon, with the real docker CLI and raw Engine API calls,
// including hostile paths and tars that must never write outside the container's rootfs.

import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pack as tarPack } from 'tar-stream';
import type { EngineError } from '../../../src/client/index.js';
import { startTestDaemon, type TestDaemon } from '../../helpers/daemon.js';
import { haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../../helpers/index.js';
import { startDockerd } from '../client/dockerd.js';

const skip = !isRoot() || !haveCommand('runc') ? 'needs root and runc' : false;

function docker(d: TestDaemon, args: string[], input?: Buffer) {
  const r = spawnSync('docker', args, { env: d.env, input, maxBuffer: 64 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
}

function ok(d: TestDaemon, args: string[], input?: Buffer): Buffer {
  const r = docker(d, args, input);
  assert.equal(r.code, 0, `docker ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** A tar built in memory from entries (for hostile archives). */
async function makeTar(
  entries: {
    name: string;
    type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device';
    body?: string;
    linkname?: string;
    devmajor?: number;
    devminor?: number;
  }[],
): Promise<Buffer> {
  const p = tarPack();
  for (const e of entries) {
    const { body, ...header } = e;
    p.entry({ mode: 0o644, ...header, size: body ? Buffer.byteLength(body) : 0 }, body ?? '');
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function tarList(tar: Buffer): string[] {
  return execFileSync('tar', ['-tf', '-'], { input: tar, maxBuffer: 64 << 20 })
    .toString()
    .split('\n')
    .filter(Boolean);
}

describe('container files', { skip }, () => {
  let d: TestDaemon;
  let tmp: { path: string; cleanup: () => void };
  const canary = '/tmp/berth-files-canary';

  before(async () => {
    d = await startTestDaemon();
    tmp = tempDir('berth-files-');
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    writeFileSync(join(rootfs, 'etc/motd'), 'hello from the image\n');
    mkdirSync(join(rootfs, 'data/sub'), { recursive: true });
    writeFileSync(join(rootfs, 'data/a.txt'), 'aaa');
    writeFileSync(join(rootfs, 'data/sub/b.txt'), 'bbb');
    symlinkSync('/', join(rootfs, 'rootlink'));
    symlinkSync('../../../../../../../../tmp', join(rootfs, 'uplink'));
    execFileSync('tar', ['-C', rootfs, '-cf', join(tmp.path, 'rootfs.tar'), '.']);
    ok(d, ['import', '-c', 'CMD ["sh"]', join(tmp.path, 'rootfs.tar'), 'busybox:latest']);
    writeFileSync(canary, 'untouched\n');
  });

  after(async () => {
    await d?.stop();
    tmp?.cleanup();
  });

  test('docker cp out of a running container: file, directory, /. contents, stdout tar', async () => {
    const id = ok(d, ['run', '-d', 'busybox', 'sleep', '300']).toString().trim();
    const out = join(tmp.path, 'out1');
    mkdirSync(out);
    ok(d, ['cp', `${id}:/etc/motd`, join(out, 'motd')]);
    assert.equal(readFileSync(join(out, 'motd'), 'utf8'), 'hello from the image\n');
    ok(d, ['cp', `${id}:/data`, join(out, 'copy')]);
    assert.equal(readFileSync(join(out, 'copy/sub/b.txt'), 'utf8'), 'bbb');
    mkdirSync(join(out, 'existing'));
    ok(d, ['cp', `${id}:/data`, join(out, 'existing')]);
    assert.equal(readFileSync(join(out, 'existing/data/a.txt'), 'utf8'), 'aaa');
    mkdirSync(join(out, 'contents'));
    ok(d, ['cp', `${id}:/data/.`, join(out, 'contents')]);
    assert.equal(readFileSync(join(out, 'contents/a.txt'), 'utf8'), 'aaa');
    const tar = ok(d, ['cp', `${id}:/data`, '-']);
    assert.deepEqual(tarList(tar).sort(), ['data/', 'data/a.txt', 'data/sub/', 'data/sub/b.txt']);
    ok(d, ['rm', '-f', id]);
  });

  test('docker cp into running and stopped containers; berth stat header', async () => {
    const id = ok(d, ['run', '-d', 'busybox', 'sleep', '300']).toString().trim();
    const src = join(tmp.path, 'src');
    mkdirSync(join(src, 'dir'), { recursive: true });
    writeFileSync(join(src, 'f.txt'), 'from host');
    writeFileSync(join(src, 'dir/inner.txt'), 'inner');
    ok(d, ['cp', join(src, 'f.txt'), `${id}:/tmp/`]);
    ok(d, ['cp', join(src, 'dir'), `${id}:/tmp/newdir`]);
    assert.equal(
      ok(d, ['exec', id, 'cat', '/tmp/f.txt', '/tmp/newdir/inner.txt']).toString(),
      'from hostinner',
    );
    ok(d, ['stop', '-t', '0', id]);
    ok(d, ['cp', join(src, 'f.txt'), `${id}:/stopped.txt`]);
    const back = join(tmp.path, 'back.txt');
    ok(d, ['cp', `${id}:/stopped.txt`, back]);
    assert.equal(readFileSync(back, 'utf8'), 'from host');
    const stat = await d.client.containers.statPath(id, '/data');
    assert.equal(stat?.name, 'data');
    assert.ok((stat?.mode ?? 0) >= 2 ** 31, 'ModeDir bit set');
    const link = await d.client.containers.statPath(id, '/rootlink');
    assert.equal(link?.linkTarget, '/');
    ok(d, ['rm', '-f', id]);
  });

  test('missing paths are 404 with Docker message; non-directory target is 400', async () => {
    const id = ok(d, ['create', '--name', 'files404', 'busybox']).toString().trim();
    await assert.rejects(d.client.containers.getArchive('files404', '/nope'), (err: EngineError) => {
      assert.equal(err.status, 404);
      assert.equal(err.message, 'Could not find the file /nope in container files404');
      return true;
    });
    const r = docker(d, ['cp', 'files404:/nope', tmp.path]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Could not find the file \/nope in container files404/);
    const tar = await makeTar([{ name: 'x', body: 'x' }]);
    await assert.rejects(d.client.containers.putArchive(id, '/etc/motd', tar), (err: EngineError) => {
      assert.equal(err.status, 400);
      assert.match(err.message, /not a directory/);
      return true;
    });
    await assert.rejects(
      d.client.containers.putArchive(id, '', tar),
      (err: EngineError) => err.status === 400,
    );
    ok(d, ['rm', '-f', id]);
  });

  test('hostile: container symlinks to / or .. never reach the host', async () => {
    const id = ok(d, ['create', 'busybox']).toString().trim();
    const src = join(tmp.path, 'berth-files-canary');
    writeFileSync(src, 'pwned\n');
    // /rootlink -> / and /uplink -> ../../../tmp: both resolve inside the rootfs.
    ok(d, ['cp', src, `${id}:/rootlink/tmp/`]);
    ok(d, ['cp', src, `${id}:/uplink/`]);
    const tar = await makeTar([{ name: 'berth-files-canary', body: 'pwned\n' }]);
    await d.client.containers.putArchive(id, '/uplink', tar);
    await d.client.containers.putArchive(id, '/etc/../../../../tmp', tar);
    assert.equal(readFileSync(canary, 'utf8'), 'untouched\n');
    // The writes landed inside the container.
    const back = join(tmp.path, 'canary-back');
    ok(d, ['cp', `${id}:/tmp/berth-files-canary`, back]);
    assert.equal(readFileSync(back, 'utf8'), 'pwned\n');
    // Reading through the link stays inside too: /rootlink/etc/motd is the container's file.
    const t = await d.client.containers.getArchive(id, '/uplink/../etc/motd');
    t.stream.resume();
    ok(d, ['rm', '-f', id]);
  });

  test('hostile tars: ../ entries and escaping symlinks refused; absolute symlinks stay inside', async () => {
    const id = ok(d, ['create', 'busybox']).toString().trim();
    const escaping = await makeTar([{ name: '../../../../../../tmp/berth-files-canary', body: 'pwned\n' }]);
    await assert.rejects(
      d.client.containers.putArchive(id, '/tmp', escaping),
      (err: EngineError) => err.status === 400,
    );
    const badLink = await makeTar([{ name: 'l', type: 'symlink', linkname: '../../../../../../../tmp' }]);
    await assert.rejects(
      d.client.containers.putArchive(id, '/tmp', badLink),
      (err: EngineError) => err.status === 400,
    );
    const badHard = await makeTar([
      { name: 'h', type: 'link', linkname: '../../../../../../tmp/berth-files-canary' },
    ]);
    await assert.rejects(
      d.client.containers.putArchive(id, '/tmp', badHard),
      (err: EngineError) => err.status === 400,
    );
    // An absolute symlink followed by an entry through it: resolved inside the rootfs, like Docker's chroot.
    const through = await makeTar([
      { name: 'abs', type: 'symlink', linkname: '/tmp' },
      { name: 'abs/berth-files-canary', body: 'pwned\n' },
    ]);
    await d.client.containers.putArchive(id, '/', through);
    assert.equal(readFileSync(canary, 'utf8'), 'untouched\n');
    const stat = await d.client.containers.statPath(id, '/tmp/berth-files-canary');
    assert.equal(stat?.size, 6);
    // Device files are created inside the container only (as Docker does as root).
    const dev = await makeTar([{ name: 'null2', type: 'character-device', devmajor: 1, devminor: 3 }]);
    await d.client.containers.putArchive(id, '/tmp', dev);
    const devStat = await d.client.containers.statPath(id, '/tmp/null2');
    assert.ok(((devStat?.mode ?? 0) & (2 ** 21)) !== 0, 'char device');
    ok(d, ['rm', '-f', id]);
  });

  test('read-only rootfs refuses PUT with 403', async () => {
    const id = ok(d, ['create', '--read-only', 'busybox']).toString().trim();
    const tar = await makeTar([{ name: 'x', body: 'x' }]);
    await assert.rejects(d.client.containers.putArchive(id, '/tmp', tar), (err: EngineError) => {
      assert.equal(err.status, 403);
      assert.equal(err.message, 'container rootfs is marked read-only');
      return true;
    });
    ok(d, ['rm', '-f', id]);
  });

  test('volumes, bind mounts and /etc/hosts are seen as the container sees them', async () => {
    const bind = join(tmp.path, 'bind');
    mkdirSync(bind);
    const robind = join(tmp.path, 'robind');
    mkdirSync(robind);
    const id = ok(d, [
      'run',
      '-d',
      '--read-only',
      '-v',
      'berthfilesvol:/vol',
      '-v',
      `${bind}:/bind`,
      '-v',
      `${robind}:/ro:ro`,
      'busybox',
      'sleep',
      '300',
    ])
      .toString()
      .trim();
    const src = join(tmp.path, 'vol-src.txt');
    writeFileSync(src, 'into the volume');
    ok(d, ['cp', src, `${id}:/vol/`]);
    assert.equal(ok(d, ['exec', id, 'cat', '/vol/vol-src.txt']).toString(), 'into the volume');
    ok(d, ['cp', src, `${id}:/bind/copied.txt`]);
    assert.equal(readFileSync(join(bind, 'copied.txt'), 'utf8'), 'into the volume');
    const tar = await makeTar([{ name: 'x', body: 'x' }]);
    await assert.rejects(d.client.containers.putArchive(id, '/ro', tar), (err: EngineError) => {
      assert.equal(err.status, 400);
      assert.equal(err.message, 'mounted volume is marked read-only');
      return true;
    });
    await assert.rejects(
      d.client.containers.putArchive(id, '/tmp', tar),
      (err: EngineError) => err.status === 403,
    );
    assert.ok(!existsSync(join(robind, 'x')));
    // /etc/hosts is the container's own file, not the image's.
    const hosts = join(tmp.path, 'hosts-copy');
    ok(d, ['cp', `${id}:/etc/hosts`, hosts]);
    assert.match(readFileSync(hosts, 'utf8'), new RegExp(id.slice(0, 12)));
    ok(d, ['rm', '-f', '-v', id]);
    ok(d, ['volume', 'rm', 'berthfilesvol']);
  });

  test('export and diff', async () => {
    const id = ok(d, [
      'run',
      '-d',
      'busybox',
      'sh',
      '-c',
      'echo new > /data/new.txt; echo changed > /etc/motd; rm /data/sub/b.txt; mkdir /added; sleep 300',
    ])
      .toString()
      .trim();
    for (let i = 0; i < 50; i++) {
      if (ok(d, ['exec', id, 'ls', '/']).toString().includes('added')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const diff = ok(d, ['diff', id]).toString().trim().split('\n');
    assert.deepEqual(
      diff,
      [
        'C /data',
        'A /data/new.txt',
        'C /data/sub',
        'D /data/sub/b.txt',
        'A /added',
        'C /etc',
        'C /etc/motd',
      ].sort((a, b) => a.slice(2).localeCompare(b.slice(2))),
    );
    const changes = await d.client.containers.changes(id);
    assert.deepEqual(
      changes.find((c) => c.Path === '/data/sub/b.txt'),
      { Path: '/data/sub/b.txt', Kind: 2 },
    );
    const exported = ok(d, ['export', id]);
    const names = tarList(exported);
    assert.ok(names.includes('data/new.txt'));
    assert.ok(names.includes('etc/motd'));
    assert.ok(!names.includes('data/sub/b.txt'));
    ok(d, ['stop', '-t', '0', id]);
    const stoppedExport = ok(d, ['export', id]);
    assert.ok(tarList(stoppedExport).includes('added/'));
    ok(d, ['rm', '-f', id]);
    assert.ok(existsSync(canary));
  });

  test('diff and path stats match a real dockerd on the same image and changes', {
    skip: !haveCommand('dockerd'),
  }, async () => {
    const dd = await startDockerd();
    try {
      const script =
        'echo > /data/new; rm /data/a.txt; rm -rf /data/sub && mkdir /data/sub && echo > /data/sub/c; ' +
        'mkdir /added; chmod 700 /etc; touch /etc/motd; ln -s x /newlink; sleep 300';
      const results: Record<string, { diff: string[]; stats: string[] }> = {};
      for (const [name, env] of [
        ['berth', d.env],
        ['docker', { ...process.env, DOCKER_HOST: dd.host }],
      ] as const) {
        const run = (args: string[]) => {
          const r = spawnSync('docker', args, { env, encoding: 'utf8' });
          assert.equal(r.status, 0, `${name}: docker ${args.join(' ')}: ${r.stderr}`);
          return r.stdout.trim();
        };
        if (name === 'docker')
          run(['import', '-c', 'CMD ["sh"]', join(tmp.path, 'rootfs.tar'), 'busybox:latest']);
        const id = run(['run', '-d', '--network', 'none', 'busybox', 'sh', '-c', script]);
        let diff: string[] = [];
        for (let i = 0; i < 50 && !diff.includes('A /newlink'); i++) {
          await new Promise((r) => setTimeout(r, 100));
          diff = run(['diff', id]).split('\n');
        }
        const stats: string[] = [];
        const sock = name === 'berth' ? d.socket : dd.socketPath;
        for (const p of ['/', '/data', '/data/.', '/rootlink', '/uplink', '/etc/motd', '/newlink', '/nope']) {
          const r = spawnSync(
            'curl',
            [
              '-s',
              '-I',
              '--unix-socket',
              sock,
              `http://x/v1.41/containers/${id}/archive?path=${encodeURIComponent(p)}`,
            ],
            { encoding: 'utf8' },
          );
          const h = /X-Docker-Container-Path-Stat: (\S+)/i.exec(r.stdout);
          if (!h) {
            stats.push(`${p}: ${r.stdout.split('\r')[0]}`);
            continue;
          }
          const { mtime, ...rest } = JSON.parse(Buffer.from(h[1]!, 'base64').toString()) as Record<
            string,
            unknown
          >;
          assert.match(String(mtime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
          stats.push(`${p}: ${JSON.stringify(rest)}`);
        }
        run(['rm', '-f', id]);
        results[name] = { diff, stats };
      }
      // Docker's order within a directory is Go map order: compare as sets, and berth's order is stable.
      assert.deepEqual([...results.berth!.diff].sort(), [...results.docker!.diff].sort());
      assert.deepEqual(results.berth!.stats, results.docker!.stats);
    } finally {
      await dd.stop();
    }
  });
});
