// The docker CLI's streaming commands against berth: logs, attach, exec, top, stats and events.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLIS, type Suite, setUp, skipReason, until } from './docker-cli-lib.js';

const skip = skipReason();

describe('docker logs, attach, exec, top, stats, events', { skip, concurrency: false }, () => {
  let s: Suite;
  before(async () => {
    s = await setUp();
  });
  after(async () => {
    await s?.close();
  });
  test('exec with Tty, ConsoleSize and stdin through the API returns a short process’s output every time', async () => {
    const c = await s.d.client.containers.create({ Image: 'busybox', Cmd: ['sleep', '300'] });
    try {
      await s.d.client.containers.start(c.Id);
      for (let i = 0; i < 20; i++) {
        const { Id } = await s.d.client.exec.create(c.Id, {
          Cmd: ['echo', `api${i}`],
          Tty: true,
          AttachStdin: true,
          AttachStdout: true,
          AttachStderr: true,
        });
        const stream = await s.d.client.exec.start(Id, { Tty: true, ConsoleSize: [24, 80] });
        let out = '';
        stream.on('data', (b: Buffer) => {
          out += b.toString();
        });
        stream.on('error', () => {}); // the daemon may have closed its side already
        // Input arriving as the process exits must not cost its output (the terminal may echo it: ^@).
        stream.end('\0');
        await new Promise((r) => stream.once('close', r));
        assert.ok(out.includes(`api${i}\r\n`), JSON.stringify(out));
        assert.equal((await s.d.client.exec.inspect(Id)).ExitCode, 0);
      }
    } finally {
      await s.d.client.containers.remove(c.Id, { force: true });
    }
  });

  for (const cli of CLIS)
    describe(cli.name, { concurrency: false }, () => {
      before(() => s.use(cli));

      test('logs: stdout and stderr, --tail, -t, --since, -f', async () => {
        s.ok([
          'run',
          '--name',
          'log1',
          'busybox',
          'sh',
          '-c',
          'for i in 1 2 3 4 5; do echo out$i; done; echo err1 >&2',
        ]);
        const all = s.cmd(['logs', 'log1']);
        assert.equal(all.status, 0);
        assert.equal(all.stdout, 'out1\nout2\nout3\nout4\nout5\n');
        assert.equal(all.stderr, 'err1\n');
        // --tail counts lines of both streams together, as Docker's does.
        const tail = s.cmd(['logs', '--tail', '2', 'log1']);
        assert.equal(tail.stdout, 'out5\n');
        assert.equal(tail.stderr, 'err1\n');
        assert.equal(s.cmd(['logs', '--tail', '0', 'log1']).stdout, '');
        const stamped = s.cmd(['logs', '-t', '--tail', '2', 'log1']).stdout;
        assert.match(stamped, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z out5\n$/);
        assert.equal(s.cmd(['logs', '--since', '2099-01-01T00:00:00Z', 'log1']).stdout, '');
        assert.equal(s.cmd(['logs', '--since', '1h', 'log1']).stdout.split('\n').length, 6);
        assert.equal(s.cmd(['logs', '--until', '2000-01-01T00:00:00Z', 'log1']).stdout, '');
        assert.equal(s.cmd(['logs', '--until', '2099-01-01T00:00:00Z', 'log1']).stdout.split('\n').length, 6);
        const bad = s.cmd(['logs', '--since', 'yesterday-ish', 'log1']);
        assert.notEqual(bad.status, 0);
        s.ok(['rm', 'log1']);

        // -f follows a running container and ends when it exits.
        s.ok([
          'run',
          '-d',
          '--name',
          'log2',
          'busybox',
          'sh',
          '-c',
          'echo first; sleep 1; echo second; sleep 0.5',
        ]);
        const followed = await s.cmdAsync(['logs', '-f', 'log2'], { timeoutMs: 20_000 });
        assert.equal(followed.status, 0);
        assert.equal(followed.stdout, 'first\nsecond\n');
        s.ok(['rm', 'log2']);
      });

      test('attach to a running container sees its output and its exit code', async () => {
        // It ticks until told to finish: the attach is in place once a tick comes through.
        const loop = 'while [ ! -e /tmp/go ]; do echo tick; sleep 0.2; done; echo attached-out; exit 6';
        s.ok(['run', '-d', '--name', 'att1', 'busybox', 'sh', '-c', loop]);
        const child = s.spawn(['attach', 'att1']);
        let out = '';
        child.stdout?.on('data', (b: Buffer) => {
          out += b.toString();
        });
        const status = new Promise<number | null>((r) => child.on('close', r));
        try {
          assert.equal(await until(() => out.includes('tick')), true);
          s.ok(['exec', 'att1', 'touch', '/tmp/go']);
          assert.equal(await status, 6);
        } finally {
          child.kill();
        }
        assert.match(out, /^(tick\n)+attached-out\n$/);
        s.ok(['rm', 'att1']);
        // -i attach forwards stdin
        s.ok(['run', '-d', '-i', '--name', 'att2', 'busybox', 'sh', '-c', 'read line; echo got:$line']);
        const r2 = await s.cmdAsync(['attach', 'att2'], { input: 'hello\n', timeoutMs: 20_000 });
        assert.equal(r2.stdout, 'got:hello\n');
        s.ok(['rm', '-f', 'att2']);
        // a terminal container wants a terminal on this side too, unless stdin stays out of it
        s.ok(['run', '-d', '-t', '--name', 'att3', 'busybox', 'sleep', '300']);
        const noTty = s.cmd(['attach', 'att3']);
        assert.deepEqual([noTty.status, noTty.stderr.trim()], [1, 'the input device is not a TTY']);
        s.ok(['rm', '-f', 'att3']);
      });

      test('exec: output, exit codes, -e, -u, -w, -d, -i, --privileged, -t', async () => {
        s.ok(['run', '-d', '--name', 'ex1', 'busybox', 'sleep', '300']);
        assert.equal(s.ok(['exec', 'ex1', 'echo', 'hi']), 'hi');
        assert.equal(s.cmd(['exec', 'ex1', 'sh', '-c', 'exit 4']).status, 4);
        const missing = s.cmd(['exec', 'ex1', '/no/such']);
        assert.equal(missing.status, 127);
        assert.match(missing.stderr + missing.stdout, /no such file or directory/);
        const notExec = s.cmd(['exec', 'ex1', '/etc/passwd']);
        assert.equal(notExec.status, 126);
        assert.equal(
          s.ok([
            'exec',
            '-e',
            'V=7',
            '-u',
            'nobody',
            '-w',
            '/tmp',
            'ex1',
            'sh',
            '-c',
            'echo $V $(id -un) $(pwd)',
          ]),
          '7 nobody /tmp',
        );
        assert.equal(s.ok(['exec', '-i', 'ex1', 'cat'], { input: 'in via stdin\n' }), 'in via stdin');
        s.ok(['exec', '-d', 'ex1', 'sh', '-c', 'echo detached > /tmp/d.txt']);
        assert.equal(
          await until(() => s.cmd(['exec', 'ex1', 'cat', '/tmp/d.txt']).stdout.trim()),
          'detached',
        );
        const capEff = (args: string[]) =>
          BigInt(
            `0x${s.ok(['exec', ...args, 'ex1', 'sh', '-c', 'grep CapEff /proc/self/status | cut -f2'])}`,
          );
        assert.ok(capEff(['--privileged']) > capEff([]));
        // -t: the terminal's output comes back through it, and the exit code too.
        const tty = await s.inPty(['exec', '-it', 'ex1', 'sh', '-c', 'tty; exit 3']);
        assert.equal(tty.status, 3);
        assert.match(tty.stdout, /^\/dev\/pts\/\d+\n$/);
        // A process that exits at once keeps its output, every time (conmon's terminal and our attach
        // used to race the exit: the output was lost now and then).
        const outputs = new Set<string>();
        for (let i = 0; i < 20; i++) {
          const r = await s.inPty(['exec', '-it', 'ex1', 'echo', `hi${i}`]);
          assert.equal(r.status, 0, r.stderr);
          outputs.add(r.stdout === `hi${i}\n` ? 'ok' : JSON.stringify(r.stdout));
        }
        assert.deepEqual([...outputs], ['ok']);
        const stopped = s.ok(['create', '--name', 'ex2', 'busybox', 'true']);
        const notRunning = s.cmd(['exec', stopped, 'true']);
        assert.equal(notRunning.status, 1);
        assert.match(notRunning.stderr, /is not running/);
        s.ok(['rm', '-f', 'ex1', 'ex2']);
      });

      test('cp both ways and diff', async () => {
        s.ok(['run', '-d', '--name', 'cp1', 'busybox', 'sh', '-c', 'echo made > /tmp/made.txt; sleep 300']);
        const host = join(s.tmp, `cp-${s.cli.name}`);
        mkdirSync(host, { recursive: true });
        writeFileSync(join(host, 'in.txt'), 'from host\n');
        assert.equal(
          await until(() => s.cmd(['exec', 'cp1', 'test', '-e', '/tmp/made.txt']).status === 0),
          true,
        );
        s.ok(['cp', join(host, 'in.txt'), 'cp1:/root/in.txt']);
        assert.equal(s.ok(['exec', 'cp1', 'cat', '/root/in.txt']), 'from host');
        s.ok(['cp', 'cp1:/tmp/made.txt', join(host, 'out.txt')]);
        assert.equal(readFileSync(join(host, 'out.txt'), 'utf8'), 'made\n');
        const diff = s.ok(['diff', 'cp1']).split('\n');
        for (const line of ['C /root', 'A /root/in.txt', 'C /tmp', 'A /tmp/made.txt'])
          assert.ok(diff.includes(line), line);
        const missing = s.cmd(['cp', 'cp1:/no/such', host]);
        assert.equal(missing.status, 1);
        assert.match(missing.stderr, /Could not find the file \/no\/such in container cp1/);
        s.ok(['rm', '-f', 'cp1']);
      });

      test('top and stats --no-stream', () => {
        s.ok(['run', '-d', '--name', 'top1', 'busybox', 'sleep', '300']);
        const top = s.ok(['top', 'top1']);
        assert.match(top.split('\n')[0] ?? '', /PID/);
        assert.match(top, /sleep 300/);
        const stats = s.ok(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}} {{.PIDs}}', 'top1']);
        assert.match(stats, /^top1 [\d.]+[KMG]?i?B \/ [\d.]+[KMGT]?i?B 1$/);
        const json = JSON.parse(s.ok(['stats', '--no-stream', '--format', '{{json .}}', 'top1'])) as Record<
          string,
          string
        >;
        assert.equal(json.Name, 'top1');
        assert.match(json.CPUPerc ?? '', /%$/);
        s.ok(['rm', '-f', 'top1']);
      });

      test('events with --since/--until and filters', async () => {
        const since = Math.floor(Date.now() / 1000) - 1;
        s.ok(['run', '--rm', '--name', 'ev1', '-l', 'evlabel=1', 'busybox', 'true']);
        s.ok(['run', '--rm', '--name', 'ev2', 'busybox', 'true']);
        const upTo = Math.floor(Date.now() / 1000) + 1;
        const r = s.cmd([
          'events',
          '--since',
          String(since),
          '--until',
          String(upTo),
          '--filter',
          'container=ev1',
          '--format',
          '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}',
        ]);
        assert.equal(r.status, 0, r.stderr);
        const actions = r.stdout.trim().split('\n');
        assert.deepEqual(
          actions.map((l) => l.split(' ')[1]),
          ['create', 'attach', 'start', 'die', 'destroy'].filter((a) =>
            actions.some((l) => l.includes(` ${a} `)),
          ),
        );
        for (const a of ['create', 'start', 'die', 'destroy'])
          assert.ok(actions.includes(`container ${a} ev1`), a);
        assert.ok(!r.stdout.includes('ev2'));
        const byLabel = s.ok([
          'events',
          '--since',
          String(since),
          '--until',
          String(upTo),
          '--filter',
          'label=evlabel=1',
          '--filter',
          'event=die',
          '--format',
          '{{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}',
        ]);
        assert.equal(byLabel, 'ev1 0');
        // Live: a running `docker events` sees a new container's start.
        const child = s.spawn([
          'events',
          '--filter',
          'event=start',
          '--format',
          '{{.Actor.Attributes.name}}',
        ]);
        let out = '';
        child.stdout?.on('data', (b: Buffer) => {
          out += b.toString();
        });
        try {
          await new Promise((r) => setTimeout(r, 500));
          s.ok(['run', '--rm', '--name', 'ev3', 'busybox', 'true']);
          assert.equal(await until(() => out.includes('ev3')), true);
        } finally {
          child.kill();
        }
        const badFilter = s.cmd([
          'events',
          '--since',
          String(since),
          '--until',
          String(upTo),
          '--filter',
          'nosuch=1',
        ]);
        assert.notEqual(badFilter.status, 0);
        assert.match(badFilter.stderr, /invalid filter/);
      });
    });
});
