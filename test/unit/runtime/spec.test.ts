import assert from 'node:assert/strict';
import { mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  computeCapabilities,
  computeRlimits,
  DEFAULT_CAPABILITIES,
  defaultSeccompProfile,
  execProcessSpec,
  generateSpec,
  mergeConfig,
  parseProcLimits,
  resolveInRoot,
  resolveUser,
  serializeSpec,
} from '../../../src/runtime/index.js';
import { isBerthError } from '../../../src/util/index.js';
import { tempDir } from '../../helpers/index.js';

function rootfs(): { path: string; cleanup: () => void } {
  const dir = tempDir('berth-rt-spec-');
  mkdirSync(join(dir.path, 'etc'));
  writeFileSync(
    join(dir.path, 'etc/passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nnobody:x:65534:65534::/nonexistent:/bin/false\n',
  );
  writeFileSync(
    join(dir.path, 'etc/group'),
    'root:x:0:\napp:x:1000:\nwheel:x:10:app,other\naudio:x:29:app\nstaff:x:50:\n',
  );
  return dir;
}

const HOST = { RLIMIT_NOFILE: { soft: 1024, hard: 20000 }, RLIMIT_NPROC: { soft: 100, hard: 5000 } };

test('capabilities: defaults, add, drop, ALL, prefixes, privileged, unknown', () => {
  assert.deepEqual(new Set(computeCapabilities()), new Set(DEFAULT_CAPABILITIES));
  assert.equal(DEFAULT_CAPABILITIES.length, 14);
  const added = computeCapabilities(['NET_ADMIN', 'cap_sys_ptrace'], ['chown', 'CAP_KILL']);
  assert.ok(added.includes('CAP_NET_ADMIN') && added.includes('CAP_SYS_PTRACE'));
  assert.ok(!added.includes('CAP_CHOWN') && !added.includes('CAP_KILL'));
  assert.deepEqual(computeCapabilities(['NET_BIND_SERVICE'], ['ALL']), ['CAP_NET_BIND_SERVICE']);
  const all = computeCapabilities(['ALL'], ['SYS_ADMIN']);
  assert.ok(all.includes('CAP_SYS_MODULE') && !all.includes('CAP_SYS_ADMIN'));
  assert.ok(computeCapabilities([], [], true).includes('CAP_SYS_ADMIN'));
  assert.throws(
    () => computeCapabilities(['NOT_A_CAP']),
    (e) => isBerthError(e) && e.status === 400,
  );
});

test('mergeConfig: entrypoint/cmd rules, env by key, labels, volumes, healthcheck, no command', () => {
  const image = {
    Entrypoint: ['/entry'],
    Cmd: ['serve'],
    Env: ['PATH=/img', 'A=1', 'B=2'],
    Labels: { a: 'img', b: 'img' },
    Volumes: { '/data': {} },
    ExposedPorts: { '80/tcp': {} },
    WorkingDir: '/srv',
    User: 'app',
    StopSignal: 'SIGQUIT',
    Healthcheck: { Test: ['CMD', 'true'], Interval: 5, Retries: 3 },
  };
  const m = mergeConfig(image, {
    Env: ['A=9'],
    Labels: { b: 'mine' },
    Volumes: { '/x': {} },
    Healthcheck: { Retries: 7 },
  });
  assert.deepEqual(m.Entrypoint, ['/entry']);
  assert.deepEqual(m.Cmd, ['serve']);
  assert.deepEqual(m.Env, ['A=9', 'PATH=/img', 'B=2']);
  assert.deepEqual(m.Labels, { a: 'img', b: 'mine' });
  assert.deepEqual(Object.keys(m.Volumes!).sort(), ['/data', '/x']);
  assert.deepEqual(m.ExposedPorts, { '80/tcp': {} });
  assert.equal(m.WorkingDir, '/srv');
  assert.equal(m.User, 'app');
  assert.equal(m.StopSignal, 'SIGQUIT');
  assert.deepEqual(m.Healthcheck, {
    Test: ['CMD', 'true'],
    Interval: 5,
    Retries: 7,
    Timeout: undefined,
    StartPeriod: undefined,
    StartInterval: undefined,
  });
  // explicit Entrypoint drops the image's Cmd
  const e = mergeConfig(image, { Entrypoint: ['/other'] });
  assert.deepEqual(e.Entrypoint, ['/other']);
  assert.equal(e.Cmd ?? null, null);
  // ...unless Cmd is given too
  assert.deepEqual(mergeConfig(image, { Entrypoint: ['/other'], Cmd: ['x'] }).Cmd, ['x']);
  // Cmd alone keeps the image's Entrypoint
  const c = mergeConfig(image, { Cmd: ['x'] });
  assert.deepEqual([c.Entrypoint, c.Cmd], [['/entry'], ['x']]);
  // Entrypoint "" clears it; Cmd given runs alone
  const cleared = mergeConfig(image, { Entrypoint: [''], Cmd: ['sh'] });
  assert.equal(cleared.Entrypoint, null);
  assert.deepEqual(cleared.Cmd, ['sh']);
  assert.throws(
    () => mergeConfig({ Entrypoint: ['/e'] }, { Entrypoint: [''] }),
    (err) => isBerthError(err) && err.status === 400 && err.message === 'No command specified',
  );
  assert.throws(() => mergeConfig(null, {}), /No command specified/);
});

test('user resolution: names, ids, groups, supplementary groups and errors', () => {
  const r = rootfs();
  try {
    assert.deepEqual(resolveUser(r.path, ''), { uid: 0, gid: 0, additionalGids: [], home: '/root' });
    const app = resolveUser(r.path, 'app');
    assert.deepEqual([app.uid, app.gid, app.additionalGids.sort()], [1000, 1000, [10, 29]]);
    assert.deepEqual(resolveUser(r.path, '1000:50').gid, 50);
    assert.deepEqual(resolveUser(r.path, 'app:staff').gid, 50);
    const unknownId = resolveUser(r.path, '4242:4343');
    assert.deepEqual([unknownId.uid, unknownId.gid], [4242, 4343]);
    assert.deepEqual(resolveUser(r.path, 'nobody', ['staff', '77']).additionalGids, [50, 77]);
    assert.throws(
      () => resolveUser(r.path, 'ghost'),
      (e) => isBerthError(e) && e.message === 'unable to find user ghost: no matching entries in passwd file',
    );
    assert.throws(
      () => resolveUser(r.path, 'app:ghosts'),
      /unable to find group ghosts: no matching entries in group file/,
    );
    assert.throws(() => resolveUser(r.path, 'a:b:c'), /invalid user/);
    assert.throws(() => resolveUser(r.path, '99999999999'), /out of range/);
  } finally {
    r.cleanup();
  }
});

test('rlimits are clamped to the daemon hard limits; bad ulimits are rejected', () => {
  const def = computeRlimits([], HOST);
  assert.deepEqual(def, [{ type: 'RLIMIT_NOFILE', hard: 20000, soft: 20000 }]);
  const set = computeRlimits(
    [
      { Name: 'nofile', Soft: 512, Hard: 1024 },
      { Name: 'nproc', Soft: 9000, Hard: 10000 },
      { Name: 'core', Soft: -1, Hard: -1 },
    ],
    HOST,
  );
  assert.deepEqual(
    set.find((l) => l.type === 'RLIMIT_NOFILE'),
    { type: 'RLIMIT_NOFILE', hard: 1024, soft: 512 },
  );
  assert.deepEqual(
    set.find((l) => l.type === 'RLIMIT_NPROC'),
    { type: 'RLIMIT_NPROC', hard: 5000, soft: 5000 },
  );
  assert.equal(set.find((l) => l.type === 'RLIMIT_CORE')?.hard, 2 ** 64);
  assert.throws(() => computeRlimits([{ Name: 'bogus', Soft: 1, Hard: 1 }], HOST), /unknown name/);
  assert.throws(() => computeRlimits([{ Name: 'nofile', Soft: 10, Hard: 5 }], HOST), /soft limit/);
  const parsed = parseProcLimits(
    'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 4096                 files\nMax core file size        0                    unlimited            bytes\n',
  );
  assert.deepEqual(parsed.RLIMIT_NOFILE, { soft: 1024, hard: 4096 });
  assert.equal(parsed.RLIMIT_CORE?.hard, 2 ** 64);
});

test('generateSpec: Docker defaults, env, cwd creation, resources, mounts, namespaces', () => {
  const r = rootfs();
  try {
    const spec = generateSpec({
      id: 'c0ffee1234567890',
      rootfs: r.path,
      config: { Cmd: ['sh'], Env: ['A=1'], WorkingDir: '/work/dir', User: 'app', Tty: true },
      hostConfig: {
        Memory: 64 << 20,
        NanoCpus: 1.5e9,
        CpuShares: 512,
        PidsLimit: 50,
        ReadonlyRootfs: true,
        Tmpfs: { '/run': 'size=1m,exec' },
        SecurityOpt: ['no-new-privileges'],
        Sysctls: { 'net.ipv4.ip_forward': '1' },
        OomScoreAdj: 100,
      },
      mounts: [{ source: '/tmp', destination: '/data', type: 'bind', options: ['rbind', 'ro'] }],
      etc: { hosts: '/h', resolvConf: '/r', hostname: '/n' },
      netns: '/var/run/netns/x',
      hostLimits: HOST,
      swapLimit: true,
    });
    assert.deepEqual(spec.process.args, ['sh']);
    assert.ok(spec.process.env.includes('A=1') && spec.process.env.includes('TERM=xterm'));
    assert.ok(spec.process.env[0]!.startsWith('PATH='));
    assert.equal(
      spec.process.env.find((e) => e.startsWith('HOSTNAME=')),
      'HOSTNAME=c0ffee123456',
    );
    assert.equal(spec.hostname, 'c0ffee123456');
    assert.equal(spec.process.cwd, '/work/dir');
    assert.equal(statSync(join(r.path, 'work/dir')).uid, 1000);
    assert.deepEqual([spec.process.user.uid, spec.process.user.gid], [1000, 1000]);
    assert.equal(spec.process.noNewPrivileges, true);
    assert.equal(spec.process.oomScoreAdj, 100);
    assert.equal(spec.root.readonly, true);
    assert.deepEqual(spec.linux.resources?.memory, { limit: 64 << 20, swap: 128 << 20 });
    assert.deepEqual(spec.linux.resources?.cpu, { period: 100000, quota: 150000, shares: 512 });
    assert.deepEqual(spec.linux.resources?.pids, { limit: 50 });
    assert.equal(spec.linux.cgroupsPath, '/berth/c0ffee1234567890');
    assert.ok(spec.linux.maskedPaths?.includes('/proc/kcore'));
    assert.ok(spec.linux.readonlyPaths?.includes('/proc/sys'));
    assert.deepEqual(
      spec.linux.namespaces.find((n) => n.type === 'network'),
      { type: 'network', path: '/var/run/netns/x' },
    );
    const dests = spec.mounts.map((m) => m.destination);
    for (const d of [
      '/proc',
      '/dev',
      '/dev/pts',
      '/dev/shm',
      '/dev/mqueue',
      '/sys',
      '/sys/fs/cgroup',
      '/data',
      '/run',
      '/etc/hosts',
      '/etc/resolv.conf',
      '/etc/hostname',
    ]) {
      assert.ok(dests.includes(d), `mount ${d}`);
    }
    assert.deepEqual(spec.mounts.find((m) => m.destination === '/run')?.options, [
      'nosuid',
      'nodev',
      'size=1m',
      'exec',
    ]);
    assert.ok(spec.mounts.find((m) => m.destination === '/dev/shm')?.options?.includes('size=67108864'));
    assert.equal(spec.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'), true);
    assert.equal(spec.linux.sysctl?.['net.ipv4.ip_forward'], '1');
    assert.equal(spec.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(spec.process.capabilities?.bounding.includes('CAP_CHOWN'));
    // host network: no network namespace
    const host = generateSpec({
      id: 'h',
      rootfs: r.path,
      config: { Cmd: ['true'] },
      netns: 'host',
      hostLimits: HOST,
    });
    assert.equal(
      host.linux.namespaces.some((n) => n.type === 'network'),
      false,
    );
    // fresh netns by default
    const fresh = generateSpec({ id: 'f', rootfs: r.path, config: { Cmd: ['true'] }, hostLimits: HOST });
    assert.deepEqual(
      fresh.linux.namespaces.find((n) => n.type === 'network'),
      { type: 'network' },
    );
    // unlimited rlimits serialize as exact uint64
    const unl = generateSpec({
      id: 'u',
      rootfs: r.path,
      config: { Cmd: ['true'] },
      hostConfig: { Ulimits: [{ Name: 'core', Soft: -1, Hard: -1 }] },
      hostLimits: {},
    });
    assert.match(serializeSpec(unl), /"hard": 18446744073709551615/);
  } finally {
    r.cleanup();
  }
});

test('generateSpec: privileged, init, seccomp options and bad input', () => {
  const r = rootfs();
  try {
    const priv = generateSpec({
      id: 'p',
      rootfs: r.path,
      config: { Cmd: ['sh'] },
      hostConfig: { Privileged: true },
      hostLimits: HOST,
    });
    assert.equal(priv.linux.seccomp, undefined);
    assert.deepEqual(priv.linux.maskedPaths, []);
    assert.ok(priv.process.capabilities?.bounding.includes('CAP_SYS_ADMIN'));
    assert.deepEqual(priv.linux.resources?.devices, [{ allow: true, access: 'rwm' }]);
    assert.equal(priv.mounts.find((m) => m.destination === '/sys')?.options?.includes('ro'), false);
    const init = generateSpec({
      id: 'i',
      rootfs: r.path,
      config: { Cmd: ['sleep', '1'] },
      hostConfig: { Init: true },
      initPath: '/bin/true',
      hostLimits: HOST,
    });
    assert.deepEqual(init.process.args, ['/sbin/docker-init', '--', 'sleep', '1']);
    assert.deepEqual(init.mounts.find((m) => m.destination === '/sbin/docker-init')?.source, '/bin/true');
    const unconf = generateSpec({
      id: 'u',
      rootfs: r.path,
      config: { Cmd: ['sh'] },
      hostConfig: { SecurityOpt: ['seccomp=unconfined'] },
      hostLimits: HOST,
    });
    assert.equal(unconf.linux.seccomp, undefined);
    const bad = (hostConfig: object, config: object = { Cmd: ['sh'] }) =>
      assert.throws(
        () => generateSpec({ id: 'b', rootfs: r.path, config, hostConfig, hostLimits: HOST }),
        (e) => isBerthError(e) && e.status === 400,
      );
    bad({ SecurityOpt: ['bogus'] });
    bad({ SecurityOpt: ['seccomp={not json'] });
    bad({ Memory: 1024 });
    bad({ Memory: 64 << 20, MemorySwap: 32 << 20 });
    bad({ NanoCpus: 1e9, CpuQuota: 1000 });
    bad({ Tmpfs: { relative: '' } });
    bad({ CapAdd: ['WHATEVER'] });
    bad({}, { Cmd: ['sh'], WorkingDir: 'relative' });
    bad({}, { Cmd: ['sh'], User: 'ghost' });
    bad({}, { Cmd: [] });
  } finally {
    r.cleanup();
  }
});

test('seccomp profile follows capabilities', () => {
  const base = defaultSeccompProfile(['CAP_CHOWN'], 'x64');
  const allowed = base.syscalls![0]!.names;
  assert.ok(allowed.includes('read') && allowed.includes('arch_prctl'));
  assert.ok(!allowed.includes('mount') && !allowed.includes('reboot'));
  assert.ok(base.syscalls!.some((s) => s.names[0] === 'clone3' && s.errnoRet === 38));
  assert.deepEqual(base.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
  const admin = defaultSeccompProfile(['CAP_SYS_ADMIN'], 'x64');
  assert.ok(admin.syscalls![0]!.names.includes('mount'));
  assert.ok(!admin.syscalls!.some((s) => s.names[0] === 'clone3'));
});

test('resolveInRoot keeps symlinks inside the rootfs', () => {
  const r = tempDir('berth-rt-root-');
  try {
    mkdirSync(join(r.path, 'real'));
    symlinkSync('/real', join(r.path, 'abs'));
    symlinkSync('../../../../etc', join(r.path, 'up'));
    assert.equal(resolveInRoot(r.path, '/abs/x'), join(r.path, 'real/x'));
    assert.equal(resolveInRoot(r.path, '/up/passwd'), join(r.path, 'etc/passwd'));
    assert.equal(resolveInRoot(r.path, '/../../etc'), join(r.path, 'etc'));
    symlinkSync('loop', join(r.path, 'loop'));
    assert.throws(() => resolveInRoot(r.path, '/loop/x'), /too many levels/);
  } finally {
    r.cleanup();
  }
});

test('generateSpec: pid/ipc/uts modes, joined namespaces, devices', () => {
  const r = rootfs();
  try {
    const s = generateSpec({
      id: 'modes',
      rootfs: r.path,
      config: { Cmd: ['sh'], Hostname: 'ignored', Domainname: 'ignored.too' },
      hostConfig: {
        PidMode: 'host',
        UTSMode: 'host',
        IpcMode: 'none',
        Devices: [{ PathOnHost: '/dev/null', PathInContainer: '/dev/mynull', CgroupPermissions: 'rw' }],
      },
      hostLimits: HOST,
    });
    const types = s.linux.namespaces.map((n) => n.type);
    assert.ok(!types.includes('pid') && !types.includes('uts') && types.includes('ipc'));
    assert.equal(s.hostname, undefined);
    assert.equal(s.domainname, undefined);
    assert.ok(!s.process.env.some((e) => e.startsWith('HOSTNAME=')));
    assert.ok(!s.mounts.some((m) => m.destination === '/dev/shm'));
    assert.deepEqual(s.linux.devices?.[0] && { ...s.linux.devices[0], fileMode: 0 }, {
      type: 'c',
      path: '/dev/mynull',
      major: 1,
      minor: 3,
      fileMode: 0,
      uid: 0,
      gid: 0,
    });
    assert.deepEqual(s.linux.resources?.devices?.at(-1), {
      allow: true,
      type: 'c',
      major: 1,
      minor: 3,
      access: 'rw',
    });
    const joined = generateSpec({
      id: 'j',
      rootfs: r.path,
      config: { Cmd: ['sh'] },
      hostConfig: { IpcMode: 'host' },
      joinNamespaces: { pid: '/proc/1/ns/pid' },
      hostLimits: HOST,
    });
    assert.deepEqual(
      joined.linux.namespaces.find((n) => n.type === 'pid'),
      { type: 'pid', path: '/proc/1/ns/pid' },
    );
    assert.ok(!joined.linux.namespaces.some((n) => n.type === 'ipc'));
    assert.equal(joined.mounts.find((m) => m.destination === '/dev/shm')?.source, '/dev/shm');
    for (const hostConfig of [
      { PidMode: 'weird' },
      { IpcMode: 'weird' },
      { UTSMode: 'x' },
      { Devices: [{ PathOnHost: '/no/such/dev', PathInContainer: '' }] },
    ]) {
      assert.throws(
        () =>
          generateSpec({ id: 'b', rootfs: r.path, config: { Cmd: ['sh'] }, hostConfig, hostLimits: HOST }),
        (e) => isBerthError(e) && e.status === 400,
      );
    }
  } finally {
    r.cleanup();
  }
});

test('execProcessSpec: env merge, user, cwd, tty, privileged, bad input', () => {
  const r = rootfs();
  try {
    const spec = generateSpec({
      id: 'e',
      rootfs: r.path,
      config: { Cmd: ['sleep', '1'], Env: ['A=1', 'B=2'], WorkingDir: '/w' },
      hostLimits: HOST,
    });
    const p = execProcessSpec(spec, r.path, {
      Cmd: ['sh', '-c', 'x'],
      Env: ['B=3', 'C=4'],
      User: 'app',
      Tty: true,
    });
    assert.deepEqual(p.args, ['sh', '-c', 'x']);
    assert.ok(
      p.env.includes('A=1') && p.env.includes('B=3') && p.env.includes('C=4') && p.env.includes('TERM=xterm'),
    );
    assert.ok(!p.env.includes('B=2'));
    assert.deepEqual([p.user.uid, p.user.gid, p.cwd, p.terminal], [1000, 1000, '/w', true]);
    const priv = execProcessSpec(spec, r.path, { Cmd: ['id'], Privileged: true, WorkingDir: '/tmp' });
    assert.ok(priv.capabilities?.effective.includes('CAP_SYS_ADMIN'));
    assert.equal(priv.cwd, '/tmp');
    assert.deepEqual(priv.user, spec.process.user);
    assert.throws(() => execProcessSpec(spec, r.path, { Cmd: [] }), /No exec command specified/);
    assert.throws(
      () => execProcessSpec(spec, r.path, { Cmd: ['x'], User: 'ghost' }),
      /unable to find user ghost/,
    );
    assert.throws(() => execProcessSpec(spec, r.path, { Cmd: ['x'], WorkingDir: 'rel' }), /absolute path/);
  } finally {
    r.cleanup();
  }
});
