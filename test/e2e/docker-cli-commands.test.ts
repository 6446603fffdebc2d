// Container commands through each CLI: output shapes, exit codes and errors — single and multi-target — as
// the docker CLI gives them (run, create, start -a, wait, logs, ps, exec, stop/kill/restart/pause/rename/rm,
// inspect, top, stats, port, container prune, -it on a terminal).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLIS, type Result, type Suite, setUp, skipReason } from './docker-cli-lib.js';

const skip = skipReason();
const P = 'cc';

describe('container commands: output and errors', { skip, concurrency: false }, () => {
  let s: Suite;
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    await s?.close();
  });
  const exe = (args: string[], input?: string): Result & { code: number } => {
    const r = s.cmd(args, { input });
    return { ...r, code: r.status };
  };
  const ok = (args: string[]): string => {
    const r = s.cmd(args);
    assert.equal(r.status, 0, `${s.cli.name} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    return r.stdout;
  };

  for (const cli of CLIS)
    describe(cli.name, { concurrency: false }, () => {
      before(() => s.use(cli));
      test('run: output, exit codes 0/3/127/126, --rm removes the container', async () => {
        const before = (await s.d.client.containers.list({ all: true })).length;
        const hi = exe(['run', '--rm', 'busybox', 'echo', 'hi']);
        assert.deepEqual([hi.code, hi.stdout], [0, 'hi\n']);
        const three = exe(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
        assert.deepEqual([three.code, three.stdout, three.stderr], [3, 'out\n', 'err\n']);
        const missing = exe(['run', '--rm', 'busybox', 'nonexist']);
        assert.equal(missing.code, 127);
        assert.match(missing.stderr, /executable file not found/);
        assert.match(missing.stderr, new RegExp(`Run '${s.cli.name} run --help' for more information`));
        const dirCmd = exe(['run', '--rm', 'busybox', '/etc']);
        assert.equal(dirCmd.code, 126);
        assert.equal(
          (await s.d.client.containers.list({ all: true })).length,
          before,
          'no container left by --rm',
        );
        // flags after the image belong to the command
        const flagsAfter = exe(['run', '--rm', 'busybox', 'echo', '--rm', '-d']);
        assert.equal(flagsAfter.stdout, '--rm -d\n');
        const piped = exe(['run', '--rm', '-i', 'busybox', 'cat'], 'from stdin\n');
        // stdin closed at once (before the daemon wires the container's streams)
        assert.equal(exe(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'cat; exit 6'], '').code, 6);
        assert.equal(piped.stdout, 'from stdin\n');
        const onlyOut = exe(['run', '--rm', '-a', 'stdout', 'busybox', 'sh', '-c', 'echo o; echo e >&2']);
        assert.deepEqual([onlyOut.stdout, onlyOut.stderr], ['o\n', '']);
      });

      test('run -d prints the id; --cidfile; name conflicts', async () => {
        const cid = join(s.tmp, `cid-${s.cli.name}`);
        const out = ok(['run', '-d', '--name', `${P}-d`, '--cidfile', cid, 'busybox', 'sleep', '300']);
        assert.match(out, /^[0-9a-f]{64}\n$/);
        assert.equal(readFileSync(cid, 'utf8'), out.trim());
        const again = exe(['run', '-d', '--cidfile', cid, 'busybox', 'true']);
        assert.equal(again.code, 125);
        assert.match(again.stderr, /container ID file found/);
        const conflict = exe(['run', '--name', `${P}-d`, 'busybox', 'true']);
        assert.equal(conflict.code, 125);
        assert.match(
          conflict.stderr,
          new RegExp(`^${s.cli.name}: Error response from daemon: Conflict\\. The container name`),
        );
        const createConflict = exe(['create', '--name', `${P}-d`, 'busybox']);
        assert.equal(createConflict.code, 1);
        assert.match(createConflict.stderr, /^Error response from daemon: Conflict/);
        ok(['rm', '-f', `${P}-d`]);
      });

      test('run: missing images, --pull, bad flags', async () => {
        const never = exe(['run', '--pull', 'never', `${P}-noimage`]);
        assert.equal(never.code, 125);
        assert.match(never.stderr, /No such image/);
        assert.doesNotMatch(never.stderr, /Unable to find image/);
        const missing = exe(['run', `${P}-noimage:1`]);
        assert.equal(missing.code, 125);
        assert.match(missing.stderr, new RegExp(`^Unable to find image '${P}-noimage:1' locally\n`));
        const badPull = exe(['run', '--pull', 'sometimes', 'busybox']);
        assert.equal(badPull.code, 125);
        const unknown = exe(['run', '--no-such-flag', 'busybox']);
        assert.equal(unknown.code, 125);
        assert.match(unknown.stderr, /^unknown flag: --no-such-flag\n/);
        const badPort = exe(['run', '-p', '80/foo', 'busybox']);
        assert.equal(badPort.code, 125);
        assert.match(badPort.stderr, /invalid proto: foo/);
        const conflicting = exe(['run', '--rm', '--restart', 'always', 'busybox']);
        assert.equal(conflicting.code, 125);
        const noImage = exe(['run']);
        assert.equal(noImage.code, 1);
        assert.match(noImage.stderr, new RegExp(`'${s.cli.name} run' requires at least 1 argument`));
      });

      test('create, start -a, wait, logs', async () => {
        const name = `${P}-sa`;
        const id = ok([
          'create',
          '--name',
          name,
          'busybox',
          'sh',
          '-c',
          'echo one; echo two >&2; exit 5',
        ]).trim();
        assert.match(id, /^[0-9a-f]{64}$/);
        const started = exe(['start', '-a', name]);
        assert.deepEqual([started.code, started.stdout, started.stderr], [5, 'one\n', 'two\n']);
        assert.equal(ok(['wait', name]), '5\n');
        const logs = exe(['logs', name]);
        assert.deepEqual([logs.stdout, logs.stderr], ['one\n', 'two\n']);
        assert.equal(exe(['logs', '--tail', '1', name]).stderr, 'two\n');
        const stamped = ok(['logs', '-t', name]);
        assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z one\n$/);
        const startAgain = exe(['start', name, `${P}-nope`]);
        assert.equal(startAgain.code, 1);
        assert.equal(startAgain.stdout, `${name}\n`);
        assert.match(
          startAgain.stderr,
          new RegExp(`No such container: ${P}-nope\nError: failed to start containers: ${P}-nope`),
        );
        ok(['rm', '-f', name]);
      });

      test('ps: table, --format, filters, -q, -a, -n, --no-trunc', async () => {
        const run = `${P}-ps1`;
        const stopped = `${P}-ps2`;
        const id = ok(['run', '-d', '--name', run, '-l', 'tier=web', 'busybox', 'sleep', '300']).trim();
        ok(['create', '--name', stopped, 'busybox', 'true']);
        const table = ok(['ps']);
        assert.match(
          table.split('\n')[0]!,
          /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES$/,
        );
        assert.match(table, new RegExp(`${id.slice(0, 12)}\\s+busybox\\s+"sleep 300"\\s+.*Up .*${run}\\n`));
        assert.doesNotMatch(table, new RegExp(stopped));
        const all = ok(['ps', '-a', '--format', '{{.Names}} {{.State}}', '--filter', `name=${P}-ps`]);
        assert.deepEqual(all.trim().split('\n').sort(), [`${run} running`, `${stopped} created`]);
        assert.equal(ok(['ps', '-q', '--filter', 'label=tier=web']), `${id.slice(0, 12)}\n`);
        assert.equal(ok(['ps', '-q', '--no-trunc', '--filter', `name=${run}`]), `${id}\n`);
        assert.equal(ok(['ps', '-n', '1', '--format', '{{.Names}}']), `${stopped}\n`);
        assert.equal(ok(['ps', '-l', '--format', '{{.Names}}']), `${stopped}\n`);
        assert.equal(
          ok(['container', 'ls', '-a', '--filter', `name=${stopped}`, '--format', '{{.Names}}']),
          `${stopped}\n`,
        );
        const json = JSON.parse(ok(['ps', '--filter', `name=${run}`, '--format', '{{json .}}'])) as {
          Names: string;
        };
        assert.equal(json.Names, run);
        const bad = exe(['ps', '--filter', 'nonsense']);
        assert.equal(bad.code, 125);
        ok(['rm', '-f', run, stopped]);
      });

      test('exec: exit codes, -e, -u, -w, -d, -i, errors', async () => {
        const name = `${P}-ex`;
        ok(['run', '-d', '--name', name, 'busybox', 'sleep', '300']);
        assert.equal(exe(['exec', name, 'sh', '-c', 'exit 4']).code, 4);
        const env = ok([
          'exec',
          '-e',
          'A=b',
          '-u',
          '1000',
          '-w',
          '/tmp',
          name,
          'sh',
          '-c',
          'echo $A; id -u; pwd',
        ]);
        assert.equal(env, 'b\n1000\n/tmp\n');
        assert.equal(exe(['exec', '-i', name, 'cat'], 'piped\n').stdout, 'piped\n');
        const missing = exe(['exec', name, 'nonexist']);
        assert.equal(missing.code, 127);
        assert.match(missing.stderr, /executable file not found/);
        assert.equal(ok(['exec', '-d', name, 'sh', '-c', 'echo detached > /tmp/d']), '');
        // the detached exec finishes on its own
        let content = '';
        for (let i = 0; i < 20 && content !== 'detached\n'; i++) {
          content = exe(['exec', name, 'cat', '/tmp/d']).stdout;
        }
        assert.equal(content, 'detached\n');
        const unknown = exe(['exec', `${P}-nope`, 'true']);
        assert.equal(unknown.code, 1);
        assert.equal(unknown.stderr, `Error response from daemon: No such container: ${P}-nope\n`);
        const few = exe(['exec', name]);
        assert.equal(few.code, 1);
        assert.match(few.stderr, new RegExp(`'${s.cli.name} exec' requires at least 2 arguments`));
        ok(['stop', '-t', '0', name]);
        const stopped = exe(['exec', name, 'true']);
        assert.equal(stopped.code, 1);
        assert.match(stopped.stderr, /^Error response from daemon: .*not running/);
        ok(['rm', name]);
      });

      test('stop, kill, restart, pause, unpause, rename, rm: output and multi-target errors', async () => {
        const a = `${P}-lc`;
        const b = `${P}-lc2`;
        ok(['run', '-d', '--name', a, 'busybox', 'sleep', '300']);
        const state = async (n: string) => ok(['inspect', '--format', '{{.State.Status}}', n]).trim();
        assert.equal(ok(['pause', a]), `${a}\n`);
        assert.equal(await state(a), 'paused');
        const unpauseTwice = exe(['unpause', a, a]);
        assert.equal(unpauseTwice.stdout, `${a}\n`);
        assert.equal(unpauseTwice.code, 1);
        assert.match(unpauseTwice.stderr, /^Error response from daemon: .*not paused/);
        assert.equal(await state(a), 'running');
        assert.equal(ok(['restart', '-t', '0', a]), `${a}\n`);
        assert.equal(await state(a), 'running');
        assert.equal(ok(['kill', '-s', 'KILL', a]), `${a}\n`);
        // As dockerd, the daemon answers a SIGKILL once the container has stopped.
        assert.equal(await state(a), 'exited');
        assert.equal(ok(['inspect', '--format', '{{.State.ExitCode}}', a]), '137\n');
        assert.equal(ok(['start', a]), `${a}\n`);
        const stop = exe(['stop', '-t', '1', `${P}-nope`, a]);
        assert.equal(stop.code, 1);
        assert.equal(stop.stdout, `${a}\n`);
        assert.equal(stop.stderr, `Error response from daemon: No such container: ${P}-nope\n`);
        assert.equal(exe(['stop', '-t', 'soon', a]).code, 125);
        ok(['rename', a, b]);
        assert.equal(ok(['inspect', '--format', '{{.Name}}', b]), `/${b}\n`);
        ok(['create', '--name', a, 'busybox']);
        const clash = exe(['rename', b, a]);
        assert.equal(clash.code, 1);
        assert.match(clash.stderr, new RegExp(`Error: failed to rename container named ${b}\n$`));
        ok(['start', b]);
        const running = exe(['rm', b]);
        assert.equal(running.code, 1);
        assert.match(running.stderr, /^Error response from daemon: .*(running|stop the container)/i);
        // with -f a missing container is reported but is no failure
        const rm = exe(['rm', '-f', b, `${P}-nope`, a]);
        assert.equal(rm.code, 0);
        assert.equal(rm.stdout, `${b}\n${a}\n`);
        assert.equal(rm.stderr, `Error response from daemon: No such container: ${P}-nope\n`);
        const rmMissing = exe(['rm', `${P}-nope`]);
        assert.deepEqual(
          [rmMissing.code, rmMissing.stderr],
          [1, `Error response from daemon: No such container: ${P}-nope\n`],
        );
      });

      test('inspect: containers, images and unknown objects', async () => {
        const name = `${P}-in`;
        ok(['create', '--name', name, '-e', 'X=1', 'busybox', 'true']);
        const parsed = JSON.parse(ok(['inspect', name])) as {
          Name: string;
          Config: { Env: string[] };
        }[];
        assert.equal(parsed.length, 1);
        assert.equal(parsed[0]!.Name, `/${name}`);
        assert.ok(parsed[0]!.Config.Env.includes('X=1'));
        assert.equal(ok(['inspect', '--format', '{{.Config.Image}}', name]), 'busybox\n');
        const image = JSON.parse(ok(['inspect', 'busybox'])) as { RepoTags: string[] }[];
        assert.ok(image[0]!.RepoTags.includes('busybox:latest'));
        const unknown = exe(['inspect', `${P}-nope`]);
        assert.deepEqual(
          [unknown.code, unknown.stdout, unknown.stderr],
          [1, '[]\n', `Error: No such object: ${P}-nope\n`],
        );
        const typed = exe(['inspect', '--type', 'image', name]);
        assert.equal(typed.code, 1);
        assert.match(typed.stderr, /^Error response from daemon: No such image/);
        const group = exe(['container', 'inspect', 'busybox']);
        assert.equal(group.code, 1);
        assert.match(group.stderr, /No such container: busybox/);
        const mixed = exe(['inspect', '--format', '{{.Id}}', name, `${P}-nope`]);
        assert.equal(mixed.code, 1);
        assert.match(mixed.stdout, /^[0-9a-f]{64}\n$/);
        ok(['rm', name]);
      });

      test('top, stats --no-stream, port', async () => {
        const name = `${P}-tp`;
        const hostPort = 20000 + Math.floor(Math.random() * 20000);
        ok(['run', '-d', '--name', name, '-p', `${hostPort}:80`, 'busybox', 'sleep', '300']);
        const top = ok(['top', name]);
        assert.match(top.split('\n')[0]!, /^UID\s+PID\s+PPID\s+C\s+STIME\s+TTY\s+TIME\s+CMD$/);
        assert.match(top, /sleep 300/);
        const stats = ok(['stats', '--no-stream', name]);
        assert.match(
          stats.split('\n')[0]!,
          /^CONTAINER ID\s+NAME\s+CPU %\s+MEM USAGE \/ LIMIT\s+MEM %\s+NET I\/O\s+BLOCK I\/O\s+PIDS$/,
        );
        assert.match(
          stats.split('\n')[1]!,
          new RegExp(`^[0-9a-f]{12}\\s+${name}\\s+\\d+\\.\\d\\d%\\s+\\S+ / \\S+\\s+`),
        );
        const formatted = ok(['stats', '--no-stream', '--format', '{{.Name}} {{.PIDs}}', name]);
        assert.equal(formatted, `${name} 1\n`);
        assert.equal(ok(['port', name]), `80/tcp -> 0.0.0.0:${hostPort}\n`);
        assert.equal(ok(['port', name, '80']), `0.0.0.0:${hostPort}\n`);
        const none = exe(['port', name, '81']);
        assert.deepEqual([none.code, none.stderr], [1, `Error: No public port '81' published for ${name}\n`]);
        ok(['stop', '-t', '0', name]);
        // a stopped container has no usage, as in docker (no error)
        assert.equal(
          ok(['stats', '--no-stream', '--format', '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}', name]),
          `${name} 0.00% 0B / 0B 0\n`,
        );
        const stopped = exe(['top', name]);
        assert.equal(stopped.code, 1);
        assert.match(stopped.stderr, /is not running/);
        const unknown = exe(['stats', '--no-stream', `${P}-nope`]);
        assert.equal(unknown.code, 1);
        assert.match(unknown.stderr, /No such container/);
        ok(['rm', name]);
      });

      test('container prune, container run', async () => {
        const name = `${P}-pr`;
        const id = ok(['create', '--name', name, 'busybox', 'true']).trim();
        const keep = `${P}-keep`;
        ok(['run', '-d', '--name', keep, 'busybox', 'sleep', '300']);
        const pruned = ok(['container', 'prune', '-f']);
        assert.match(
          pruned,
          new RegExp(`^Deleted Containers:\n(.*\n)*${id}\n(.*\n)*\nTotal reclaimed space: \\S+\n$`),
        );
        assert.doesNotMatch(pruned, new RegExp(keep));
        assert.equal(ok(['container', 'prune', '-f']), 'Total reclaimed space: 0B\n');
        assert.equal(exe(['container', 'prune'], 'n\n').stdout.includes('Are you sure'), true);
        const r = exe(['container', 'run', '--rm', 'busybox', 'sh', '-c', 'exit 9']);
        assert.equal(r.code, 9);
        assert.equal(existsSync(join(s.tmp, 'nothing')), false);
        ok(['container', 'rm', '-f', keep]);
      });

      test('run -it and exec -it: a terminal in the container, exit codes through', async () => {
        const run = await s.inPty(['run', '-it', '--rm', 'busybox', 'sh'], { input: 'tty\nexit 4\n' });
        assert.equal(run.status, 4);
        assert.match(run.stdout, /\/dev\/pts\/\d+/);
        const name = `${P}-tty`;
        ok(['run', '-d', '--name', name, 'busybox', 'sleep', '300']);
        const exec = await s.inPty(['exec', '-it', name, 'sh'], { input: 'echo in-$((2+3))\nexit 5\n' });
        assert.equal(exec.status, 5);
        assert.match(exec.stdout, /in-5/);
        ok(['rm', '-f', name]);
      });
    });
});
