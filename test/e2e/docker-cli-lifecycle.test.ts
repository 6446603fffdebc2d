// Container lifecycle through the docker CLI: create/start/stop/kill/restart/pause/wait/rm/rename/prune,
// ps with its filters and formats, and inspect shapes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CLIS, type Suite, setUp, skipReason, until } from './docker-cli-lib.js';

const skip = skipReason();

describe('docker container lifecycle', { skip, concurrency: false }, () => {
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
      const state = (ref: string) => s.ok(['inspect', '-f', '{{.State.Status}}', ref]);

      test('create, start, stop, start again, kill -s, restart, rm', () => {
        const loop = 'trap "exit 9" USR1; while true; do sleep 0.1; done';
        const id = s.ok(['create', '--name', 'life1', 'busybox', 'sh', '-c', loop]);
        assert.equal(state(id), 'created');
        assert.equal(s.ok(['start', 'life1']), 'life1');
        assert.equal(state(id), 'running');
        assert.equal(s.ok(['stop', '-t', '1', 'life1']), 'life1');
        assert.equal(state(id), 'exited');
        assert.equal(s.ok(['inspect', '-f', '{{.State.ExitCode}}', id]), '137');
        s.ok(['start', id]);
        s.ok(['kill', '-s', 'USR1', 'life1']);
        assert.equal(s.ok(['wait', 'life1']), '9');
        const badSignal = s.cmd(['kill', '-s', 'NOPE', id]);
        assert.notEqual(badSignal.status, 0);
        assert.match(badSignal.stderr, /NOPE/);
        s.ok(['start', id]);
        const pid1 = s.ok(['inspect', '-f', '{{.State.Pid}}', id]);
        s.ok(['restart', '-t', '0', 'life1']);
        assert.equal(state(id), 'running');
        assert.notEqual(s.ok(['inspect', '-f', '{{.State.Pid}}', id]), pid1);
        const rmRunning = s.cmd(['rm', 'life1']);
        assert.equal(rmRunning.status, 1);
        assert.match(rmRunning.stderr, /cannot remove container "\/?life1": container is running/);
        s.ok(['rm', '-f', 'life1']);
        const gone = s.cmd(['inspect', 'life1']);
        assert.equal(gone.status, 1);
        assert.match(gone.stderr, /No such object: life1|No such container: life1/);
      });

      test('stop of a process that traps SIGTERM exits cleanly with its code', () => {
        s.ok([
          'run',
          '-d',
          '--name',
          'trap1',
          'busybox',
          'sh',
          '-c',
          'trap "exit 7" TERM; while true; do sleep 0.1; done',
        ]);
        s.ok(['stop', 'trap1']);
        assert.equal(s.ok(['inspect', '-f', '{{.State.ExitCode}}', 'trap1']), '7');
        s.ok(['rm', 'trap1']);
      });

      test('pause and unpause', () => {
        s.ok(['run', '-d', '--name', 'pause1', 'busybox', 'sleep', '300']);
        s.ok(['pause', 'pause1']);
        assert.equal(state('pause1'), 'paused');
        assert.match(s.ok(['ps', '--filter', 'name=pause1', '--format', '{{.Status}}']), /\(Paused\)/);
        const again = s.cmd(['pause', 'pause1']);
        assert.notEqual(again.status, 0);
        assert.match(again.stderr, /already paused/);
        s.ok(['unpause', 'pause1']);
        assert.equal(state('pause1'), 'running');
        s.ok(['rm', '-f', 'pause1']);
      });

      test('wait returns the exit code; kill on a stopped container is a 409', () => {
        s.ok(['run', '-d', '--name', 'wait1', 'busybox', 'sh', '-c', 'sleep 0.5; exit 5']);
        assert.equal(s.ok(['wait', 'wait1']), '5');
        const k = s.cmd(['kill', 'wait1']);
        assert.equal(k.status, 1);
        assert.match(k.stderr, /is not running/);
        s.ok(['rm', 'wait1']);
        const missing = s.cmd(['wait', 'nosuch']);
        assert.equal(missing.status, 1);
        assert.match(missing.stderr, /No such container: nosuch/);
      });

      test('rename', () => {
        s.ok(['create', '--name', 'ren1', 'busybox', 'true']);
        s.ok(['rename', 'ren1', 'ren2']);
        assert.equal(s.ok(['inspect', '-f', '{{.Name}}', 'ren2']), '/ren2');
        s.ok(['create', '--name', 'ren3', 'busybox', 'true']);
        const taken = s.cmd(['rename', 'ren2', 'ren3']);
        assert.equal(taken.status, 1);
        assert.match(taken.stderr, /already in use/);
        const badName = s.cmd(['rename', 'ren2', 'bad name!']);
        assert.equal(badName.status, 1);
        assert.match(badName.stderr, /Invalid container name/);
        s.ok(['rm', 'ren2', 'ren3']);
      });

      test('ps: -a -q -n -l --no-trunc -s, filters and --format', async () => {
        const a = s.ok(['run', '-d', '--name', 'psa', '-l', 'tier=web', 'busybox', 'sleep', '300']);
        assert.equal(
          s.cmd(['run', '--name', 'psb', '-l', 'tier=db', 'busybox', 'sh', '-c', 'exit 2']).status,
          2,
        );
        const c = s.ok(['create', '--name', 'psc', 'busybox', 'true']);
        assert.deepEqual(s.ok(['ps', '-q']).split('\n'), [a.slice(0, 12)]);
        assert.equal(s.ok(['ps', '-aq']).split('\n').length, 3);
        assert.equal(s.ok(['ps', '-lq']), c.slice(0, 12));
        assert.equal(s.ok(['ps', '-n', '2', '-q']).split('\n').length, 2);
        assert.equal(s.ok(['ps', '-q', '--no-trunc']), a);
        const f = (filter: string) =>
          s.ok(['ps', '-a', '--filter', filter, '--format', '{{.Names}}']).split('\n').sort();
        assert.deepEqual(f('status=exited'), ['psb']);
        assert.deepEqual(f('status=created'), ['psc']);
        assert.deepEqual(f('status=running'), ['psa']);
        assert.deepEqual(f('name=psb'), ['psb']);
        assert.deepEqual(f('label=tier'), ['psa', 'psb']);
        assert.deepEqual(f('label=tier=db'), ['psb']);
        assert.deepEqual(f('ancestor=busybox'), ['psa', 'psb', 'psc']);
        assert.deepEqual(f('exited=2'), ['psb']);
        assert.deepEqual(f(`id=${a.slice(0, 8)}`), ['psa']);
        const bad = s.cmd(['ps', '--filter', 'status=bogus']);
        assert.notEqual(bad.status, 0);
        assert.match(bad.stderr, /invalid filter|Unrecognised filter value for status/i);
        const table = s.ok(['ps', '-a', '--filter', 'name=psb']);
        assert.match(
          table.split('\n')[0] ?? '',
          /CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+PORTS\s+NAMES/,
        );
        assert.match(table, /Exited \(2\)/);
        const sized = s.ok(['ps', '-s', '--filter', 'name=psa', '--format', '{{.Size}}']);
        assert.match(sized, /B \(virtual [\d.]+\s?[kMG]?B\)/);
        const json = JSON.parse(s.ok(['ps', '--filter', 'name=psa', '--format', '{{json .}}'])) as Record<
          string,
          string
        >;
        assert.equal(json.Names, 'psa');
        assert.equal(json.Image, 'busybox');
        assert.equal(json.Command, '"sleep 300"');
        assert.match(json.Labels ?? '', /tier=web/);
        s.ok(['rm', '-f', 'psa']);
        // prune removes stopped containers only
        s.ok(['run', '-d', '--name', 'psd', 'busybox', 'sleep', '300']);
        const pruned = s.ok(['container', 'prune', '-f']);
        assert.match(pruned, new RegExp(c));
        assert.deepEqual(s.ok(['ps', '-a', '--format', '{{.Names}}']).split('\n'), ['psd']);
        s.ok(['rm', '-f', 'psd']);
        assert.equal(await until(() => s.ok(['ps', '-aq']) === ''), true);
      });

      test('inspect: State, Config, HostConfig, Mounts, NetworkSettings', () => {
        const id = s.ok([
          'run',
          '-d',
          '--name',
          'insp',
          '-e',
          'X=1',
          '-p',
          '127.0.0.1::80',
          '-v',
          '/tmp:/hosttmp:ro',
          '--restart',
          'on-failure:2',
          'busybox',
          'sleep',
          '300',
        ]);
        // biome-ignore lint/suspicious/noExplicitAny: a JSON document read field by field
        const [info] = JSON.parse(s.ok(['inspect', id])) as Record<string, any>[];
        assert.ok(info);
        assert.equal(info.Id, id);
        assert.equal(info.Name, '/insp');
        assert.equal(info.Path, 'sleep');
        assert.deepEqual(info.Args, ['300']);
        assert.equal(info.State.Status, 'running');
        assert.equal(info.State.Running, true);
        assert.ok(info.State.Pid > 0);
        assert.match(info.State.StartedAt, /^\d{4}-\d\d-\d\dT/);
        assert.equal(info.State.FinishedAt, '0001-01-01T00:00:00Z');
        assert.match(info.Image, /^sha256:[0-9a-f]{64}$/);
        assert.equal(info.Config.Image, 'busybox');
        assert.ok(info.Config.Env.includes('X=1'));
        assert.deepEqual(info.Config.Cmd, ['sleep', '300']);
        assert.equal(info.Config.Hostname, id.slice(0, 12));
        assert.deepEqual(info.HostConfig.RestartPolicy, { Name: 'on-failure', MaximumRetryCount: 2 });
        assert.deepEqual(info.HostConfig.Binds, ['/tmp:/hosttmp:ro']);
        assert.deepEqual(info.HostConfig.PortBindings['80/tcp'], [{ HostIp: '127.0.0.1', HostPort: '' }]);
        assert.equal(info.Mounts.length, 1);
        assert.equal(info.Mounts[0].Type, 'bind');
        assert.equal(info.Mounts[0].Source, '/tmp');
        assert.equal(info.Mounts[0].Destination, '/hosttmp');
        assert.equal(info.Mounts[0].RW, false);
        const ns = info.NetworkSettings;
        assert.match(ns.IPAddress, /^\d+\.\d+\.\d+\.\d+$/);
        assert.ok(ns.Networks.bridge);
        assert.equal(ns.Networks.bridge.IPAddress, ns.IPAddress);
        assert.match(ns.Networks.bridge.MacAddress, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
        const hostPort = ns.Ports['80/tcp'][0];
        assert.equal(hostPort.HostIp, '127.0.0.1');
        assert.ok(Number(hostPort.HostPort) > 0);
        assert.match(s.ok(['port', 'insp', '80']), /^127\.0\.0\.1:\d+$/);
        assert.equal(s.ok(['inspect', '-f', '{{.NetworkSettings.IPAddress}}', 'insp']), ns.IPAddress);
        // defaults dockerd fills in at create
        assert.equal(info.HostConfig.ShmSize, 64 * 1024 * 1024);
        assert.equal(info.HostConfig.LogConfig.Type, 'json-file');
        assert.equal(info.HostConfig.IpcMode, 'private');
        assert.ok(info.HostConfig.MaskedPaths.includes('/proc/kcore'));
        assert.equal(info.Config.Volumes, null);
        s.ok(['rm', '-f', id]);
        const none = s.ok(['create', '--network', 'none', 'busybox', 'true']);
        assert.deepEqual(
          Object.keys(JSON.parse(s.ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', none]))),
          ['none'],
        );
        assert.equal(s.ok(['ps', '-a', '--filter', `id=${none}`, '--format', '{{.Networks}}']), 'none');
        s.ok(['rm', none]);
        const missing = s.cmd(['container', 'inspect', 'nosuch']);
        assert.equal(missing.status, 1);
        assert.match(missing.stderr, /No such container: nosuch/);
      });
    });
});
