import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ANONYMOUS_LABEL, VolumeService } from '../../../src/volumes/index.js';
import { tempDir } from '../../helpers/index.js';

async function withService(
  fn: (svc: VolumeService, root: string) => Promise<void>,
  usedBy?: (name: string) => string[],
): Promise<void> {
  const dir = tempDir('berth-vol-unit-');
  try {
    const svc = new VolumeService(dir.path, { usedBy });
    await svc.init();
    await fn(svc, dir.path);
  } finally {
    dir.cleanup();
  }
}

const status = (s: number, message?: string | RegExp) => (err: Error & { status?: number }) => {
  assert.equal(err.status, s, err.message);
  if (typeof message === 'string') assert.equal(err.message, message);
  else if (message) assert.match(err.message, message);
  return true;
};

test('create/inspect: layout on disk and Docker Volume shape', async () => {
  await withService(async (svc, root) => {
    const v = await svc.create({ Name: 'db-data', Labels: { app: 'db' } });
    assert.equal(v.Name, 'db-data');
    assert.equal(v.Driver, 'local');
    assert.equal(v.Scope, 'local');
    assert.equal(v.Mountpoint, join(root, 'volumes/db-data/_data'));
    assert.deepEqual(v.Labels, { app: 'db' });
    assert.equal(v.Options, null);
    assert.match(v.CreatedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(existsSync(v.Mountpoint));
    const meta = JSON.parse(readFileSync(join(root, 'volumes/db-data/meta.json'), 'utf8'));
    assert.equal(meta.Name, 'db-data');
    assert.deepEqual(await svc.inspect('db-data'), v);
    // Same name again returns the existing volume (Docker does not compare options).
    const again = await svc.create({ Name: 'db-data', Labels: { other: 'x' } });
    assert.deepEqual(again, v);
    // Labels/Options echo what the request had: null when absent, {} when empty.
    const bare = await svc.create({ Name: 'bare' });
    assert.deepEqual([bare.Labels, bare.Options], [null, null]);
    const empty = await svc.create({ Name: 'empty', Labels: {}, DriverOpts: {} });
    assert.deepEqual([empty.Labels, empty.Options], [{}, {}]);
    // Generated names are 64 hex digits.
    const anon = await svc.create({});
    assert.match(anon.Name, /^[0-9a-f]{64}$/);
    // A fresh service reads the same state back.
    const svc2 = new VolumeService(root);
    await svc2.init();
    assert.deepEqual(await svc2.inspect('db-data'), v);
  });
});

test('create: Docker name and option errors, nothing left behind', async () => {
  await withService(async (svc, root) => {
    await assert.rejects(
      svc.create({ Name: 'a' }),
      status(400, 'create a: volume name is too short, names should be at least two alphanumeric characters'),
    );
    await assert.rejects(
      svc.create({ Name: 'bad name' }),
      status(
        400,
        'create bad name: "bad name" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path',
      ),
    );
    await assert.rejects(svc.create({ Name: '_x' }), status(400, /invalid characters/));
    await assert.rejects(
      svc.create({ Name: 'vv', DriverOpts: { foo: 'bar' } }),
      status(400, 'create vv: invalid option: "foo"'),
    );
    await assert.rejects(
      svc.create({ Name: 'vv', DriverOpts: { type: 'tmpfs' } }),
      status(400, 'create vv: missing required option: "device"'),
    );
    await assert.rejects(svc.create({ Name: 'vv', DriverOpts: { size: '1g' } }), status(400, /quota/));
    await assert.rejects(
      svc.create({ Name: 'vv', DriverOpts: { type: 'none', o: 'bind', device: '/nope/berth-missing' } }),
      status(400, 'create vv: bind source path does not exist: /nope/berth-missing'),
    );
    await assert.rejects(
      svc.create({ Name: 'vv', Driver: 'nfs-plugin' }),
      status(404, /plugin "nfs-plugin" not found/),
    );
    assert.deepEqual(
      readdirSync(join(root, 'volumes')).filter((n) => n !== '.refs'),
      [],
    );
  });
});

test('remove: 404 for unknown, 409 while used, force ignores unknown', async () => {
  const users = new Map<string, string[]>();
  await withService(
    async (svc, root) => {
      await assert.rejects(svc.remove('ghost'), status(404, 'get ghost: no such volume'));
      await svc.remove('ghost', { force: true });
      await svc.create({ Name: 'busy' });
      users.set('busy', ['c2', 'c1']);
      await assert.rejects(svc.remove('busy'), status(409, 'remove busy: volume is in use - [c1, c2]'));
      await assert.rejects(svc.remove('busy', { force: true }), status(409));
      users.delete('busy');
      await svc.remove('busy');
      assert.equal(existsSync(join(root, 'volumes/busy')), false);
      await assert.rejects(svc.inspect('busy'), status(404));
    },
    (name) => users.get(name) ?? [],
  );
});

test('list filters: name, label, driver, dangling; bad filters', async () => {
  await withService(async (svc) => {
    await svc.create({ Name: 'web-cache', Labels: { tier: 'web', env: 'prod' } });
    await svc.create({ Name: 'db-data', Labels: { tier: 'db' } });
    await svc.resolveMounts({ containerId: 'c1', binds: ['db-data:/data'] });
    const names = async (f?: Record<string, string[]>) => (await svc.list(f)).Volumes.map((v) => v.Name);
    assert.deepEqual(await names(), ['db-data', 'web-cache']);
    assert.deepEqual(await names({ name: ['cache'] }), ['web-cache']);
    assert.deepEqual(await names({ name: ['^db'] }), ['db-data']);
    assert.deepEqual(await names({ label: ['tier'] }), ['db-data', 'web-cache']);
    assert.deepEqual(await names({ label: ['tier=web', 'env=prod'] }), ['web-cache']);
    assert.deepEqual(await names({ label: ['tier=web', 'env=dev'] }), []);
    assert.deepEqual(await names({ driver: ['local'] }), ['db-data', 'web-cache']);
    assert.deepEqual(await names({ dangling: ['true'] }), ['web-cache']);
    assert.deepEqual(await names({ dangling: ['0'] }), ['db-data']);
    const legacy = await svc.list({ dangling: { true: true } });
    assert.deepEqual(
      legacy.Volumes.map((v) => v.Name),
      ['web-cache'],
    );
    assert.deepEqual(legacy.Warnings, []);
    await assert.rejects(svc.list({ colour: ['red'] }), status(400, "invalid filter 'colour'"));
    await assert.rejects(svc.list({ dangling: ['maybe'] }), status(400, "invalid filter 'dangling=maybe'"));
  });
});

test('prune: only unused anonymous volumes unless all=true; label filters; df usage', async () => {
  await withService(async (svc) => {
    await svc.create({ Name: 'named1', Labels: { keep: 'yes' } });
    await svc.create({ Name: 'named2' });
    const r = await svc.resolveMounts({
      containerId: 'c1',
      binds: ['/anon-used'],
      imageVolumes: { '/img': {} },
    });
    assert.equal(r.mountPoints.length, 2);
    const unusedAnon = (await svc.resolveMounts({ containerId: 'c2', binds: ['/tmpanon'] })).mountPoints[0]!
      .Name!;
    await svc.releaseMounts('c2');
    writeFileSync(join(svc.mountpoint(unusedAnon), 'f'), 'hello');
    const anonVol = await svc.inspect(unusedAnon);
    assert.equal(anonVol.Labels![ANONYMOUS_LABEL], '');
    const df = await svc.df();
    const usage = Object.fromEntries(df.map((v) => [v.Name, v.UsageData]));
    assert.deepEqual(usage[unusedAnon], { Size: 5, RefCount: 0 });
    assert.equal(usage[r.mountPoints[0]!.Name!]!.RefCount, 1);

    const p1 = await svc.prune();
    assert.deepEqual(p1, { VolumesDeleted: [unusedAnon], SpaceReclaimed: 5 });
    const p2 = await svc.prune({ all: ['true'], 'label!': ['keep'] });
    assert.deepEqual(p2.VolumesDeleted, ['named2']);
    const p3 = await svc.prune({ all: ['1'], label: ['keep=yes'] });
    assert.deepEqual(p3.VolumesDeleted, ['named1']);
    // In-use anonymous volumes survive.
    assert.equal((await svc.list()).Volumes.length, 2);
    await assert.rejects(svc.prune({ dangling: ['true'] }), status(400, "invalid filter 'dangling'"));
  });
});

test('resolveMounts: binds, named, anonymous, tmpfs, OCI options and MountPoints', async () => {
  await withService(async (svc, root) => {
    const host = join(root, 'host');
    mkdirSync(host);
    const missing = join(root, 'created/by/-v');
    await svc.create({ Name: 'named' });
    mkdirSync(join(svc.mountpoint('named'), 'x'));
    const r = await svc.resolveMounts({
      containerId: 'c1',
      binds: [`${host}:/mnt/host:ro,rprivate`, 'named:/data', '/anon', `${missing}:/made`],
      mounts: [
        { Type: 'tmpfs', Target: '/scratch', TmpfsOptions: { SizeBytes: 1024 * 1024, Mode: 0o700 } },
        { Type: 'volume', Source: 'named', Target: '/data/sub', VolumeOptions: { Subpath: 'x' } },
      ],
      tmpfs: { '/run': 'exec,size=64m' },
    });
    assert.ok(existsSync(missing), '-v creates a missing host directory');
    const byDest = Object.fromEntries(r.ociMounts.map((m) => [m.destination, m]));
    assert.deepEqual(byDest['/mnt/host'], {
      source: host,
      destination: '/mnt/host',
      type: 'bind',
      options: ['rbind', 'rro', 'rprivate'],
    });
    assert.deepEqual(byDest['/data'], {
      source: svc.mountpoint('named'),
      destination: '/data',
      type: 'bind',
      options: ['rbind'],
    });
    assert.equal(byDest['/data/sub']!.source, `${svc.mountpoint('named')}/x`);
    assert.deepEqual(byDest['/run']!.options, ['nosuid', 'nodev', 'rprivate', 'exec', 'size=64m']);
    assert.deepEqual(byDest['/scratch']!.options, [
      'noexec',
      'nosuid',
      'nodev',
      'rprivate',
      'mode=700',
      'size=1m',
    ]);
    // Parents before children.
    assert.ok(
      r.ociMounts.findIndex((m) => m.destination === '/data') <
        r.ociMounts.findIndex((m) => m.destination === '/data/sub'),
    );
    const mp = Object.fromEntries(r.mountPoints.map((m) => [m.Destination, m]));
    assert.equal(mp['/run'], undefined, 'HostConfig.Tmpfs is not listed in Mounts');
    assert.deepEqual(mp['/mnt/host'], {
      Type: 'bind',
      Source: host,
      Destination: '/mnt/host',
      Mode: 'ro,rprivate',
      RW: false,
      Propagation: 'rprivate',
    });
    assert.deepEqual(mp['/data'], {
      Type: 'volume',
      Name: 'named',
      Source: svc.mountpoint('named'),
      Destination: '/data',
      Driver: 'local',
      Mode: 'z',
      RW: true,
      Propagation: '',
    });
    assert.match(mp['/anon']!.Name!, /^[0-9a-f]{64}$/);
    assert.deepEqual(mp['/scratch'], {
      Type: 'tmpfs',
      Source: '',
      Destination: '/scratch',
      Mode: '',
      RW: true,
      Propagation: '',
    });
    assert.deepEqual(svc.usedBy('named'), ['c1']);
    // Plain ro when recursive read-only is off (older API clients) or asked off per mount.
    const plain = await svc.resolveMounts({
      containerId: 'c8',
      binds: [`${host}:/a:ro`, 'named:/v:ro'],
      mounts: [
        {
          Type: 'bind',
          Source: host,
          Target: '/b',
          ReadOnly: true,
          BindOptions: { ReadOnlyNonRecursive: true },
        },
      ],
      recursiveReadOnly: false,
    });
    assert.deepEqual(
      plain.ociMounts.map((m) => m.options),
      [
        ['rbind', 'ro', 'rprivate'],
        ['rbind', 'ro'],
        ['rbind', 'ro', 'rprivate'],
      ],
    );
    const forced = await svc.resolveMounts({
      containerId: 'c8',
      mounts: [
        {
          Type: 'bind',
          Source: host,
          Target: '/b',
          ReadOnly: true,
          BindOptions: { ReadOnlyNonRecursive: true },
        },
        {
          Type: 'bind',
          Source: host,
          Target: '/c',
          ReadOnly: true,
          BindOptions: { ReadOnlyForceRecursive: true },
        },
      ],
      recursiveReadOnly: false,
    });
    assert.deepEqual(
      forced.ociMounts.map((m) => m.options[1]),
      ['ro', 'rro'],
    );
    await svc.releaseMounts('c8');
    // A subpath must exist and cannot climb out of its volume through a symlink.
    symlinkSync('/../../..', join(svc.mountpoint('named'), 'up'));
    await assert.rejects(
      svc.resolveMounts({
        containerId: 'c9',
        mounts: [{ Type: 'volume', Source: 'named', Target: '/s', VolumeOptions: { Subpath: 'nope' } }],
      }),
      status(400, /subpath nope does not exist in volume named/),
    );
    const up = await svc.resolveMounts({
      containerId: 'c9',
      mounts: [{ Type: 'volume', Source: 'named', Target: '/s', VolumeOptions: { Subpath: 'up' } }],
    });
    assert.equal(up.ociMounts[0]!.source, svc.mountpoint('named'));
    await svc.releaseMounts('c9');
    // Resolving again (next start) reuses the anonymous volume.
    const again = await svc.resolveMounts({
      containerId: 'c1',
      binds: [`${host}:/mnt/host:ro,rprivate`, 'named:/data', '/anon', `${missing}:/made`],
    });
    assert.equal(again.mountPoints.find((m) => m.Destination === '/anon')!.Name, mp['/anon']!.Name);
  });
});

test('resolveMounts precedence: explicit mounts override image volumes and volumes-from; duplicates error', async () => {
  await withService(async (svc, root) => {
    const src = await svc.resolveMounts({ containerId: 'src', binds: ['shared:/shared', '/only-src'] });
    const r = await svc.resolveMounts({
      containerId: 'c2',
      volumesFrom: [{ spec: 'src:ro', mountPoints: src.mountPoints }],
      binds: [`${root}:/only-src`],
      imageVolumes: { '/shared': {}, '/var/lib/x': {}, '/only-src': {} },
    });
    const mp = Object.fromEntries(r.mountPoints.map((m) => [m.Destination, m]));
    assert.equal(mp['/shared']!.Name, 'shared', 'volumes-from wins over an image volume');
    assert.equal(mp['/shared']!.RW, false, ':ro makes the inherited mount read-only');
    assert.equal(mp['/only-src']!.Type, 'bind', '-v wins over volumes-from');
    assert.equal(mp['/var/lib/x']!.Type, 'volume');
    assert.equal(mp['/var/lib/x']!.Mode, '', 'image volumes have no mode, as in Docker');
    assert.deepEqual(svc.usedBy('shared'), ['c2', 'src']);

    await assert.rejects(
      svc.resolveMounts({ containerId: 'c3', binds: ['a1:/data', 'b1:/data/'] }),
      status(400, 'Duplicate mount point: /data'),
    );
    await assert.rejects(
      svc.resolveMounts({
        containerId: 'c3',
        binds: ['a1:/data'],
        mounts: [{ Type: 'volume', Source: 'b1', Target: '/data' }],
      }),
      status(400, 'Duplicate mount point: /data'),
    );
    await assert.rejects(
      svc.resolveMounts({ containerId: 'c3', binds: ['a1:/run'], tmpfs: { '/run': '' } }),
      status(400, 'Duplicate mount point: /run'),
    );
    await assert.rejects(
      svc.resolveMounts({
        containerId: 'c3',
        mounts: [{ Type: 'bind', Source: '/nope/berth', Target: '/x' }],
      }),
      status(400, 'invalid mount config for type "bind": bind source path does not exist: /nope/berth'),
    );
    await assert.rejects(
      svc.resolveMounts({ containerId: 'c3', binds: ['a1:/a', 'bad name:/b'] }),
      status(400, /includes invalid characters/),
    );
    // None of the failed calls left a volume or a reference behind.
    assert.equal(svc.has('a1'), false);
    assert.equal(svc.containerRefs('c3'), undefined);
  });
});

test('releaseMounts: rm -v removes the container anonymous volumes only, not shared or named ones', async () => {
  await withService(async (svc) => {
    const a = await svc.resolveMounts({ containerId: 'c1', binds: ['keepme:/k', '/anon1', '/anon2'] });
    const anon = a.mountPoints.filter((m) => m.Destination.startsWith('/anon')).map((m) => m.Name!);
    // c2 shares /anon2 through --volumes-from.
    await svc.resolveMounts({
      containerId: 'c2',
      volumesFrom: [{ spec: 'c1', mountPoints: a.mountPoints.filter((m) => m.Destination === '/anon2') }],
    });
    await assert.rejects(svc.remove('keepme'), status(409, 'remove keepme: volume is in use - [c1]'));
    const res = await svc.releaseMounts('c1', { removeAnonymous: true });
    assert.deepEqual(res, { removed: [anon[0]], kept: [anon[1]] });
    assert.equal(svc.has('keepme'), true);
    assert.equal(svc.has(anon[1]!), true);
    assert.deepEqual(svc.usedBy('keepme'), []);
    await svc.remove('keepme');
    assert.deepEqual(await svc.releaseMounts('nobody'), { removed: [], kept: [] });
    await assert.rejects(svc.resolveMounts({ containerId: '../evil', binds: ['/x'] }), status(400));
  });
});

test('init removes leftovers of interrupted creates and keeps valid volumes', async () => {
  await withService(async (svc, root) => {
    await svc.create({ Name: 'good' });
    mkdirSync(join(root, 'volumes/.tmp-half-abc123/_data'), { recursive: true });
    mkdirSync(join(root, 'volumes/broken/_data'), { recursive: true });
    const svc2 = new VolumeService(root);
    await svc2.init();
    assert.deepEqual(readdirSync(join(root, 'volumes')).sort(), ['.refs', 'broken', 'good']);
    const list = await svc2.list();
    assert.deepEqual(
      list.Volumes.map((v) => v.Name),
      ['good'],
    );
    assert.match(list.Warnings[0]!, /volume broken: unreadable metadata/);
  });
});

test('reconcile drops references of vanished containers and marks stopped ones inactive', async () => {
  await withService(async (svc) => {
    await svc.resolveMounts({ containerId: 'gone', binds: ['v1:/a'] });
    await svc.resolveMounts({ containerId: 'stopped', binds: ['v1:/a', 'v2:/b'] });
    await svc.resolveMounts({ containerId: 'running', binds: ['v2:/b'] });
    const dropped = await svc.reconcile([
      { id: 'stopped', running: false },
      { id: 'running', running: true },
    ]);
    assert.deepEqual(dropped, ['gone']);
    assert.deepEqual(svc.usedBy('v1'), ['stopped']);
    assert.equal(svc.containerRefs('stopped')!.active, false);
    assert.equal(svc.containerRefs('running')!.active, true);
  });
});
