// `cp`, `export` and `diff` end to end: the berth CLI and the real docker CLI run the same copies against a
// private berth daemon and must leave the same trees (names, types, sizes, owners) and print the same errors.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { berthArgv, haveCommand, isRoot, makeBusyboxRootfs, tempDir } from '../helpers/index.js';

const REPO = join(fileURLToPath(import.meta.url), '../../..');
const TSX = `file://${join(REPO, 'node_modules/tsx/dist/loader.mjs')}`;
// berth runs from temporary working directories (relative cp paths): tsx by file URL, not by package name.
const BERTH = berthArgv().map((a) => (a === 'tsx' ? TSX : a));
const DOCKER = '/usr/local/bin/docker';
const skip =
  !isRoot() || !haveCommand('runc') || !haveCommand(DOCKER) ? 'needs root, runc and docker' : false;

interface Res {
  status: number;
  stdout: Buffer;
  stderr: string;
}

describe('cp / export / diff: berth CLI vs docker CLI', { skip, concurrency: false }, () => {
  let d: TestDaemon;
  let tmp: { path: string; cleanup: () => void };
  let src: string;

  const tool = (name: 'docker' | 'berth', args: string[], cwd: string, input?: Buffer): Res => {
    const r =
      name === 'docker'
        ? spawnSync(DOCKER, args, { env: d.env, cwd, input, maxBuffer: 64 << 20 })
        : spawnSync(process.execPath, [...BERTH, ...args], {
            env: d.env,
            cwd,
            input,
            maxBuffer: 64 << 20,
          });
    return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr.toString() };
  };
  const ok = (args: string[]): string => {
    const r = tool('docker', args, tmp.path);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.toString().trim();
  };
  /** "mode uid/gid size name" of every entry of a directory tree on the host, sorted. */
  const hostTree = (dir: string): string =>
    execFileSync('sh', ['-c', `cd '${dir}' && find . -printf '%M %U/%G %s %p %l\\n' | sort`], {
      encoding: 'utf8',
    }).replace(/^d\S+ \S+ \d+/gm, (m) => m.replace(/ \d+$/, ' -'));
  /** The same listing of /t inside a container, read back through the docker CLI. */
  const containerTree = (id: string): string => {
    const tar = tool('docker', ['cp', `${id}:/t`, '-'], tmp.path).stdout;
    return execFileSync('tar', ['-tvf', '-'], { input: tar, encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const p = l.split(/\s+/);
        return `${p[0]} ${p[1]} ${p[0]!.startsWith('d') ? '-' : p[2]} ${p.slice(5).join(' ')}`;
      })
      .sort()
      .join('\n');
  };

  before(async () => {
    d = await startTestDaemon();
    tmp = tempDir('berth-cp-e2e-');
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    mkdirSync(join(rootfs, 'data/sub'), { recursive: true });
    writeFileSync(join(rootfs, 'data/a.txt'), 'aaa');
    writeFileSync(join(rootfs, 'data/sub/b'), 'b');
    symlinkSync('data', join(rootfs, 'dlink'));
    symlinkSync('/data/a.txt', join(rootfs, 'flink'));
    mkdirSync(join(rootfs, 't/exdir'), { recursive: true });
    writeFileSync(join(rootfs, 't/exfile'), 'f');
    symlinkSync('exdir', join(rootfs, 't/dl'));
    execFileSync('tar', ['-C', rootfs, '-cf', join(tmp.path, 'rootfs.tar'), '.']);
    ok(['import', '-c', 'CMD ["sh"]', join(tmp.path, 'rootfs.tar'), 'busybox:latest']);
    src = join(tmp.path, 'src');
    mkdirSync(join(src, 'dir/sub'), { recursive: true });
    writeFileSync(join(src, 'f.txt'), 'fff');
    writeFileSync(join(src, 'dir/a'), 'a');
    writeFileSync(join(src, 'dir/sub/b'), 'bb');
    chownSync(join(src, 'f.txt'), 1234, 4321);
    symlinkSync('dir', join(src, 'dlink'));
    symlinkSync('f.txt', join(src, 'flink'));
  });

  after(async () => {
    await d?.stop();
    tmp?.cleanup();
  });

  test('copies out of a container land the same as docker cp', () => {
    ok(['run', '-d', '--name', 'cpsrc', 'busybox', 'sleep', '300']);
    const cases: [string, string][] = [
      ['/data/a.txt', 'new.txt'],
      ['/data/a.txt', 'exdir'],
      ['/data', 'newdir'],
      ['/data', 'exdir'],
      ['/data/', 'exdir'],
      ['/data/.', 'exdir'],
      ['/data/.', 'newdot'],
      ['/data', 'exfile'],
      ['/data/a.txt', 'nodir/'],
      ['/dlink', 'lnk'],
      ['/dlink/', 'lnk'],
      ['/flink', 'fl'],
      ['/nope', 'x'],
      ['/data', 'missing/parent'],
    ];
    for (const flags of [[], ['-L']]) {
      for (const [from, to] of cases) {
        const out: Record<string, { status: number; stderr: string; tree: string }> = {};
        for (const name of ['docker', 'berth'] as const) {
          const dir = join(tmp.path, 'out', name);
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(join(dir, 'exdir'), { recursive: true });
          writeFileSync(join(dir, 'exfile'), 'f');
          const r = tool(name, ['cp', ...flags, `cpsrc:${from}`, to], dir);
          const stderr = r.stderr.trim().split('\n').pop()!.replaceAll(`/out/${name}`, '/out/X');
          out[name] = { status: r.status, stderr, tree: hostTree(dir) };
        }
        const what = `cp ${flags.join(' ')} cpsrc:${from} ${to}`;
        assert.equal(out.berth!.status, out.docker!.status, `${what}: status (${out.berth!.stderr})`);
        assert.equal(out.berth!.tree, out.docker!.tree, `${what}: tree`);
        if (out.docker!.status !== 0) assert.equal(out.berth!.stderr, out.docker!.stderr, `${what}: error`);
      }
    }
  });

  test('copies into running and stopped containers land the same as docker cp', () => {
    const cases: [string, string][] = [
      ['f.txt', '/t/new.txt'],
      ['f.txt', '/t/exdir'],
      ['f.txt', '/t/exdir/'],
      ['dir', '/t/newdir'],
      ['dir', '/t/exdir'],
      ['dir/.', '/t/exdir'],
      ['dir/', '/t/exdir'],
      ['f.txt', '/t/missing/x'],
      ['dlink', '/t/l'],
      ['dlink/', '/t/l2'],
      ['flink', '/t/fl'],
      ['f.txt', '/t/dl'],
      ['nope', '/t/'],
    ];
    for (const running of [true, false]) {
      for (const flags of [[], ['-L'], ['-a']]) {
        for (const [from, to] of cases) {
          const out: Record<string, { status: number; stderr: string; tree: string }> = {};
          for (const name of ['docker', 'berth'] as const) {
            const id = ok(running ? ['run', '-d', 'busybox', 'sleep', '300'] : ['create', 'busybox']);
            const r = tool(name, ['cp', ...flags, from, `${id}:${to}`], src);
            out[name] = {
              status: r.status,
              stderr: r.stderr.trim().split('\n').pop()!.replaceAll(id, 'C'),
              tree: containerTree(id),
            };
            ok(['rm', '-f', id]);
          }
          const what = `cp ${flags.join(' ')} ${from} C:${to} (${running ? 'running' : 'stopped'})`;
          assert.equal(out.berth!.status, out.docker!.status, `${what}: status (${out.berth!.stderr})`);
          assert.equal(out.berth!.tree, out.docker!.tree, `${what}: tree`);
          if (out.docker!.status !== 0) assert.equal(out.berth!.stderr, out.docker!.stderr, `${what}: error`);
        }
      }
    }
  });

  test('cp with - streams a tar both ways', () => {
    const id = ok(['create', 'busybox']);
    const tar = tool('berth', ['cp', `${id}:/data`, '-'], tmp.path);
    assert.equal(tar.status, 0, tar.stderr);
    const names = execFileSync('tar', ['-tf', '-'], { input: tar.stdout, encoding: 'utf8' }).split('\n');
    assert.ok(names.includes('data/sub/b'));
    const up = tool('berth', ['cp', '-', `${id}:/t/exdir`], tmp.path, tar.stdout);
    assert.equal(up.status, 0, up.stderr);
    assert.match(containerTree(id), /t\/exdir\/data\/sub\/b/);
    const toFile = tool('berth', ['cp', '-', `${id}:/t/exfile`], tmp.path, tar.stdout);
    assert.equal(toFile.status, 1);
    assert.match(toFile.stderr, /must be a directory/);
    ok(['rm', '-f', id]);
  });

  test('bad arguments fail like docker cp', () => {
    for (const args of [
      ['cp', 'a', 'b'],
      ['cp', 'c1:/a', 'c2:/b'],
    ]) {
      const b = tool('berth', args, tmp.path);
      assert.notEqual(b.status, 0);
      assert.match(
        b.stderr,
        /must specify at least one container source|copying between containers is not supported/,
      );
    }
  });

  test('export -o and diff', () => {
    const id = ok(['run', '-d', 'busybox', 'sh', '-c', 'echo x > /data/new; rm /data/a.txt; sleep 300']);
    let diff = '';
    for (let i = 0; i < 50 && !diff.includes('/data/a.txt'); i++) {
      diff = tool('berth', ['diff', id], tmp.path).stdout.toString();
    }
    assert.equal(diff, tool('docker', ['diff', id], tmp.path).stdout.toString());
    assert.equal(diff, 'C /data\nA /data/new\nD /data/a.txt\n');
    const fresh = ok(['run', '-d', 'busybox', 'sleep', '300']);
    assert.equal(tool('berth', ['container', 'diff', fresh], tmp.path).stdout.toString(), '');
    const file = join(tmp.path, 'export.tar');
    const r = tool('berth', ['export', '-o', file, id], tmp.path);
    assert.equal(r.status, 0, r.stderr);
    const names = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).split('\n');
    assert.ok(names.includes('data/new'));
    assert.ok(!names.includes('data/a.txt'));
    assert.equal(
      readFileSync(file).length > 0 && tool('docker', ['export', id], tmp.path).stdout.length > 0,
      true,
    );
    // Both CLIs refuse to write a tar to a terminal (script(1) gives them one).
    const inTty = (cmd: string) =>
      spawnSync('script', ['-qec', cmd, '/dev/null'], { env: d.env, encoding: 'utf8' });
    const berthTty = inTty(`'${process.execPath}' ${BERTH.map((a) => `'${a}'`).join(' ')} export ${id}`);
    const dockerTty = inTty(`${DOCKER} export ${id}`);
    assert.equal(berthTty.status, dockerTty.status);
    assert.match(berthTty.stdout, /cowardly refusing to save to a terminal/);
    assert.equal(berthTty.stdout.trim(), dockerTty.stdout.trim());
    const missing = tool('berth', ['export', 'nosuchcontainer'], tmp.path);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /No such container: nosuchcontainer/);
    ok(['rm', '-f', id, fresh]);
  });
});
