// The Engine API client against a real, private dockerd: every call the berth CLI relies on.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import {
  DaemonUnreachableError,
  demux,
  EngineClient,
  EngineError,
  type EventMessage,
  type HijackedStream,
  pipeStdio,
} from '../../../src/client/index.js';
import { haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../../helpers/index.js';
import { type PrivateDockerd, startDockerd } from './dockerd.js';

const skip = !isRoot() || !haveCommand('dockerd') ? 'needs root and dockerd' : false;
const PREFIX = `berthclient${process.pid}`;
const IMAGE = `${PREFIX}/busybox:1`;
let dockerd: PrivateDockerd | undefined;
let client: EngineClient;

function collect(stream: NodeJS.ReadableStream): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(Buffer.from(c)));
    stream.on('end', () => resolve(Buffer.concat(chunks).toString()));
    stream.on('error', reject);
  });
}

async function outputs(stream: HijackedStream | Readable): Promise<{ stdout: string; stderr: string }> {
  const { stdout, stderr } = demux(stream);
  const [o, e] = await Promise.all([collect(stdout), collect(stderr)]);
  return { stdout: o, stderr: e };
}

async function drain<T>(gen: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const m of gen) out.push(m);
  return out;
}

function rootfsTar(): Buffer {
  const dir = tempDir('berth-client-rootfs-');
  try {
    makeBusyboxRootfs(dir.path);
    return execFileSync('tar', ['-C', dir.path, '-c', '.'], { maxBuffer: 64 * 1024 * 1024 });
  } finally {
    dir.cleanup();
  }
}

const run = (cmd: string[], extra: Record<string, unknown> = {}) =>
  client.containers.create({ Image: IMAGE, Cmd: cmd, HostConfig: { NetworkMode: 'none' }, ...extra });

before(async () => {
  if (skip) return;
  dockerd = await startDockerd();
  client = new EngineClient({ host: dockerd.host });
  for (let i = 0; ; i++) {
    try {
      await client.ping();
      break;
    } catch (err) {
      if (i > 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const progress = await drain(
    client.images.import(Readable.from(rootfsTar()), { repo: `${PREFIX}/busybox`, tag: '1' }),
  );
  assert.ok(progress.some((p) => typeof p.status === 'string' && p.status.startsWith('sha256:')));
});

after(async () => {
  client?.close();
  await dockerd?.stop();
});

test('ping negotiates down to the daemon version', { skip }, async () => {
  const p = await client.ping();
  assert.equal(p.osType, 'linux');
  assert.match(p.apiVersion, /^1\.\d+$/);
  assert.equal(await client.apiVersion(), p.apiVersion <= '1.47' ? p.apiVersion : '1.47');
  const v = await client.system.version();
  assert.equal(v.ApiVersion, p.apiVersion);
  const info = await client.system.info();
  assert.equal(info.OSType, 'linux');
  const df = await client.system.df();
  assert.ok(Array.isArray(df.Images));
});

test('an unreachable daemon is a DaemonUnreachableError', { skip }, async () => {
  const nobody = new EngineClient({ host: 'unix:///tmp/berth-no-such-daemon.sock' });
  await assert.rejects(nobody.ping(), DaemonUnreachableError);
  await assert.rejects(nobody.containers.list(), (err: unknown) => err instanceof DaemonUnreachableError);
});

test('daemon errors carry status and message', { skip }, async () => {
  await assert.rejects(client.containers.inspect(`${PREFIX}-nope`), (err: unknown) => {
    assert.ok(err instanceof EngineError);
    assert.equal(err.status, 404);
    assert.match(err.message, /No such container/);
    return true;
  });
  await assert.rejects(
    client.images.inspect('nope/nope:nope'),
    (err: unknown) => (err as EngineError).status === 404,
  );
  await assert.rejects(client.containers.create({ Image: IMAGE, HostConfig: { Memory: -5 } }), EngineError);
});

test('images: list, inspect, tag, history, save/load, remove', { skip }, async () => {
  const list = await client.images.list({ filters: { reference: [`${PREFIX}/*`] } });
  assert.equal(list.length, 1);
  assert.deepEqual(list[0]!.RepoTags, [IMAGE]);
  const img = await client.images.inspect(IMAGE);
  assert.equal(img.Id, list[0]!.Id);
  await client.images.tag(IMAGE, `localhost:5000/${PREFIX}/deep/name`, 'x');
  assert.equal((await client.images.inspect(`localhost:5000/${PREFIX}/deep/name:x`)).Id, img.Id);
  const history = await client.images.history(IMAGE);
  assert.ok(history.length >= 1);
  const tar = await collectBuffer(await client.images.get(IMAGE));
  assert.ok(tar.length > 100_000);
  const removed = await client.images.remove(`localhost:5000/${PREFIX}/deep/name:x`);
  assert.deepEqual(removed, [{ Untagged: `localhost:5000/${PREFIX}/deep/name:x` }]);
  const loaded = await drain(client.images.load(tar));
  assert.ok(
    loaded.some((m) => m.stream?.includes(IMAGE)),
    JSON.stringify(loaded),
  );
  const both = await collectBuffer(await client.images.save([IMAGE]));
  assert.ok(both.length > 100_000);
});

async function collectBuffer(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('containers: create, start, logs, wait, inspect, list, remove', { skip }, async () => {
  const c = await run(['sh', '-c', 'echo out; echo err >&2; exit 3'], { Labels: { 'berth.test': PREFIX } });
  assert.match(c.Id, /^[0-9a-f]{64}$/);
  await client.containers.start(c.Id);
  const waited = await client.containers.wait(c.Id);
  assert.equal(waited.StatusCode, 3);
  const logs = await outputs(await client.containers.logs(c.Id, { stdout: true, stderr: true }));
  assert.deepEqual(logs, { stdout: 'out\n', stderr: 'err\n' });
  const info = await client.containers.inspect(c.Id);
  assert.equal(info.State?.Status, 'exited');
  assert.equal(info.State?.ExitCode, 3);
  const listed = await client.containers.list({ all: true, filters: { label: `berth.test=${PREFIX}` } });
  assert.deepEqual(
    listed.map((x) => x.Id),
    [c.Id],
  );
  assert.equal((await client.containers.list({ filters: { label: `berth.test=${PREFIX}` } })).length, 0);
  await client.containers.remove(c.Id);
  await assert.rejects(
    client.containers.inspect(c.Id),
    (err: unknown) => (err as EngineError).status === 404,
  );
});

test('containers: lifecycle calls on a running container', { skip }, async () => {
  const c = await run(['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'], {});
  try {
    await client.containers.start(c.Id);
    await client.containers.pause(c.Id);
    assert.equal((await client.containers.inspect(c.Id)).State?.Status, 'paused');
    // Two unpauses at once (as `docker unpause c c` sends them): one wins, the other finds it running.
    const both = await Promise.allSettled([client.containers.unpause(c.Id), client.containers.unpause(c.Id)]);
    assert.deepEqual(both.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const lost = both.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.match((lost.reason as Error).message, /is not paused/);
    const top = await client.containers.top(c.Id);
    assert.ok(top.Titles?.includes('PID'));
    const stats = await client.containers.stats(c.Id, { oneShot: true });
    assert.equal(typeof stats.read, 'string');
    await client.containers.rename(c.Id, `${PREFIX}-renamed`);
    assert.equal((await client.containers.inspect(`${PREFIX}-renamed`)).Id, c.Id);
    // archive: put a file, stat it, read it back
    const tar = execFileSync('sh', [
      '-c',
      'd=$(mktemp -d); echo hello > $d/f.txt; tar -C $d -c f.txt; rm -rf $d',
    ]);
    await client.containers.putArchive(c.Id, '/tmp', tar);
    const stat = await client.containers.statPath(c.Id, '/tmp/f.txt');
    assert.equal(stat?.name, 'f.txt');
    assert.equal(stat?.size, 6);
    const got = await client.containers.getArchive(c.Id, '/tmp/f.txt');
    assert.equal(got.stat?.size, 6);
    assert.ok((await collectBuffer(got.stream)).includes('hello\n'));
    const changes = await client.containers.changes(c.Id);
    assert.ok(changes.some((ch) => ch.Path === '/tmp/f.txt'));
    assert.ok((await collectBuffer(await client.containers.export(c.Id))).length > 100_000);
    await client.containers.restart(c.Id, { t: 5 });
    assert.equal((await client.containers.inspect(c.Id)).State?.Running, true);
    await client.containers.kill(c.Id, { signal: 'KILL' });
    assert.equal((await client.containers.wait(c.Id)).StatusCode, 137);
  } finally {
    await client.containers.remove(c.Id, { force: true });
  }
});

test('attach: stdin in, stdout and stderr out (multiplexed)', { skip }, async () => {
  const c = await run(['sh', '-c', 'read line; echo "got $line"; echo "to err" >&2'], {
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  try {
    const stream = await client.containers.attach(c.Id, {
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
    });
    assert.ok([101, 200].includes(stream.status));
    const result = outputs(stream);
    await client.containers.start(c.Id);
    stream.write('ping\n');
    stream.end();
    assert.deepEqual(await result, { stdout: 'got ping\n', stderr: 'to err\n' });
    assert.equal((await client.containers.wait(c.Id)).StatusCode, 0);
  } finally {
    await client.containers.remove(c.Id, { force: true });
  }
});

test('exec: multiplexed and TTY, exit code, resize; bad exec id', { skip }, async () => {
  const c = await run(['sleep', '600']);
  try {
    await client.containers.start(c.Id);
    const e = await client.exec.create(c.Id, {
      Cmd: ['sh', '-c', 'echo exec-out; echo exec-err >&2; exit 5'],
      AttachStdout: true,
      AttachStderr: true,
    });
    const out = await outputs(await client.exec.start(e.Id));
    assert.deepEqual(out, { stdout: 'exec-out\n', stderr: 'exec-err\n' });
    const inspected = await client.exec.inspect(e.Id);
    assert.equal(inspected.ExitCode, 5);
    assert.equal(inspected.Running, false);

    const t = await client.exec.create(c.Id, {
      Cmd: ['sh', '-c', 'read x; stty size; echo "tty:$x"'],
      AttachStdin: true,
      AttachStdout: true,
      Tty: true,
    });
    const s = await client.exec.start(t.Id, { Tty: true });
    const text = collect(s);
    await client.exec.resize(t.Id, { h: 24, w: 80 });
    s.write('yo\r');
    const all = await text;
    assert.match(all, /24 80/);
    assert.match(all, /tty:yo/);
    await assert.rejects(client.exec.inspect('nope'), (err: unknown) => (err as EngineError).status === 404);
  } finally {
    await client.containers.remove(c.Id, { force: true });
  }
});

test('events stream while a container is created and removed', { skip }, async () => {
  const ac = new AbortController();
  const since = String(Math.floor(Date.now() / 1000) - 1);
  const events = client.system.events({ since, filters: { type: 'container' }, signal: ac.signal });
  const seen: EventMessage[] = [];
  const c = await run(['true']);
  await client.containers.remove(c.Id);
  await assert.rejects(
    (async () => {
      for await (const ev of events) {
        if (ev.Actor?.ID !== c.Id) continue;
        seen.push(ev);
        if (ev.Action === 'destroy') ac.abort();
      }
    })(),
    (err: Error) => err.name === 'AbortError',
  );
  assert.deepEqual(
    seen.map((e) => e.Action),
    ['create', 'destroy'],
  );
});

test('networks and volumes', { skip }, async () => {
  const vol = await client.volumes.create({ Name: `${PREFIX}-vol`, Labels: { a: 'b' } });
  assert.equal(vol.Name, `${PREFIX}-vol`);
  assert.equal((await client.volumes.inspect(vol.Name)).Labels?.a, 'b');
  const vols = await client.volumes.list({ filters: { name: [PREFIX] } });
  assert.deepEqual(
    vols.Volumes?.map((v) => v.Name),
    [vol.Name],
  );
  await client.volumes.remove(vol.Name);
  await assert.rejects(
    client.volumes.inspect(vol.Name),
    (err: unknown) => (err as EngineError).status === 404,
  );

  // --bridge=none and --iptables=false leave no usable bridge driver: an internal network needs neither
  const net = await client.networks.create({ Name: `${PREFIX}-net`, Driver: 'bridge', Internal: true });
  assert.match(net.Id ?? '', /^[0-9a-f]{64}$/);
  const inspected = await client.networks.inspect(`${PREFIX}-net`);
  assert.equal(inspected.Id, net.Id);
  assert.ok(
    (await client.networks.list({ filters: { name: `${PREFIX}-net` } })).some((n) => n.Id === net.Id),
  );
  await client.networks.remove(net.Id!);
  const pruned = await client.containers.prune({ filters: { label: `berth.test=${PREFIX}-none` } });
  assert.ok(Array.isArray(pruned.ContainersDeleted) || pruned.ContainersDeleted === null);
});

test('pipeStdio with a real daemon: attach (multiplexed) and exec with a TTY', { skip }, async () => {
  const sink = (into: string[]) =>
    new Writable({
      write(c, _e, cb) {
        into.push(c.toString());
        cb();
      },
    });
  const c = await run(['sh', '-c', 'tr a-z A-Z; echo done >&2'], {
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
  });
  try {
    const stream = await client.containers.attach(c.Id, {
      stream: true,
      stdin: true,
      stdout: true,
      stderr: true,
    });
    const out: string[] = [];
    const err: string[] = [];
    const piping = pipeStdio(stream, {
      tty: false,
      stdin: Readable.from(['abc\n', 'def\n']),
      stdout: sink(out),
      stderr: sink(err),
    });
    await client.containers.start(c.Id);
    await piping;
    assert.equal(out.join(''), 'ABC\nDEF\n');
    assert.equal(err.join(''), 'done\n');
    assert.equal((await client.containers.wait(c.Id)).StatusCode, 0);

    const sleeper = await run(['sleep', '600']);
    try {
      await client.containers.start(sleeper.Id);
      const e = await client.exec.create(sleeper.Id, {
        Cmd: ['sh', '-c', 'tty; echo hi'],
        AttachStdout: true,
        Tty: true,
      });
      const s = await client.exec.start(e.Id, { Tty: true });
      const tout: string[] = [];
      await pipeStdio(s, { tty: true, stdout: sink(tout), stderr: sink([]) });
      assert.match(tout.join(''), /^\/dev\/pts\/\d+\r\nhi\r\n$/);
    } finally {
      await client.containers.remove(sleeper.Id, { force: true });
    }
  } finally {
    await client.containers.remove(c.Id, { force: true });
  }
});
