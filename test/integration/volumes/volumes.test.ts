// Real-root tests: volumes mounted into busybox containers run by runc, copy-up with owners/modes/xattrs,
// option volumes (tmpfs, bind device) mounted on use, removal rules, and no half-made state.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type OciMount, VolumeService } from '../../../src/volumes/index.js';
import { haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../../helpers/index.js';

const skip = !isRoot() ? 'needs root' : !haveCommand('runc') ? 'runc not installed' : '';
const PREFIX = `bvol${process.pid}`;
let t: { path: string; cleanup: () => void };
let rootfs: string;
let svc: VolumeService;

function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
}

function fsType(path: string): string | undefined {
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = l.split(' ');
    if (f[4] === path) return f[f.indexOf('-') + 1];
  }
  return undefined;
}

before(() => {
  if (skip) return;
  t = tempDir('berth-vol-int-', '/var/tmp');
  rootfs = join(t.path, 'rootfs');
  makeBusyboxRootfs(rootfs);
  svc = new VolumeService(join(t.path, 'data'));
});

after(() => {
  if (skip) return;
  spawnSync('sh', ['-c', `runc list -q | grep '^${PREFIX}' | xargs -r -n1 runc delete -f`]);
  for (const m of mountsUnder(t.path).reverse()) spawnSync('umount', ['-l', m]);
  t.cleanup();
});

let seq = 0;
/** Runs `sh -c script` in a busybox container with the given extra mounts; returns stdout. */
function runInContainer(mounts: OciMount[], script: string): { code: number; out: string; err: string } {
  const id = `${PREFIX}-${++seq}`;
  const bundle = join(t.path, `bundle-${seq}`);
  mkdirSync(bundle);
  const caps = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETUID', 'CAP_SETGID'];
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: ['/bin/sh', '-c', script],
      env: ['PATH=/bin:/usr/bin:/sbin'],
      cwd: '/',
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: true,
    },
    root: { path: rootfs, readonly: false },
    hostname: 'vol',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755'] },
      ...mounts,
    ],
    linux: {
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
    },
  };
  writeFileSync(join(bundle, 'config.json'), JSON.stringify(config));
  const r = spawnSync('runc', ['run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 60_000 });
  spawnSync('runc', ['delete', '-f', id]);
  return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
}

test('a named volume keeps its data across two containers; -v binds and ro work', async (c) => {
  if (skip) return c.skip(skip);
  await svc.init();
  const host = join(t.path, 'hostdir');
  // A mount below a read-only bind is read-only too (rro, as Docker ≥ 25).
  mkdirSync(join(host, 'sub'), { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', join(host, 'sub')]);
  c.after(() => {
    spawnSync('umount', [join(host, 'sub')]);
  });
  const r1 = await svc.resolveMounts({
    containerId: `${PREFIX}-a`,
    binds: [`${PREFIX}-data:/data`, `${host}:/host`, `${host}:/host-ro:ro`],
  });
  const w = runInContainer(
    r1.ociMounts,
    'echo persisted > /data/hello && echo from-ctr > /host/f && (echo x > /host-ro/g) 2>/dev/null; echo rc=$?;' +
      ' (echo y > /host-ro/sub/y) 2>/dev/null; echo sub=$?; echo z > /host/sub/z; echo rw=$?',
  );
  assert.equal(w.out.trim(), 'rc=1\nsub=1\nrw=0', w.err);
  assert.equal(readFileSync(join(host, 'f'), 'utf8'), 'from-ctr\n');
  assert.equal(existsSync(join(host, 'g')), false);
  await svc.releaseMounts(`${PREFIX}-a`, { removeAnonymous: true });

  const r2 = await svc.resolveMounts({ containerId: `${PREFIX}-b`, binds: [`${PREFIX}-data:/data`] });
  const out = runInContainer(r2.ociMounts, 'cat /data/hello');
  assert.equal(out.out, 'persisted\n', out.err);
  await assert.rejects(svc.remove(`${PREFIX}-data`), (e: Error & { status?: number }) => {
    assert.equal(e.status, 409);
    assert.equal(e.message, `remove ${PREFIX}-data: volume is in use - [${PREFIX}-b]`);
    return true;
  });
  await svc.releaseMounts(`${PREFIX}-b`);
  await svc.remove(`${PREFIX}-data`);
});

test('copy-up from the image keeps owners, modes, symlinks and xattrs; nocopy and non-empty volumes skip it', async (c) => {
  if (skip) return c.skip(skip);
  await svc.init();
  const img = join(t.path, 'image');
  const db = join(img, 'var/lib/db');
  mkdirSync(join(db, 'sub'), { recursive: true });
  writeFileSync(join(db, 'conf'), 'secret\n');
  chmodSync(join(db, 'conf'), 0o640);
  chownSync(join(db, 'conf'), 999, 998);
  chownSync(join(db, 'sub'), 999, 999);
  chmodSync(db, 0o700);
  chownSync(db, 999, 999);
  symlinkSync('conf', join(db, 'link'));
  execFileSync('setfattr', ['-n', 'user.berth', '-v', 'kept', join(db, 'conf')]);
  // A symlink in the image pointing at an absolute path must resolve inside the image, not on the host.
  mkdirSync(join(img, 'real/etc'), { recursive: true });
  writeFileSync(join(img, 'real/etc/marker'), 'image\n');
  symlinkSync('/real/etc', join(img, 'escape'));

  const r = await svc.resolveMounts({
    containerId: `${PREFIX}-cu`,
    imageVolumes: { '/var/lib/db': {}, '/escape': {} },
    binds: [`${PREFIX}-nocopy:/var/lib/db/sub:nocopy`],
    imageRootfsPath: img,
  });
  const mp = Object.fromEntries(r.mountPoints.map((m) => [m.Destination, m]));
  const vol = mp['/var/lib/db']!.Source;
  const st = statSync(vol);
  assert.deepEqual(
    [st.uid, st.gid, st.mode & 0o7777],
    [999, 999, 0o700],
    'volume root takes the image dir owner/mode',
  );
  const cs = statSync(join(vol, 'conf'));
  assert.deepEqual([cs.uid, cs.gid, cs.mode & 0o7777], [999, 998, 0o640]);
  assert.equal(readlinkSync(join(vol, 'link')), 'conf');
  assert.ok(lstatSync(join(vol, 'link')).isSymbolicLink());
  assert.equal(
    execFileSync('getfattr', ['--only-values', '-n', 'user.berth', join(vol, 'conf')], {
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString(),
    'kept',
  );
  assert.deepEqual(readdirSync(mp['/var/lib/db/sub']!.Source), [], 'nocopy volume stays empty');
  assert.equal(readFileSync(join(mp['/escape']!.Source, 'marker'), 'utf8'), 'image\n');
  // The container sees the copied files with their owners.
  const out = runInContainer(r.ociMounts, 'stat -c "%u:%g %a" /var/lib/db/conf; cat /var/lib/db/link');
  assert.equal(out.out, '999:998 640\nsecret\n', out.err);

  // A named volume that already has content is not overwritten.
  await svc.create({ Name: `${PREFIX}-full` });
  writeFileSync(join(svc.mountpoint(`${PREFIX}-full`), 'mine'), 'x');
  const r2 = await svc.resolveMounts({
    containerId: `${PREFIX}-cu2`,
    binds: [`${PREFIX}-full:/var/lib/db`],
    imageRootfsPath: img,
  });
  assert.deepEqual(readdirSync(r2.mountPoints[0]!.Source), ['mine']);
  const rel = await svc.releaseMounts(`${PREFIX}-cu`, { removeAnonymous: true });
  assert.equal(rel.removed.length, 2);
  await svc.releaseMounts(`${PREFIX}-cu2`);
  await svc.remove(`${PREFIX}-full`);
  await svc.remove(`${PREFIX}-nocopy`);
});

test('tmpfs-type and bind-type local volumes are mounted while used and unmounted after', async (c) => {
  if (skip) return c.skip(skip);
  await svc.init();
  const tv = `${PREFIX}-tmpfs`;
  await svc.create({ Name: tv, DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=8m' } });
  const hostData = join(t.path, 'bind-device');
  mkdirSync(hostData);
  writeFileSync(join(hostData, 'existing'), 'host\n');
  const bv = `${PREFIX}-bind`;
  await svc.create({ Name: bv, DriverOpts: { type: 'none', o: 'bind', device: hostData } });
  assert.deepEqual((await svc.inspect(bv)).Options, { type: 'none', o: 'bind', device: hostData });

  const id = `${PREFIX}-opt`;
  const r = await svc.resolveMounts({ containerId: id, binds: [`${tv}:/fast`, `${bv}:/shared`] });
  assert.equal(fsType(svc.mountpoint(tv)), 'tmpfs');
  const out = runInContainer(r.ociMounts, 'echo t > /fast/x && cat /shared/existing && echo c > /shared/new');
  assert.equal(out.out, 'host\n', out.err);
  assert.equal(readFileSync(join(hostData, 'new'), 'utf8'), 'c\n');
  // A second user keeps it mounted when the first stops.
  const r2 = await svc.resolveMounts({ containerId: `${id}2`, binds: [`${tv}:/fast`] });
  assert.equal(r2.ociMounts[0]!.source, svc.mountpoint(tv));
  await svc.deactivate(id);
  assert.equal(fsType(svc.mountpoint(tv)), 'tmpfs');
  assert.equal(fsType(svc.mountpoint(bv)), undefined, 'bind volume unmounted once unused');
  await svc.releaseMounts(`${id}2`);
  assert.equal(fsType(svc.mountpoint(tv)), undefined);
  await assert.rejects(svc.remove(tv), /volume is in use/);
  await svc.releaseMounts(id);
  await svc.remove(tv);
  await svc.remove(bv);
  // Removing a bind-type volume never touches the host directory.
  assert.deepEqual(readdirSync(hostData).sort(), ['existing', 'new']);
});

test('rslave/rshared binds need a shared (or slave) source mount, as Docker checks', async (c) => {
  if (skip) return c.skip(skip);
  await svc.init();
  const src = join(t.path, 'prop-src');
  mkdirSync(src);
  execFileSync('mount', ['--bind', src, src]);
  try {
    execFileSync('mount', ['--make-private', src]);
    await assert.rejects(svc.resolveMounts({ containerId: `${PREFIX}-p`, binds: [`${src}:/p:rslave`] }), {
      message: `path ${src} is mounted on ${src} but it is not a shared or slave mount.`,
    });
    await assert.rejects(svc.resolveMounts({ containerId: `${PREFIX}-p`, binds: [`${src}:/p:rshared`] }), {
      message: `path ${src} is mounted on ${src} but it is not a shared mount.`,
    });
    execFileSync('mount', ['--make-shared', src]);
    const r = await svc.resolveMounts({ containerId: `${PREFIX}-p`, binds: [`${src}:/p:rshared`] });
    assert.deepEqual(r.ociMounts[0]!.options, ['rbind', 'rshared']);
    await svc.releaseMounts(`${PREFIX}-p`);
  } finally {
    execFileSync('umount', [src]);
  }
});

test('bad specs give Docker errors; a failure midway leaves nothing half-made', async (c) => {
  if (skip) return c.skip(skip);
  await svc.init();
  const missing = join(t.path, 'never-made');
  await assert.rejects(
    svc.resolveMounts({
      containerId: `${PREFIX}-bad`,
      mounts: [{ Type: 'bind', Source: missing, Target: '/x' }],
    }),
    { message: `invalid mount config for type "bind": bind source path does not exist: ${missing}` },
  );
  await assert.rejects(svc.resolveMounts({ containerId: `${PREFIX}-bad`, binds: ['v:data'] }), {
    message: `invalid volume specification: 'v:data': invalid mount config for type "volume": invalid mount path: 'data' mount path must be absolute`,
  });
  // The mount of this volume fails at use: the anonymous volume and host dir made before it are undone.
  await svc.create({
    Name: `${PREFIX}-broken`,
    DriverOpts: { type: 'tmpfs', device: 'tmpfs', o: 'size=lots' },
  });
  await assert.rejects(
    svc.resolveMounts({
      containerId: `${PREFIX}-bad`,
      binds: ['/anon', `${missing}:/m`, `${PREFIX}-broken:/b`],
    }),
    (e: Error & { status?: number }) => {
      assert.equal(e.status, 500);
      assert.match(e.message, /error while mounting volume/);
      return true;
    },
  );
  assert.equal(existsSync(missing), false);
  assert.equal(svc.containerRefs(`${PREFIX}-bad`), undefined);
  await svc.remove(`${PREFIX}-broken`);
  // Every test cleaned up after itself: only the (empty) references directory is left.
  const volDir = join(t.path, 'data/volumes');
  assert.deepEqual(readdirSync(volDir), ['.refs']);
  assert.deepEqual(readdirSync(join(volDir, '.refs')), []);
  assert.deepEqual(mountsUnder(volDir), []);
});
