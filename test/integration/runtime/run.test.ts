// Real containers: runc under conmon, on a busybox rootfs, as root.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, test } from 'node:test';
import {
  type ContainerConfig,
  cgroupPids,
  containerPaths,
  execProcessSpec,
  generateSpec,
  type HostConfig,
  OciRuntime,
  RuntimeError,
  readExit,
  readLogs,
  readStats,
  recover,
  top,
  waitExit,
} from '../../../src/runtime/index.js';
import { randomId } from '../../../src/util/index.js';
import { haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../../helpers/index.js';

const skip =
  !isRoot() || !haveCommand('runc') || !haveCommand('conmon') ? 'needs root, runc and conmon' : false;
const STATE_ROOT = '/run/berth-test-runtime';
const rt = skip
  ? undefined
  : new OciRuntime({
      stateRoot: STATE_ROOT,
      socketDir: `${STATE_ROOT}-sockets`,
      execRoot: `${STATE_ROOT}-exec`,
    });
const created: { id: string; cleanup: () => void }[] = [];

after(async () => {
  for (const c of created) {
    await rt?.delete(c.id, { force: true }).catch(() => {});
    c.cleanup();
  }
});

interface Ctr {
  id: string;
  dir: string;
  rootfs: string;
}

/** A fresh busybox container directory and id; removed (and the container force-deleted) after the tests. */
function newContainer(subdir = ''): Ctr {
  const tmp = tempDir('berth-rt-int-');
  const id = `berthrt-${randomId().slice(0, 12)}`;
  created.push({ id, cleanup: tmp.cleanup });
  const dir = join(tmp.path, subdir);
  const rootfs = containerPaths(dir).rootfs;
  mkdirSync(rootfs, { recursive: true });
  makeBusyboxRootfs(rootfs);
  return { id, dir, rootfs };
}

async function createCtr(
  c: Ctr,
  config: ContainerConfig,
  hostConfig: HostConfig = {},
  opts: { openStdin?: boolean; stdinOnce?: boolean } = {},
): Promise<number> {
  const spec = generateSpec({ id: c.id, rootfs: c.rootfs, config, hostConfig });
  return (await rt!.create({ id: c.id, dir: c.dir, spec, tty: config.Tty, ...opts })).pid;
}

/**
 * Waits until process `pid` catches or blocks signal `sig`: a container's init ignores a signal it has
 * no handler for (PID 1), so a signal sent before its handlers are in place is lost, as with Docker.
 * Until it has exec'd the command it is still runc's init, whose Go runtime catches every signal (and
 * whose handlers the exec drops): that does not count.
 */
async function handlesSignal(pid: number, sig: number): Promise<void> {
  const bit = 1n << BigInt(sig - 1);
  for (let i = 0; i < 200; i++) {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    if (/^Name:\s*runc/m.test(status)) {
      await new Promise((r) => setTimeout(r, 10));
      continue;
    }
    const mask = (name: string) =>
      BigInt(`0x${new RegExp(`^${name}:\\s*([0-9a-f]+)`, 'm').exec(status)?.[1] ?? '0'}`);
    if ((mask('SigCgt') | mask('SigBlk')) & bit) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function runToExit(
  config: ContainerConfig,
  hostConfig: HostConfig = {},
): Promise<{ code: number; out: string; err: string }> {
  const c = newContainer();
  await createCtr(c, config, hostConfig);
  await rt!.start(c.id);
  const exit = await waitExit(c.id, c.dir);
  let out = '';
  let err = '';
  for await (const e of readLogs(containerPaths(c.dir).log)) {
    if (e.stream === 'stdout') out += e.line;
    else err += e.line;
  }
  await rt!.delete(c.id);
  return { code: exit.exitCode, out, err };
}

function readUntil(stream: Readable, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      if (pattern.test(text)) {
        stream.off('data', onData);
        resolve(text);
      }
    };
    stream.on('data', onData);
    stream.once('end', () =>
      pattern.test(text)
        ? resolve(text)
        : reject(new Error(`stream ended before ${pattern}: ${JSON.stringify(text)}`)),
    );
  });
}

test('echo hi: log and exit code 0; exit 3', { skip }, async () => {
  const hi = await runToExit({ Cmd: ['echo', 'hi'] });
  assert.deepEqual(hi, { code: 0, out: 'hi\n', err: '' });
  const three = await runToExit({ Cmd: ['sh', '-c', 'echo to-err >&2; exit 3'] });
  assert.equal(three.code, 3);
  assert.equal(three.err, 'to-err\n');
});

test('restart in the same directory: the log accumulates, the exit code is fresh', { skip }, async () => {
  const c = newContainer();
  for (const code of [3, 0]) {
    await createCtr(c, { Cmd: ['sh', '-c', `echo run; exit ${code}`] });
    assert.equal(await readExitCodeOrNone(c), undefined);
    await rt!.start(c.id);
    assert.equal((await waitExit(c.id, c.dir)).exitCode, code);
    await rt!.delete(c.id);
  }
  const lines: string[] = [];
  for await (const e of readLogs(containerPaths(c.dir).log)) lines.push(e.line);
  assert.deepEqual(lines, ['run\n', 'run\n']);
});

async function readExitCodeOrNone(c: Ctr): Promise<number | undefined> {
  return (await readExit(c.id, c.dir))?.exitCode;
}

test('missing command → 127, non-executable → 126 (RuntimeError, status 400)', { skip }, async () => {
  const c = newContainer();
  await assert.rejects(createCtr(c, { Cmd: ['nosuchcmd'] }), (e) => {
    assert.ok(e instanceof RuntimeError);
    assert.equal(e.exitCode, 127);
    assert.equal(e.status, 400);
    assert.match(e.message, /exec: "nosuchcmd": executable file not found in \$PATH/);
    return true;
  });
  assert.equal(await rt!.state(c.id), undefined);
  writeFileSync(join(c.rootfs, 'notexec'), 'hello');
  chmodSync(join(c.rootfs, 'notexec'), 0o644);
  await assert.rejects(
    createCtr(c, { Cmd: ['/notexec'] }),
    (e) => e instanceof RuntimeError && e.exitCode === 126 && /permission denied/.test(e.message),
  );
});

test('user, env and working directory', { skip }, async () => {
  const r = await runToExit({
    Cmd: ['sh', '-c', 'id -u; id -g; echo $GREETING; pwd; echo $HOME'],
    User: 'nobody',
    Env: ['GREETING=hey'],
    WorkingDir: '/made/here',
  });
  assert.equal(r.code, 0, r.err);
  assert.equal(r.out, '65534\n65534\nhey\n/made/here\n/nonexistent\n');
  const ids = await runToExit({ Cmd: ['id'], User: '1234:5678' });
  assert.match(ids.out, /uid=1234 gid=5678/);
});

test('hostname, /etc files, sysctls and a fresh netns with only loopback', { skip }, async () => {
  const c = newContainer();
  const hosts = join(c.dir, 'hosts');
  writeFileSync(hosts, '127.0.0.1 localhost\n10.9.8.7 friend\n');
  const spec = generateSpec({
    id: c.id,
    rootfs: c.rootfs,
    config: {
      Cmd: [
        'sh',
        '-c',
        'hostname; grep friend /etc/hosts; cat /proc/sys/net/ipv4/ip_forward; cat /proc/net/dev | tail -n +3 | cut -d: -f1',
      ],
      Hostname: 'box1',
    },
    hostConfig: { Sysctls: { 'net.ipv4.ip_forward': '1' } },
    etc: { hosts },
  });
  await rt!.create({ id: c.id, dir: c.dir, spec });
  await rt!.start(c.id);
  assert.equal((await waitExit(c.id, c.dir)).exitCode, 0);
  let out = '';
  for await (const e of readLogs(containerPaths(c.dir).log)) out += e.line;
  assert.equal(out.replace(/ +/g, ''), 'box1\n10.9.8.7friend\n1\nlo\n');
});

test('the OOM killer: exit 137 and oomKilled', { skip }, async () => {
  const c = newContainer();
  await createCtr(
    c,
    { Cmd: ['sh', '-c', 'a=$(head -c 200000000 /dev/zero | tr "\\0" x); echo survived'] },
    { Memory: 8 * 1024 * 1024 },
  );
  await rt!.start(c.id);
  const exit = await waitExit(c.id, c.dir);
  assert.equal(exit.exitCode, 137);
  assert.equal(exit.oomKilled, true);
  // conmon's working-directory copy of the marker lands in the bundle, not where the daemon runs.
  assert.equal(existsSync(join(process.cwd(), 'oom')), false, 'no oom file in the working directory');
});

test('read-only rootfs and tmpfs', { skip }, async () => {
  const r = await runToExit(
    { Cmd: ['sh', '-c', 'touch /x; echo $?; touch /run/ok && echo tmpfs-ok'] },
    { ReadonlyRootfs: true, Tmpfs: { '/run': '' } },
  );
  assert.match(r.err, /Read-only file system/);
  assert.equal(r.out, '1\ntmpfs-ok\n');
});

test('capabilities, seccomp and no-new-privileges', { skip }, async () => {
  const def = await runToExit({
    Cmd: ['sh', '-c', 'grep -E "^(CapEff|Seccomp|NoNewPrivs):" /proc/self/status'],
  });
  assert.match(def.out, /CapEff:\s+00000000a80425fb/);
  assert.match(def.out, /Seccomp:\s+2/);
  assert.match(def.out, /NoNewPrivs:\s+0/);
  const dropped = await runToExit(
    { Cmd: ['sh', '-c', 'grep -E "^(CapEff|NoNewPrivs):" /proc/self/status'] },
    { CapDrop: ['ALL'], CapAdd: ['NET_ADMIN'], SecurityOpt: ['no-new-privileges'] },
  );
  assert.match(dropped.out, /CapEff:\s+0000000000001000/);
  assert.match(dropped.out, /NoNewPrivs:\s+1/);
  // seccomp blocks unshare without CAP_SYS_ADMIN
  const blocked = await runToExit({ Cmd: ['unshare', '-m', 'true'] });
  assert.notEqual(blocked.code, 0);
});

test('memory, pids and cpu limits are visible in the container cgroup', { skip }, async () => {
  const r = await runToExit(
    {
      Cmd: [
        'sh',
        '-c',
        'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max',
      ],
    },
    { Memory: 64 * 1024 * 1024, PidsLimit: 42, NanoCpus: 5e8 },
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /^67108864\n42\n(50000\n)?$/);
});

test('kill: SIGKILL → 137; SIGTERM through --init → 143', { skip }, async () => {
  const c = newContainer();
  await createCtr(c, { Cmd: ['sleep', '100'] });
  await rt!.start(c.id);
  await assert.rejects(rt!.start(c.id), (e: { status?: number }) => e.status === 409);
  await rt!.kill(c.id, 'KILL');
  assert.equal((await waitExit(c.id, c.dir)).exitCode, 137);
  await assert.rejects(rt!.kill(c.id, 'KILL'), (e: { status?: number }) => e.status === 409);
  await assert.rejects(rt!.start(c.id), (e: { status?: number }) => e.status === 409);
  await assert.rejects(
    rt!.kill('berthrt-does-not-exist', 'KILL'),
    (e: { status?: number }) => e.status === 404,
  );
  const d = newContainer();
  const dPid = await createCtr(d, { Cmd: ['sleep', '100'] }, { Init: true });
  await rt!.start(d.id);
  await handlesSignal(dPid, 15);
  await rt!.kill(d.id, 'SIGTERM');
  assert.equal((await waitExit(d.id, d.dir)).exitCode, 143);
  await assert.rejects(rt!.kill(d.id, 'NOTASIGNAL'), /invalid signal/);
  // Signals other than SIGKILL go to the init directly (no runc); an exited one is refused alike.
  await assert.rejects(rt!.kill(d.id, 'SIGTERM'), (e: { status?: number }) => e.status === 409);
  await assert.rejects(
    rt!.kill('berthrt-does-not-exist', 'SIGTERM'),
    (e: { status?: number }) => e.status === 404,
  );
  const u = newContainer();
  const uPid = await createCtr(u, {
    Cmd: ['sh', '-c', "trap 'exit 5' USR1; while true; do sleep 0.1; done"],
  });
  await rt!.start(u.id);
  await handlesSignal(uPid, 10);
  await rt!.kill(u.id, 'USR1');
  assert.equal((await waitExit(u.id, u.dir)).exitCode, 5);
});

test('TTY: attach, echo, resize, exit code', { skip }, async () => {
  const c = newContainer();
  await createCtr(c, { Cmd: ['sh'], Tty: true, OpenStdin: true }, {}, { openStdin: true });
  const io = await rt!.attach(c.id, c.dir, { tty: true });
  await rt!.start(c.id);
  await rt!.resize(c.dir, { height: 33, width: 101 });
  io.stdin.write('echo hel""lo; stty size\n');
  const text = await readUntil(io.stdout, /33 101/);
  assert.match(text, /hello/);
  io.stdin.write('exit 7\n');
  assert.equal((await waitExit(c.id, c.dir)).exitCode, 7);
  await assert.rejects(rt!.resize(c.dir, { height: 0, width: 10 }), /invalid terminal size/);
  io.close();
});

test('stdin via attach: cat echoes what we send, then exits on EOF', { skip }, async () => {
  const c = newContainer();
  await createCtr(c, { Cmd: ['cat'], OpenStdin: true }, {}, { openStdin: true, stdinOnce: true });
  const io = await rt!.attach(c.id, c.dir);
  await rt!.start(c.id);
  const got = readUntil(io.stdout, /line one\nline two\n/);
  io.stdin.write('line one\n');
  io.stdin.end('line two\n');
  assert.equal(await got, 'line one\nline two\n');
  assert.equal((await waitExit(c.id, c.dir)).exitCode, 0);
});

test('attach works when the container dir is too long for a socket address', { skip }, async () => {
  const c = newContainer('x'.repeat(100));
  assert.ok(containerPaths(c.dir).attach.length > 107);
  await createCtr(c, { Cmd: ['cat'], OpenStdin: true }, {}, { openStdin: true, stdinOnce: true });
  const io = await rt!.attach(c.id, c.dir);
  await rt!.start(c.id);
  const got = readUntil(io.stdout, /long\n/);
  io.stdin.end('long\n');
  assert.equal(await got, 'long\n');
  assert.equal((await waitExit(c.id, c.dir)).exitCode, 0);
});

test('exec: streams, exit code, tty, missing command, pause/resume, stats and top', { skip }, async () => {
  const c = newContainer();
  await createCtr(c, { Cmd: ['sleep', '100'] }, { Memory: 64 * 1024 * 1024 });
  await rt!.start(c.id);
  const spec = JSON.parse(readFileSync(containerPaths(c.dir).config, 'utf8'));
  const ex = await rt!.exec(
    c.id,
    c.dir,
    execProcessSpec(spec, c.rootfs, { Cmd: ['sh', '-c', 'echo out; id -u >&2; exit 4'], User: 'nobody' }),
  );
  let out = '';
  let err = '';
  ex.stdout!.on('data', (d) => (out += d));
  ex.stderr!.on('data', (d) => (err += d));
  assert.equal(await ex.wait(), 4);
  assert.deepEqual([out, err], ['out\n', '65534\n']);

  const tty = await rt!.exec(c.id, c.dir, { ...spec.process, args: ['tty'] }, { tty: true });
  let ttyOut = '';
  tty.stdout!.on('data', (d) => (ttyOut += d));
  assert.equal(await tty.wait(), 0);
  assert.match(ttyOut, /\/dev\/pts\/\d+/);

  const input = await rt!.exec(c.id, c.dir, { ...spec.process, args: ['cat'] }, { stdin: true });
  const echoed = readUntil(input.stdout!, /ping\n/);
  input.stdin!.end('ping\n');
  assert.equal(await echoed, 'ping\n');
  assert.equal(await input.wait(), 0);

  await assert.rejects(
    rt!.exec(c.id, c.dir, { ...spec.process, args: ['nosuch'] }),
    (e) => e instanceof RuntimeError && e.exitCode === 127,
  );

  const stats = readStats({
    cgroupsPath: spec.linux.cgroupsPath,
    pid: (await rt!.state(c.id))!.pid,
    id: c.id,
    name: 'x',
  });
  assert.equal(stats.memory_stats.limit, 64 * 1024 * 1024);
  assert.ok((stats.pids_stats.current ?? 0) >= 1);
  assert.ok(stats.cpu_stats.cpu_usage.total_usage > 0);
  assert.equal(stats.name, '/x');
  const pids = cgroupPids(spec.linux.cgroupsPath);
  const t = await top(pids);
  assert.ok(t.Titles.includes('PID'));
  assert.ok(t.Processes.some((p) => p.at(-1)?.includes('sleep 100')));
  await assert.rejects(top(pids, '-o pid;rm'), /invalid ps arguments/);

  await rt!.pause(c.id);
  assert.equal((await rt!.state(c.id))?.status, 'paused');
  await assert.rejects(rt!.pause(c.id), (e: { status?: number }) => e.status === 409);
  await rt!.resume(c.id);
  assert.equal((await rt!.state(c.id))?.status, 'running');
  await rt!.delete(c.id, { force: true });
  assert.equal(await rt!.state(c.id), undefined);
});

test('the container outlives the process that started it and is re-adopted', { skip }, async () => {
  const c = newContainer();
  const script = join(c.dir, 'starter.mts');
  const index = new URL('../../../src/runtime/index.ts', import.meta.url).pathname;
  writeFileSync(
    script,
    `import { generateSpec, OciRuntime } from ${JSON.stringify(index)};
const rt = new OciRuntime({ stateRoot: ${JSON.stringify(STATE_ROOT)} });
const spec = generateSpec({ id: ${JSON.stringify(c.id)}, rootfs: ${JSON.stringify(c.rootfs)}, config: { Cmd: ['sh', '-c', 'read x < /dev/null; sleep 1; echo done; exit 5'] } });
await rt.create({ id: ${JSON.stringify(c.id)}, dir: ${JSON.stringify(c.dir)}, spec });
await rt.start(${JSON.stringify(c.id)});
console.log('started');
setInterval(() => {}, 1000);
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await readUntil(child.stdout!, /started/);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const state = await recover(rt!, c.id, c.dir);
  assert.equal(state.status, 'running');
  assert.equal(state.monitored, true);
  const exit = await waitExit(c.id, c.dir);
  assert.equal(exit.exitCode, 5);
  const after = await recover(rt!, c.id, c.dir);
  assert.equal(after.status, 'stopped');
  assert.equal(after.exit?.exitCode, 5);
  const lines: string[] = [];
  for await (const e of readLogs(containerPaths(c.dir).log)) lines.push(e.line);
  assert.deepEqual(lines, ['done\n']);
});

test('the monitor is moved into the conmon cgroup after the create', { skip }, async () => {
  const cgroup = `/berth-test-conmon-${randomId().slice(0, 6)}`;
  const moving = new OciRuntime({
    stateRoot: STATE_ROOT,
    socketDir: `${STATE_ROOT}-sockets`,
    execRoot: `${STATE_ROOT}-exec`,
    conmonCgroup: cgroup,
  });
  const c = newContainer();
  const spec = generateSpec({ id: c.id, rootfs: c.rootfs, config: { Cmd: ['sleep', '30'] } });
  const { conmonPid } = await moving.create({ id: c.id, dir: c.dir, spec });
  try {
    await moving.settle();
    const lines = readFileSync(`/proc/${conmonPid}/cgroup`, 'utf8').split('\n');
    const tracked = lines.filter((l) => /^\d+:(name=systemd)?:/.test(l));
    assert.ok(tracked.length > 0, `no unified or name=systemd line in ${lines.join('|')}`);
    for (const line of tracked) assert.ok(line.endsWith(`:${cgroup}`), `conmon not moved: ${line}`);
  } finally {
    await moving.delete(c.id, { force: true });
    for (const root of ['/sys/fs/cgroup/systemd', '/sys/fs/cgroup/unified', '/sys/fs/cgroup'])
      await waitRmdir(join(root, cgroup));
  }
});

/** Removes an (empty) cgroup directory, waiting for its last process to have left. */
async function waitRmdir(dir: string): Promise<void> {
  for (let i = 0; i < 50 && existsSync(dir); i++) {
    try {
      rmdirSync(dir);
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

test('delete of an exited container removes its cgroups and runtime state', { skip }, async () => {
  const c = newContainer();
  await createCtr(c, { Cmd: ['true'] });
  const state = JSON.parse(readFileSync(join(STATE_ROOT, c.id, 'state.json'), 'utf8')) as {
    cgroup_paths: Record<string, string>;
  };
  const cgroups = Object.values(state.cgroup_paths);
  assert.ok(cgroups.length > 0 && cgroups.every((p) => existsSync(p)), 'runc made the cgroups');
  await rt!.start(c.id);
  assert.equal((await waitExit(c.id, c.dir)).exitCode, 0);
  await rt!.delete(c.id);
  assert.deepEqual(
    cgroups.filter((p) => existsSync(p)),
    [],
  );
  assert.equal(existsSync(join(STATE_ROOT, c.id)), false);
  // Deleting again is not an error; a running one without force is refused by runc.
  await rt!.delete(c.id);
  const r = newContainer();
  await createCtr(r, { Cmd: ['sleep', '30'] });
  await rt!.start(r.id);
  await assert.rejects(rt!.delete(r.id), (e: { status?: number }) => e.status === 409);
  await rt!.delete(r.id, { force: true });
  assert.equal(existsSync(join(STATE_ROOT, r.id)), false);
});
