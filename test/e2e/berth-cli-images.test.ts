// The berth CLI's image commands against a private berth daemon (and bootstrap against a real dockerd):
// bootstrap, images/ls, inspect, history, tag, rmi, prune, save/load, import, commit.
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import {
  berthArgv,
  haveCommand,
  isRoot,
  makeBusyboxRootfs,
  runTool as runCli,
  tempDir,
} from '../helpers/index.js';
import { startDockerd } from '../integration/client/dockerd.js';

const DOCKER = '/usr/local/bin/docker';
const skip = !isRoot()
  ? 'needs root'
  : !haveCommand('runc') || !haveCommand('conmon') || !existsSync(DOCKER) || !existsSync('/bin/busybox')
    ? 'needs runc, conmon, the docker CLI and busybox-static'
    : undefined;

// The CLIs of this file are killed after 2 minutes.
const runTool = (
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { input?: string; inputFile?: string } = {},
) => runCli(cmd, args, env, { ...opts, timeoutMs: 120_000 });

const berthOn = (env: NodeJS.ProcessEnv) => (args: string[], opts?: { input?: string; inputFile?: string }) =>
  runTool(process.execPath, [...berthArgv(), ...args], env, opts);

describe('berth image commands', { skip, concurrency: false }, () => {
  let d: TestDaemon;
  let tmp: { path: string; cleanup: () => void };
  let berth: ReturnType<typeof berthOn>;
  const docker = (args: string[]) => runTool(DOCKER, args, d.env);
  const ok = async (args: string[], opts?: { input?: string; inputFile?: string }) => {
    const r = await berth(args, opts);
    assert.equal(r.status, 0, `berth ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const dockerOk = async (args: string[]) => {
    const r = await docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };

  before(async () => {
    d = await startTestDaemon();
    tmp = tempDir('berth-cli-img-');
    berth = berthOn(d.env);
  });
  after(async () => {
    await d?.stop();
    tmp?.cleanup();
  });

  test('image bootstrap busybox makes an image that runs', async () => {
    const out = await ok(['image', 'bootstrap', 'busybox']);
    assert.match(out.trim(), /^sha256:[0-9a-f]{64}$/);
    assert.equal((await ok(['image', 'inspect', '-f', '{{json .Config.Cmd}}', 'busybox'])).trim(), '["sh"]');
    assert.match(
      await ok(['image', 'inspect', '-f', '{{.Config.Env}}', 'busybox:latest']),
      /PATH=\/usr\/local\/sbin/,
    );
    assert.equal(
      await dockerOk(['run', '--rm', 'busybox', 'sh', '-c', 'echo hi from $(cat /etc/passwd | head -1)']),
      'hi from root:x:0:0:root:/root:/bin/sh',
    );
    // a tag of its own
    await ok(['image', 'bootstrap', 'busybox:1.36']);
    assert.match(await ok(['images', 'busybox', '--format', '{{.Repository}}:{{.Tag}}']), /busybox:1\.36/);
  });

  test('image bootstrap refuses what it cannot make', async () => {
    const alpine = await berth(['image', 'bootstrap', 'alpine']);
    assert.equal(alpine.status, 1);
    assert.match(alpine.stderr, /only busybox\[:TAG\] and debian\[:SUITE\]/);
    const suite = await berth(['image', 'bootstrap', 'debian:Bad_Suite']);
    assert.equal(suite.status, 1);
    assert.match(suite.stderr, /invalid Debian suite "Bad_Suite"/);
    const noBusybox = await berth(['image', 'bootstrap', 'busybox:x', '--busybox', '/nonexistent/busybox']);
    assert.equal(noBusybox.status, 1);
    assert.match(noBusybox.stderr, /\/nonexistent\/busybox/);
    assert.doesNotMatch(await ok(['images', '--format', '{{.Repository}}:{{.Tag}}']), /busybox:x/);
    // debootstrap failing (a mirror that does not answer): its own lines, exit 1, no scratch left behind
    if (haveCommand('debootstrap')) {
      const scratch = join(tmp.path, 'scratch');
      mkdirSync(scratch);
      const deb = await berth([
        'image',
        'bootstrap',
        'debian:bookworm',
        '--mirror',
        'http://127.0.0.1:9/debian',
        '--tmpdir',
        scratch,
      ]);
      assert.equal(deb.status, 1);
      assert.match(
        deb.stderr,
        /debootstrap bookworm failed: .*\n.*Failed getting release file http:\/\/127\.0\.0\.1:9/s,
      );
      assert.deepEqual(readdirSync(scratch), []);
      assert.doesNotMatch(await ok(['images', '--format', '{{.Repository}}']), /debian/);
    }
  });

  // debootstrap takes minutes and downloads ~40 MB: opt-in (the shared cached image covers Debian elsewhere).
  test('image bootstrap debian:bookworm', {
    skip: process.env.BERTH_TEST_DEBOOTSTRAP ? undefined : 'set BERTH_TEST_DEBOOTSTRAP=1',
  }, async () => {
    const out = await ok(['image', 'bootstrap', 'debian:bookworm']);
    assert.match(out.trim(), /^sha256:[0-9a-f]{64}$/);
    assert.equal(
      (await ok(['image', 'inspect', '-f', '{{json .Config.Cmd}}', 'debian:bookworm'])).trim(),
      '["bash"]',
    );
    assert.match(await dockerOk(['run', '--rm', 'debian:bookworm', 'cat', '/etc/debian_version']), /^12\./);
  });

  test('images, tag, rmi with Docker outputs and conflicts', async () => {
    await ok(['tag', 'busybox', 'bt/one:1']);
    await ok(['image', 'tag', 'busybox:latest', 'bt/two']);
    const table = await ok(['images']);
    assert.match(table.split('\n')[0]!, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/);
    assert.match(table, /bt\/one\s+1\s+[0-9a-f]{12}\s/);
    assert.match(table, /bt\/two\s+latest\s/);
    const id = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim();
    const quiet = (await ok(['images', '-q', 'bt/one'])).trim();
    assert.equal(quiet, id.slice(7, 19));
    assert.equal((await ok(['image', 'ls', '--no-trunc', '-q', 'bt/one'])).trim(), id);
    const filtered = await ok(['images', '--filter', 'reference=bt/*', '--format', '{{.Repository}}']);
    assert.deepEqual(filtered.trim().split('\n').sort(), ['bt/one', 'bt/two']);
    const json = JSON.parse((await ok(['images', 'bt/one', '--format', 'json'])).trim()) as Record<
      string,
      string
    >;
    assert.equal(json.Repository, 'bt/one');
    assert.equal(json.Tag, '1');
    const badFilter = await berth(['images', '--filter', 'nonsense']);
    assert.equal(badFilter.status, 1);
    assert.match(badFilter.stderr, /bad format of filter/);

    // Referenced in several repositories: removing by ID needs -f (409 → exit 1).
    const byId = await berth(['rmi', id.slice(7, 19)]);
    assert.equal(byId.status, 1);
    assert.match(
      byId.stderr,
      /^Error response from daemon: conflict: unable to delete [0-9a-f]{12} \(must be forced\)/,
    );
    // Used by a container: removing the last tag's image needs -f.
    await ok(['tag', 'busybox', 'bt/used:1']);
    const usedId = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'bt/used:1'])).trim();
    await dockerOk(['create', '--name', 'bt-user', 'bt/used:1', 'true']);
    assert.equal(
      (await ok(['rmi', 'bt/one:1', 'bt/two'])).trim(),
      'Untagged: bt/one:1\nUntagged: bt/two:latest',
    );
    const missing = await berth(['rmi', 'bt/nothing:here', 'bt/used:1']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /No such image: bt\/nothing:here/);
    assert.equal(missing.stdout.trim(), 'Untagged: bt/used:1');
    assert.equal((await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim(), usedId);
    await dockerOk(['rm', 'bt-user']);
  });

  test('history in its formats', async () => {
    const table = (await ok(['history', 'busybox'])).trim().split('\n');
    assert.match(table[0]!, /^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$/);
    assert.match(table[1]!, /^[0-9a-f]{12}\s+.*ago\s+.*MB\s+berth bootstrap busybox/);
    const id = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox'])).trim();
    assert.equal((await ok(['history', '-q', 'busybox'])).trim(), id.slice(7, 19));
    assert.equal((await ok(['image', 'history', '-q', '--no-trunc', 'busybox'])).trim(), id);
    const raw = (
      await ok(['history', '-H=false', '--format', '{{.Size}} {{.CreatedSince}}', 'busybox'])
    ).trim();
    assert.match(raw, /^\d+ \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const bad = await berth(['history', '-H=maybe', 'busybox']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /invalid argument "=maybe" for "--human"/);
    const none = await berth(['history', 'bt/none']);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /Error response from daemon: No such image: bt\/none/);
  });

  test('save then load round-trips the same image ID (file and stdin)', async () => {
    const id = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox:1.36'])).trim();
    const file = join(tmp.path, 'bb.tar');
    await ok(['save', '-o', file, 'busybox:1.36']);
    assert.ok(existsSync(file));
    await ok(['rmi', 'busybox:1.36']);
    assert.equal((await ok(['load', '-i', file])).trim(), 'Loaded image: busybox:1.36');
    assert.equal((await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox:1.36'])).trim(), id);
    await ok(['rmi', 'busybox:1.36']);
    assert.equal(
      (await ok(['image', 'load', '-q'], { inputFile: file })).trim(),
      'Loaded image: busybox:1.36',
    );
    assert.equal((await ok(['image', 'inspect', '-f', '{{.Id}}', 'busybox:1.36'])).trim(), id);

    const noFile = await berth(['load', '-i', join(tmp.path, 'absent.tar')]);
    assert.equal(noFile.status, 1);
    assert.match(noFile.stderr, /absent\.tar/);
    const garbage = await berth(['load'], { input: 'this is not a tar archive at all' });
    assert.equal(garbage.status, 1);
    assert.match(garbage.stderr, /Error response from daemon: /);
    // A terminal is never written a tar, nor read one (script(1) gives the command a pty).
    if (haveCommand('script')) {
      const cli = [process.execPath, ...berthArgv()].join(' ');
      const tty = await runTool('script', ['-qec', `${cli} save busybox:1.36`, '/dev/null'], d.env);
      assert.equal(tty.status, 1);
      assert.match(tty.stdout, /cowardly refusing to save to a terminal\. Use the -o flag or redirect/);
      const ttyIn = await runTool('script', ['-qec', `${cli} load`, '/dev/null'], d.env);
      assert.equal(ttyIn.status, 1);
      assert.match(ttyIn.stdout, /requested load from stdin, but stdin is empty/);
    }
    const saveMissing = await berth(['save', '-o', join(tmp.path, 'none.tar'), 'bt/none:1']);
    assert.equal(saveMissing.status, 1);
    assert.match(saveMissing.stderr, /bt\/none/);
    assert.ok(!existsSync(join(tmp.path, 'none.tar')), 'no archive left behind by a failed save');
  });

  test('import with --change and -m, from a file and from stdin', async () => {
    const rootfs = join(tmp.path, 'rootfs');
    mkdirSync(rootfs);
    makeBusyboxRootfs(rootfs);
    writeFileSync(join(rootfs, 'hello.txt'), 'imported\n');
    const tar = join(tmp.path, 'rootfs.tar');
    const t = await runTool('tar', ['-C', rootfs, '-cf', tar, '.'], process.env);
    assert.equal(t.status, 0, t.stderr);
    const out = await ok([
      'import',
      '-c',
      'CMD ["cat", "/hello.txt"]',
      '--change',
      'ENV GREETING=hi',
      '-m',
      'from a test',
      tar,
      'bt/imp:1',
    ]);
    assert.match(out.trim(), /^sha256:[0-9a-f]{64}$/);
    const cfg = JSON.parse((await ok(['image', 'inspect', '-f', '{{json .Config}}', 'bt/imp:1'])).trim()) as {
      Cmd: string[];
      Env: string[];
    };
    assert.deepEqual(cfg.Cmd, ['cat', '/hello.txt']);
    assert.ok(cfg.Env.includes('GREETING=hi'));
    assert.match(await ok(['history', '--format', '{{.Comment}}', 'bt/imp:1']), /from a test/);
    assert.equal(await dockerOk(['run', '--rm', 'bt/imp:1']), 'imported');
    await ok(['image', 'import', '-', 'bt/imp:stdin'], { inputFile: tar });
    assert.equal(await dockerOk(['run', '--rm', 'bt/imp:stdin', 'cat', '/hello.txt']), 'imported');

    // The only tag of an image a container uses: 409 → exit 1 without -f; -f untags and deletes it.
    const user = await dockerOk(['create', 'bt/imp:stdin', 'true']);
    const impId = (await ok(['image', 'inspect', '-f', '{{.Id}}', 'bt/imp:stdin'])).trim();
    const inUse = await berth(['image', 'rm', 'bt/imp:stdin']);
    assert.equal(inUse.status, 1);
    assert.match(
      inUse.stderr,
      /^Error response from daemon: conflict: unable to remove repository reference "bt\/imp:stdin" \(must force\) - container \S+ is using its referenced image [0-9a-f]{12}/,
    );
    // As Docker: a stopped container's use is a soft conflict, so -f untags and deletes.
    assert.equal(
      (await ok(['rmi', '-f', 'bt/imp:stdin'])).trim(),
      `Untagged: bt/imp:stdin\nDeleted: ${impId}`,
    );
    await dockerOk(['rm', user]);

    const badChange = await berth(['import', '-c', 'FROM busybox', tar, 'bt/imp:bad']);
    assert.equal(badChange.status, 1);
    assert.match(badChange.stderr, /FROM/);
    const noFile = await berth(['import', join(tmp.path, 'absent.tar')]);
    assert.equal(noFile.status, 1);
    assert.match(noFile.stderr, /absent\.tar/);
  });

  test('commit a container with changes, message and author', async () => {
    await dockerOk(['run', '--name', 'bt-commit', 'busybox', 'sh', '-c', 'echo committed > /data.txt']);
    const out = await ok([
      'commit',
      '-c',
      'CMD ["cat", "/data.txt"]',
      '-m',
      'a commit message',
      '-a',
      'Test Author',
      'bt-commit',
      'bt/commit:1',
    ]);
    assert.match(out.trim(), /^sha256:[0-9a-f]{64}$/);
    const fields = (await ok(['image', 'inspect', '-f', '{{.Author}}|{{.Comment}}', 'bt/commit:1'])).trim();
    assert.equal(fields, 'Test Author|a commit message');
    assert.equal(await dockerOk(['run', '--rm', 'bt/commit:1']), 'committed');
    const missing = await berth(['commit', 'bt-no-such-container', 'bt/commit:2']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /No such container: bt-no-such-container/);
    await dockerOk(['rm', 'bt-commit']);
  });

  test('image prune removes dangling images, -a unused ones', async () => {
    const tar = join(tmp.path, 'rootfs.tar');
    const dangling = (await ok(['import', tar])).trim();
    assert.match(await ok(['images', '--filter', 'dangling=true', '-q', '--no-trunc']), new RegExp(dangling));
    const pruned = await ok(['image', 'prune', '-f']);
    assert.match(pruned, new RegExp(`Deleted Images:\\ndeleted: ${dangling}\\n`));
    assert.match(pruned, /Total reclaimed space: \d/);
    // Declining the prompt does nothing.
    const declined = await berth(['image', 'prune', '-a'], { input: 'n\n' });
    assert.equal(declined.status, 0);
    assert.match(declined.stdout, /WARNING! This will remove all images without at least one container/);
    assert.match(await ok(['images', '-q']), /[0-9a-f]{12}/);
    const all = await ok(['image', 'prune', '-a', '-f']);
    assert.match(all, /untagged: busybox:latest/);
    assert.equal((await ok(['images', '-q'])).trim(), '');
  });
});

describe('berth image bootstrap against a real Docker daemon', {
  skip: skip ?? (haveCommand('dockerd') ? undefined : 'needs dockerd'),
}, () => {
  test('bootstrap busybox through the API of dockerd, then run it there', async () => {
    const dockerd = await startDockerd();
    try {
      const env = { ...process.env, DOCKER_HOST: dockerd.host, BERTH_HOST: dockerd.host };
      const berth = berthOn(env);
      const r = await berth(['image', 'bootstrap', 'busybox:berth']);
      assert.equal(r.status, 0, r.stderr);
      const id = r.stdout.trim();
      assert.match(id, /^sha256:[0-9a-f]{64}$/);
      const inspect = await runTool(
        DOCKER,
        ['image', 'inspect', '-f', '{{.Id}} {{json .Config.Cmd}}', 'busybox:berth'],
        env,
      );
      assert.equal(inspect.stdout.trim(), `${id} ["sh"]`);
      const ls = await berth(['images', '--format', '{{.Repository}}:{{.Tag}}']);
      assert.equal(ls.stdout.trim(), 'busybox:berth');
      const run = await runTool(
        DOCKER,
        ['run', '--rm', '--network', 'none', 'busybox:berth', 'echo', 'hi from docker'],
        env,
      );
      assert.equal(run.status, 0, run.stderr);
      assert.equal(run.stdout.trim(), 'hi from docker');
    } finally {
      await dockerd.stop();
    }
  });
});
