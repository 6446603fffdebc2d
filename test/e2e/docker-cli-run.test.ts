// docker run against berth: flags that shape the process, its limits and isolation, and exit codes.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLIS, type Suite, setUp, skipReason, writeTemp } from './docker-cli-lib.js';

const skip = skipReason();

describe('docker run', { skip, concurrency: false }, () => {
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

      test('--rm runs a command, prints its output and leaves nothing behind', () => {
        assert.equal(s.ok(['run', '--rm', '--name', 'rm1', 'busybox', 'echo', 'hello']), 'hello');
        assert.equal(s.ok(['ps', '-aq', '--filter', 'name=rm1']), '');
      });

      test('exit codes: the command’s own, 125, 126, 127 with Docker’s messages', () => {
        assert.equal(s.cmd(['run', '--rm', 'busybox', 'sh', '-c', 'exit 3']).status, 3);
        const unknownImage = s.cmd(['run', '--rm', 'nosuchimage:zzz', 'true']);
        assert.equal(unknownImage.status, 125);
        assert.match(unknownImage.stderr, /nosuchimage/);
        const badFlag = s.cmd(['run', '--rm', '--no-such-flag', 'busybox', 'true']);
        assert.equal(badFlag.status, 125);
        assert.match(badFlag.stderr, /unknown flag/);
        const notFound = s.cmd(['run', '--rm', 'busybox', '/no/such/cmd']);
        assert.equal(notFound.status, 127);
        assert.match(notFound.stderr, /no such file or directory/);
        const notExec = s.cmd(['run', '--rm', 'busybox', '/etc/passwd']);
        assert.equal(notExec.status, 126);
        assert.match(notExec.stderr, /permission denied/);
        assert.equal(s.ok(['ps', '-aq']), '');
      });

      test('-e, --env-file, -w, -u, -h, --entrypoint', () => {
        const envFile = writeTemp(s, 'env.list', 'FROMFILE=yes\n# comment\nOTHER=two words\n');
        const out = s.ok([
          'run',
          '--rm',
          '-e',
          'A=1',
          '--env-file',
          envFile,
          '-w',
          '/tmp/work',
          '-u',
          '65534:65534',
          '-h',
          'myhost',
          'busybox',
          'sh',
          '-c',
          'echo $A $FROMFILE "$OTHER"; pwd; id -u; id -g; hostname',
        ]);
        assert.deepEqual(out.split('\n'), ['1 yes two words', '/tmp/work', '65534', '65534', 'myhost']);
        assert.equal(
          s.ok(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'via', 'entrypoint']),
          'via entrypoint',
        );
        assert.equal(s.ok(['run', '--rm', '-u', 'nobody', 'busybox', 'id', '-un']), 'nobody');
        const badUser = s.cmd(['run', '--rm', '-u', 'nosuchuser', 'busybox', 'true']);
        assert.notEqual(badUser.status, 0);
        assert.match(badUser.stderr, /nosuchuser/);
      });

      test('--name, -l and -d: the container is findable and labelled', () => {
        const id = s.ok([
          'run',
          '-d',
          '--name',
          'named1',
          '-l',
          'team=blue',
          '-l',
          'flag',
          'busybox',
          'sleep',
          '300',
        ]);
        assert.match(id, /^[0-9a-f]{64}$/);
        assert.equal(
          s.ok(['inspect', '-f', '{{.Name}} {{index .Config.Labels "team"}}', 'named1']),
          '/named1 blue',
        );
        const dup = s.cmd(['run', '-d', '--name', 'named1', 'busybox', 'true']);
        assert.equal(dup.status, 125);
        assert.match(dup.stderr, /Conflict\. The container name "\/named1" is already in use/);
        s.ok(['rm', '-f', 'named1']);
      });

      test('--read-only and --tmpfs', () => {
        const ro = s.cmd(['run', '--rm', '--read-only', 'busybox', 'touch', '/x']);
        assert.notEqual(ro.status, 0);
        assert.match(ro.stderr, /Read-only file system/);
        const out = s.ok([
          'run',
          '--rm',
          '--read-only',
          '--tmpfs',
          '/scratch:size=1m',
          'busybox',
          'sh',
          '-c',
          'touch /scratch/ok && grep " /scratch " /proc/mounts',
        ]);
        assert.match(out, /tmpfs \/scratch tmpfs/);
      });

      test('capabilities: default set, --cap-drop, --cap-add, --privileged', () => {
        const capEff = (args: string[]) =>
          BigInt(
            `0x${s.ok(['run', '--rm', ...args, 'busybox', 'sh', '-c', 'grep CapEff /proc/self/status | cut -f2'])}`,
          );
        const def = capEff([]);
        assert.equal(def, 0xa80425fbn, 'Docker’s default capability set');
        const noChown = capEff(['--cap-drop', 'CHOWN']);
        assert.equal(noChown & 1n, 0n);
        const admin = capEff(['--cap-add', 'SYS_ADMIN']);
        assert.equal((admin >> 21n) & 1n, 1n);
        const none = capEff(['--cap-drop', 'ALL']);
        assert.equal(none, 0n);
        const priv = capEff(['--privileged']);
        assert.ok(priv > def);
        const bad = s.cmd(['run', '--rm', '--cap-add', 'NOT_A_CAP', 'busybox', 'true']);
        assert.equal(bad.status, 125);
        assert.match(bad.stderr, /NOT_A_CAP/);
      });

      test('--security-opt no-new-privileges', () => {
        const out = s.ok([
          'run',
          '--rm',
          '--security-opt',
          'no-new-privileges',
          'busybox',
          'grep',
          'NoNewPrivs',
          '/proc/self/status',
        ]);
        assert.match(out, /NoNewPrivs:\s+1/);
      });

      test('limits: --ulimit, -m, --cpus, --pids-limit', () => {
        assert.equal(
          s.ok(['run', '--rm', '--ulimit', 'nofile=512:512', 'busybox', 'sh', '-c', 'ulimit -n']),
          '512',
        );
        const id = s.ok([
          'run',
          '-d',
          '-m',
          '64m',
          '--cpus',
          '0.5',
          '--pids-limit',
          '50',
          'busybox',
          'sleep',
          '300',
        ]);
        const hc = JSON.parse(s.ok(['inspect', '-f', '{{json .HostConfig}}', id])) as Record<string, unknown>;
        assert.equal(hc.Memory, 64 * 1024 * 1024);
        assert.equal(hc.NanoCpus, 500_000_000);
        assert.equal(hc.PidsLimit, 50);
        const mem = s.ok([
          'exec',
          id,
          'sh',
          '-c',
          'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max',
        ]);
        assert.equal(mem, String(64 * 1024 * 1024));
        const pids = s.ok([
          'exec',
          id,
          'sh',
          '-c',
          'cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max',
        ]);
        assert.equal(pids, '50');
        s.ok(['rm', '-f', id]);
        const badMem = s.cmd(['run', '--rm', '--memory', 'lots', 'busybox', 'true']);
        assert.equal(badMem.status, 125);
      });

      test('--init runs the command under an init as pid 1', () => {
        const out = s.ok([
          'run',
          '--rm',
          '--init',
          'busybox',
          'sh',
          '-c',
          'cat /proc/1/cmdline | tr "\\0" " "',
        ]);
        assert.match(out, /init/);
        assert.doesNotMatch(out.split(' ')[0] ?? '', /^sh$/);
      });

      test('-v host:ctr and host:ctr:ro bind mounts', () => {
        const dir = join(s.tmp, 'bind');
        mkdirSync(dir, { recursive: true });
        writeFileSync(join(dir, 'in.txt'), 'from host');
        assert.equal(
          s.ok([
            'run',
            '--rm',
            '-v',
            `${dir}:/data`,
            'busybox',
            'sh',
            '-c',
            'cat /data/in.txt; echo out > /data/out.txt',
          ]),
          'from host',
        );
        assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), 'out\n');
        const ro = s.cmd(['run', '--rm', '-v', `${dir}:/data:ro`, 'busybox', 'touch', '/data/nope']);
        assert.notEqual(ro.status, 0);
        assert.match(ro.stderr, /Read-only file system/);
        const badSpec = s.cmd(['run', '--rm', '-v', `${dir}:/data:bogus`, 'busybox', 'true']);
        assert.equal(badSpec.status, 125);
        assert.match(badSpec.stderr, /invalid (mode|volume specification)/i);
        const relative = s.cmd(['run', '--rm', '-v', 'data:relative/path', 'busybox', 'true']);
        assert.equal(relative.status, 125);
      });

      test('--network none and host', () => {
        const none = s.ok(['run', '--rm', '--network', 'none', 'busybox', 'sh', '-c', 'ls /sys/class/net']);
        assert.deepEqual(none.split(/\s+/), ['lo']);
        assert.match(
          s.ok(['run', '--rm', '--network', 'none', 'busybox', 'ip', 'link', 'show', 'lo']),
          /LOOPBACK,UP/,
        );
        // another container joins a none container's namespace
        s.ok([
          'run',
          '-d',
          '--name',
          'nonebox',
          '--network',
          'none',
          'busybox',
          'sh',
          '-c',
          'httpd -p 127.0.0.1:81 -h /; sleep 300',
        ]);
        assert.equal(
          s.ok([
            'run',
            '--rm',
            '--network',
            'container:nonebox',
            'busybox',
            'sh',
            '-c',
            'for i in $(seq 50); do netstat -ltn | grep -q :81 && break; sleep 0.1; done; ls /sys/class/net; netstat -ltn | grep -c :81',
          ]),
          'lo\n1',
        );
        s.ok(['rm', '-f', 'nonebox']);
        const hostIfaces = s.ok(['run', '--rm', '--network', 'host', 'busybox', 'ls', '/sys/class/net']);
        assert.ok(hostIfaces.split(/\s+/).length > 1);
        const missing = s.cmd(['run', '--rm', '--network', 'nosuchnet', 'busybox', 'true']);
        assert.equal(missing.status, 125);
        assert.match(missing.stderr, /network nosuchnet not found/);
      });

      test('-i with stdin and -t allocating a terminal', async () => {
        assert.equal(s.ok(['run', '--rm', '-i', 'busybox', 'cat'], { input: 'piped in\n' }), 'piped in');
        const noTty = s.cmd(['run', '--rm', '-it', 'busybox', 'true']);
        assert.equal(noTty.status, 1);
        assert.match(noTty.stderr, /the input device is not a TTY/);
        // With a terminal on the client side (script(1) gives docker a pty) the container gets one too.
        const out = join(s.tmp, 'ttyout');
        mkdirSync(out, { recursive: true });
        const r = await s.inPty([
          'run',
          '--rm',
          '-it',
          '-v',
          `${out}:/out`,
          'busybox',
          'sh',
          '-c',
          'tty > /out/tty; exit 4',
        ]);
        assert.equal(r.status, 4);
        assert.match(readFileSync(join(out, 'tty'), 'utf8'), /^\/dev\/pts\/\d+\n$/);
      });
    });
});
