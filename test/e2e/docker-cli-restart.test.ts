// Health checks, restart policies and daemon restarts through the docker CLI; then nothing is left behind.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { CLIS, type Suite, setUp, skipReason, until } from './docker-cli-lib.js';

const skip = skipReason();

/** The net prefix the test daemon was given (its bridge is `<prefix>0`). */
function daemonArgs(s: Suite): { bridge: string; prefix: string } {
  const cmd = execFileSync('sh', [
    '-c',
    `ps -eo args | grep -- '--data-root ${s.d.root}/data' | grep -v grep | head -1`,
  ])
    .toString()
    .trim()
    .split(/\s+/);
  const at = (flag: string) => cmd[cmd.indexOf(flag) + 1] ?? '';
  return { bridge: at('--bridge'), prefix: at('--net-prefix') };
}

describe('docker health checks, restart policies, daemon restarts', { skip, concurrency: false }, () => {
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

      test('a failing --health-cmd turns a container unhealthy, with health_status events', async () => {
        const since = String(Math.floor(Date.now() / 1000) - 1);
        s.ok([
          'run',
          '-d',
          '--name',
          'hc1',
          '--health-cmd',
          'test -e /tmp/healthy',
          '--health-interval',
          '300ms',
          '--health-retries',
          '2',
          '--health-timeout',
          '2s',
          'busybox',
          'sh',
          '-c',
          'touch /tmp/healthy; sleep 300',
        ]);
        const health = () => s.ok(['inspect', '-f', '{{.State.Health.Status}}', 'hc1']);
        assert.equal(await until(() => health() === 'healthy'), true);
        assert.match(s.ok(['ps', '--filter', 'name=hc1', '--format', '{{.Status}}']), /\(healthy\)/);
        s.ok(['exec', 'hc1', 'rm', '/tmp/healthy']);
        assert.equal(await until(() => health() === 'unhealthy'), true);
        assert.deepEqual(s.ok(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}}']).split('\n'), [
          'hc1',
        ]);
        const log = JSON.parse(s.ok(['inspect', '-f', '{{json .State.Health}}', 'hc1'])) as {
          FailingStreak: number;
          Log: { ExitCode: number }[];
        };
        assert.ok(log.FailingStreak >= 2);
        assert.equal(log.Log.at(-1)?.ExitCode, 1);
        const events = s.ok([
          'events',
          '--since',
          since,
          '--until',
          String(Math.floor(Date.now() / 1000) + 1),
          '--filter',
          'container=hc1',
          '--filter',
          'event=health_status',
          '--format',
          '{{.Action}}',
        ]);
        assert.deepEqual(
          [...new Set(events.split('\n'))],
          ['health_status: healthy', 'health_status: unhealthy'],
        );
        s.ok(['rm', '-f', 'hc1']);
        const bad = s.cmd(['run', '--rm', '--health-interval', '-1s', 'busybox', 'true']);
        assert.equal(bad.status, 125);
      });

      test('--restart on-failure:3 restarts exactly 3 times', async () => {
        s.ok([
          'run',
          '-d',
          '--name',
          'rf3',
          '--restart',
          'on-failure:3',
          'busybox',
          'sh',
          '-c',
          'echo run; exit 1',
        ]);
        const done = () =>
          s.ok(['inspect', '-f', '{{.State.Status}} {{.RestartCount}}', 'rf3']) === 'exited 3'
            ? true
            : undefined;
        assert.equal(await until(done, 30_000), true);
        // it stays exited: no fourth restart
        await new Promise((r) => setTimeout(r, 1500));
        assert.equal(
          s.ok(['inspect', '-f', '{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}', 'rf3']),
          'exited 3 1',
        );
        assert.equal(s.cmd(['logs', 'rf3']).stdout, 'run\nrun\nrun\nrun\n');
        s.ok(['rm', 'rf3']);
        const badPolicy = s.cmd(['run', '-d', '--restart', 'sometimes', 'busybox', 'true']);
        assert.equal(badPolicy.status, 125);
        const rmAndRestart = s.cmd(['run', '-d', '--rm', '--restart', 'always', 'busybox', 'true']);
        assert.equal(rmAndRestart.status, 125);
        assert.match(rmAndRestart.stderr, /conflicting options/i);
      });

      test('a stopped --restart always container stays stopped; docker stop is honoured', async () => {
        s.ok(['run', '-d', '--name', 'ra0', '--restart', 'always', 'busybox', 'sleep', '300']);
        s.ok(['stop', '-t', '1', 'ra0']);
        await new Promise((r) => setTimeout(r, 1000));
        assert.equal(s.ok(['inspect', '-f', '{{.State.Status}}', 'ra0']), 'exited');
        s.ok(['rm', 'ra0']);
      });

      test('containers survive a daemon restart and are re-adopted; --restart always comes back', async () => {
        s.ok(['run', '-d', '--name', 'survivor', 'busybox', 'sh', '-c', 'echo before; sleep 300']);
        s.ok(['run', '-d', '--name', 'always', '--restart', 'always', 'busybox', 'sleep', '300']);
        s.ok(['run', '-d', '--name', 'plain', 'busybox', 'sleep', '300']);
        const pid = s.ok(['inspect', '-f', '{{.State.Pid}}', 'survivor']);
        // The 'always' and 'plain' containers die while the daemon is down.
        const alwaysPid = s.ok(['inspect', '-f', '{{.State.Pid}}', 'always']);
        const plainPid = s.ok(['inspect', '-f', '{{.State.Pid}}', 'plain']);
        const restart = s.d.restart();
        process.kill(Number(alwaysPid), 'SIGKILL');
        process.kill(Number(plainPid), 'SIGKILL');
        await restart;
        assert.equal(
          s.ok(['inspect', '-f', '{{.State.Status}} {{.State.Pid}}', 'survivor']),
          `running ${pid}`,
        );
        assert.equal(s.cmd(['logs', 'survivor']).stdout, 'before\n');
        assert.equal(s.ok(['exec', 'survivor', 'echo', 'exec-after']), 'exec-after');
        assert.equal(
          await until(() => s.ok(['inspect', '-f', '{{.State.Status}}', 'always']) === 'running'),
          true,
        );
        assert.equal(s.ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'plain']), 'exited 137');
        // logs -f of a re-adopted container ends when it stops
        const follow = new Promise<string>((resolve) => {
          const child = s.spawn(['logs', '-f', 'survivor']);
          let out = '';
          child.stdout?.on('data', (b: Buffer) => {
            out += b.toString();
          });
          child.on('close', () => resolve(out));
        });
        await new Promise((r) => setTimeout(r, 300));
        s.ok(['stop', '-t', '1', 'survivor']);
        assert.equal(await follow, 'before\n');
        assert.equal(s.ok(['inspect', '-f', '{{.State.Status}}', 'survivor']), 'exited');
        s.ok(['rm', '-f', 'survivor', 'always', 'plain']);
      });

      test('nothing is left behind: veths, netns, iptables rules, mounts', async () => {
        s.ok(['network', 'create', 'leftnet']);
        s.ok(['volume', 'create', 'leftvol']);
        s.ok([
          'run',
          '-d',
          '--name',
          'l1',
          '--network',
          'leftnet',
          '-p',
          '127.0.0.1::80',
          '-v',
          'leftvol:/v',
          'busybox',
          'sleep',
          '300',
        ]);
        s.ok(['run', '-d', '--name', 'l2', '-p', '127.0.0.1::81', 'busybox', 'sleep', '300']);
        s.ok(['rm', '-f', 'l1', 'l2']);
        s.ok(['network', 'rm', 'leftnet']);
        s.ok(['volume', 'rm', 'leftvol']);
        assert.equal(s.ok(['ps', '-aq']), '');
        const { bridge, prefix } = daemonArgs(s);
        assert.ok(prefix, 'found the daemon’s net prefix');
        const netns = existsSync('/run/netns') ? execFileSync('ls', ['/run/netns']).toString() : '';
        assert.deepEqual(
          netns.split('\n').filter((n) => n.startsWith(`${prefix}-`)),
          [],
        );
        // the only interface left of ours is the default bridge (and no veth attached to it)
        const links = execFileSync('ip', ['-o', 'link', 'show']).toString();
        assert.equal(links.split('\n').filter((l) => l.includes(`master ${bridge} `)).length, 0);
        const rules =
          execFileSync('iptables-save').toString() + execFileSync('iptables-save', ['-t', 'nat']).toString();
        const dnat = rules
          .split('\n')
          .filter((l) => l.includes(prefix.toUpperCase()) && l.includes('-j DNAT'));
        assert.deepEqual(dnat, []);
        const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
          .split('\n')
          .map((l) => l.split(' ')[4] ?? '')
          .filter((m) => m.startsWith(join(s.d.root, 'data')));
        assert.deepEqual(mounts, []);
      });
    });
});
