// The berth CLI's network, volume and system commands against a private berth daemon: Docker's outputs,
// messages and exit codes, including bad input and resources in use.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseBootstrapTarget } from '../../src/cli/commands/bootstrap.js';
import { historyRow } from '../../src/cli/commands/images.js';
import { ipamConfigs } from '../../src/cli/commands/networks.js';
import { diskUsageRows, eventLine, eventTimestamp } from '../../src/cli/commands/system.js';
import { startTestDaemon, type TestDaemon } from '../helpers/daemon.js';
import { berthArgv, haveCommand, isRoot, runTool as runCli } from '../helpers/index.js';

const REPO = join(fileURLToPath(import.meta.url), '../../..');
const DOCKER = '/usr/local/bin/docker';
const skip = !isRoot()
  ? 'needs root'
  : !haveCommand('runc') || !haveCommand('conmon') || !existsSync(DOCKER) || !existsSync('/bin/busybox')
    ? 'needs runc, conmon, the docker CLI and busybox-static'
    : undefined;

// The CLIs of this file are killed after 2 minutes.
const runTool = (cmd: string, args: string[], env: NodeJS.ProcessEnv, input = '') =>
  runCli(cmd, args, env, { input, timeoutMs: 120_000 });

test('event timestamps and lines as docker prints them', () => {
  assert.equal(eventTimestamp('1700000000'), '1700000000');
  assert.equal(eventTimestamp('1700000000.5'), '1700000000.5');
  assert.equal(eventTimestamp('10m', 1_700_000_600_000), '1700000000.000000000');
  assert.equal(eventTimestamp('1h30m', 1_700_005_400_250), '1700000000.250000000');
  assert.equal(eventTimestamp('2023-11-14T22:13:20Z'), '1700000000.000000000');
  assert.throws(() => eventTimestamp('yesterday-ish'), /"yesterday-ish" is not a time or duration/);
  const prevTz = process.env.TZ;
  process.env.TZ = 'UTC';
  try {
    assert.equal(
      eventLine({
        Type: 'volume',
        Action: 'create',
        Actor: { ID: 'v1', Attributes: { z: '1', driver: 'local' } },
        time: 1700000000,
        timeNano: Number(1700000000123456768n),
      }),
      '2023-11-14T22:13:20.123456768Z volume create v1 (driver=local, z=1)\n',
    );
    assert.equal(
      eventLine({ Type: 'network', Action: 'destroy', Actor: { ID: 'n1' }, time: 1700000000 }),
      '2023-11-14T22:13:20.000000000Z network destroy n1\n',
    );
  } finally {
    if (prevTz === undefined) delete process.env.TZ;
    else process.env.TZ = prevTz;
  }
});

test('network IPAM flags pair up as docker pairs them', () => {
  assert.deepEqual(
    ipamConfigs(['10.1.0.0/16', '10.2.0.0/24'], ['10.2.0.128/25'], ['10.1.0.254', '10.2.0.1'], {
      host1: '10.1.0.5',
    }),
    [
      { Subnet: '10.1.0.0/16', Gateway: '10.1.0.254', AuxiliaryAddresses: { host1: '10.1.0.5' } },
      { Subnet: '10.2.0.0/24', IPRange: '10.2.0.128/25', Gateway: '10.2.0.1' },
    ],
  );
  assert.deepEqual(ipamConfigs([], [], [], {}), []);
  assert.throws(
    () => ipamConfigs([], ['10.0.0.0/24'], [], {}),
    /every ip-range or gateway must have a corresponding subnet/,
  );
  assert.throws(
    () => ipamConfigs(['10.0.0.0/24'], [], [], { h: '10.9.0.1' }),
    /no matching subnet for aux-address 10\.9\.0\.1/,
  );
  assert.throws(
    () => ipamConfigs(['10.0.0.0/24'], [], ['10.0.0.1', '10.0.0.2'], {}),
    /every ip-range or gateway must have a corresponding subnet/,
  );
  assert.throws(
    () => ipamConfigs(['10.0.0.0/24', '10.3.0.0/24'], [], ['10.0.0.1', '10.0.0.2'], {}),
    /cannot configure multiple gateways \(10\.0\.0\.2, 10\.0\.0\.1\) for the same subnet \(10\.0\.0\.0\/24\)/,
  );
});

test('system df rows: counts, sizes and reclaimable percentages as docker computes them', () => {
  const rows = diskUsageRows({
    LayersSize: 3000,
    Images: [
      { Id: 'a', Size: 2000, SharedSize: 500, Containers: 1 } as never,
      { Id: 'b', Size: 1000, SharedSize: 0, Containers: 0 } as never,
    ],
    Containers: [
      { Id: 'c1', State: 'running', SizeRw: 100 },
      { Id: 'c2', State: 'exited', SizeRw: 50 },
    ],
    Volumes: [
      { Name: 'v1', UsageData: { Size: 400, RefCount: 1 } } as never,
      { Name: 'v2', UsageData: { Size: 600, RefCount: 0 } } as never,
      { Name: 'v3', UsageData: { Size: -1, RefCount: -1 } } as never,
    ],
  });
  assert.deepEqual(
    rows.map((r) => [r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable]),
    [
      ['Images', '2', '1', '3kB', '1.5kB (50%)'],
      ['Containers', '2', '1', '150B', '50B (33%)'],
      ['Local Volumes', '3', '1', '1kB', '600B (60%)'],
      ['Build Cache', '0', '0', '0B', '0B'],
    ],
  );
});

test('bootstrap targets and history rows', () => {
  assert.deepEqual(parseBootstrapTarget('busybox'), { kind: 'busybox', name: 'busybox', tag: 'latest' });
  assert.deepEqual(parseBootstrapTarget('busybox:1.36'), { kind: 'busybox', name: 'busybox', tag: '1.36' });
  assert.deepEqual(parseBootstrapTarget('debian'), { kind: 'debian', name: 'debian', tag: 'bookworm' });
  assert.deepEqual(parseBootstrapTarget('debian:trixie'), { kind: 'debian', name: 'debian', tag: 'trixie' });
  assert.throws(() => parseBootstrapTarget('debian:Trixie'), /invalid Debian suite/);
  assert.throws(() => parseBootstrapTarget('ubuntu:noble'), /cannot bootstrap "ubuntu:noble"/);
  const h = {
    Id: 'sha256:0123456789abcdef0123',
    Created: 1700000000,
    CreatedBy: `/bin/sh -c\t${'x'.repeat(60)}`,
    Tags: [],
    Size: 1234567,
    Comment: 'c',
  };
  const row = historyRow(h, { trunc: true, human: false });
  assert.equal(row.ID, '0123456789ab');
  assert.equal(row.CreatedBy, `/bin/sh -c ${'x'.repeat(33)}…`);
  assert.equal(row.CreatedSince, '2023-11-14T22:13:20Z');
  assert.equal(row.Size, '1234567');
  const human = historyRow(
    { ...h, Id: '<missing>' },
    { trunc: false, human: true, now: 1700000000000 + 3_600_000 },
  );
  assert.equal(human.ID, '<missing>');
  assert.equal(human.CreatedSince, 'About an hour ago');
  assert.equal(human.Size, '1.23MB');
  assert.equal(human.CreatedBy, `/bin/sh -c ${'x'.repeat(60)}`);
});

describe('berth network, volume and system commands', { skip, concurrency: false }, () => {
  let d: TestDaemon;
  const berth = (args: string[], input?: string) =>
    runTool(process.execPath, [...berthArgv(), ...args], d.env, input);
  const docker = (args: string[]) => runTool(DOCKER, args, d.env);
  const ok = async (args: string[], input?: string) => {
    const r = await berth(args, input);
    assert.equal(r.status, 0, `berth ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  };
  const fails = async (args: string[], stderr: RegExp, status = 1) => {
    const r = await berth(args);
    assert.equal(r.status, status, `berth ${args.join(' ')} should fail: ${r.stdout}`);
    assert.match(r.stderr, stderr);
    return r;
  };
  const dockerOk = async (args: string[]) => {
    const r = await docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };
  /** An anonymous volume (made for a container's `-v /path`) that no container uses any more. */
  const anonymousVolume = async () => {
    const id = await dockerOk(['create', '-v', '/anon', 'busybox', 'true']);
    const name = await dockerOk(['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', id]);
    await dockerOk(['rm', id]);
    assert.match(name, /^[0-9a-f]{64}$/);
    return name;
  };
  // A subnet unlikely to collide with other daemons' pools on this machine.
  const third = 100 + Math.floor(Math.random() * 100);
  const subnet = `10.97.${third}.0/24`;

  before(async () => {
    d = await startTestDaemon();
    const r = await berth(['image', 'bootstrap', 'busybox']);
    assert.equal(r.status, 0, r.stderr);
  });
  after(async () => {
    await d?.stop();
  });

  test('network create, ls, inspect, connect, disconnect, rm', async () => {
    const id = (
      await ok([
        'network',
        'create',
        '--subnet',
        subnet,
        '--gateway',
        `10.97.${third}.1`,
        '--ip-range',
        `10.97.${third}.128/25`,
        '--label',
        'bt.owner=test',
        '--internal',
        '--attachable',
        'btnet1',
      ])
    ).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const table = (await ok(['network', 'ls'])).trim().split('\n');
    assert.match(table[0]!, /^NETWORK ID\s+NAME\s+DRIVER\s+SCOPE$/);
    // sorted by name, as docker does
    const names = table.slice(1).map((l) => l.split(/\s+/)[1]);
    assert.deepEqual(names, [...names].sort());
    assert.ok(table.some((l) => new RegExp(`^${id.slice(0, 12)}\\s+btnet1\\s+bridge\\s+local$`).test(l)));
    assert.equal((await ok(['network', 'ls', '-q', '--no-trunc', '--filter', 'name=btnet1'])).trim(), id);
    assert.equal(
      (
        await ok(['network', 'ls', '--filter', 'label=bt.owner=test', '--format', '{{.Name}} {{.Internal}}'])
      ).trim(),
      'btnet1 true',
    );
    const ipam = (
      await ok([
        'network',
        'inspect',
        '-f',
        '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}}',
        'btnet1',
      ])
    ).trim();
    assert.equal(ipam, `${subnet} 10.97.${third}.1 10.97.${third}.128/25`);
    const inspected = JSON.parse(await ok(['network', 'inspect', 'btnet1'])) as {
      Name: string;
      Attachable: boolean;
    }[];
    assert.equal(inspected.length, 1);
    assert.equal(inspected[0]!.Attachable, true);

    await dockerOk(['run', '-d', '--name', 'bt-net-user', 'busybox', 'sleep', '300']);
    await ok([
      'network',
      'connect',
      '--alias',
      'btalias',
      '--ip',
      `10.97.${third}.200`,
      'btnet1',
      'bt-net-user',
    ]);
    const member = (
      await ok([
        'network',
        'inspect',
        '-f',
        '{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}',
        'btnet1',
      ])
    ).trim();
    assert.equal(member, `bt-net-user 10.97.${third}.200/24`);
    assert.match(
      await dockerOk(['inspect', '-f', '{{json .NetworkSettings.Networks.btnet1.Aliases}}', 'bt-net-user']),
      /"btalias"/,
    );
    // In use: Docker's message and status (403 from the daemon → exit 1).
    await fails(
      ['network', 'rm', 'btnet1'],
      /^Error response from daemon: error while removing network: .*has active endpoints/,
    );
    await ok(['network', 'disconnect', 'btnet1', 'bt-net-user']);
    // several at once: the good one goes, the missing one is reported, exit 1
    const r = await fails(['network', 'rm', 'btnet1', 'btnet-missing'], /network btnet-missing not found/);
    assert.equal(r.stdout.trim(), 'btnet1');
    await ok(['network', 'rm', '-f', 'btnet-missing']);
    await dockerOk(['rm', '-f', 'bt-net-user']);
  });

  test('network create refuses bad input', async () => {
    await fails(
      ['network', 'create', '--gateway', '10.96.0.1', 'btbad1'],
      /every ip-range or gateway must have a corresponding subnet/,
    );
    await fails(
      ['network', 'create', '--subnet', '10.96.0.0/16', '--subnet', '10.96.1.0/24', 'btbad2'],
      /multiple overlapping subnet configuration is not supported/,
    );
    await fails(
      ['network', 'create', '--subnet', subnet, '--gateway', '192.168.0.1', 'btbad3'],
      /no matching subnet for gateway 192\.168\.0\.1/,
    );
    await ok(['network', 'create', '--subnet', subnet, 'btnet2']);
    // overlapping another network: the daemon's message
    await fails(
      ['network', 'create', '--subnet', subnet, 'btnet3'],
      /^Error response from daemon: .*overlaps/,
    );
    await fails(['network', 'create', 'btnet2'], /^Error response from daemon: .*btnet2.*already exists/);
    await fails(['network', 'connect', 'btnet2', 'bt-no-container'], /No such container: bt-no-container/);
    await fails(['network', 'inspect', 'btnet-none'], /network btnet-none not found/);
    assert.match(await ok(['network', 'prune', '-f']), /Deleted Networks:\nbtnet2\n/);
    assert.equal((await ok(['network', 'ls', '-q', '--filter', 'name=btnet2'])).trim(), '');
  });

  test('volume create, ls, inspect, rm in use, prune', async () => {
    assert.equal((await ok(['volume', 'create', '--label', 'bt.kind=data', 'btvol1'])).trim(), 'btvol1');
    assert.equal(
      (
        await ok(['volume', 'create', '-d', 'local', '-o', 'type=tmpfs', '-o', 'device=tmpfs', 'btvol2'])
      ).trim(),
      'btvol2',
    );
    const generated = (await ok(['volume', 'create'])).trim();
    assert.match(generated, /^[0-9a-f]{64}$/);
    const anon = await anonymousVolume();
    const table = (await ok(['volume', 'ls'])).trim().split('\n');
    assert.match(table[0]!, /^DRIVER\s+VOLUME NAME$/);
    assert.ok(table.includes(`local     btvol1`));
    assert.equal((await ok(['volume', 'ls', '-q', '--filter', 'label=bt.kind=data'])).trim(), 'btvol1');
    assert.equal(
      (await ok(['volume', 'inspect', '-f', '{{.Options.type}} {{.Driver}}', 'btvol2'])).trim(),
      'tmpfs local',
    );
    const both = await berth(['volume', 'inspect', 'btvol1', 'btvol-none']);
    assert.equal(both.status, 1);
    assert.equal((JSON.parse(both.stdout) as { Name: string }[])[0]!.Name, 'btvol1');
    assert.match(both.stderr, /btvol-none/);
    await fails(
      ['volume', 'create', '-d', 'nosuchdriver', 'btvol3'],
      /^Error response from daemon: .*nosuchdriver/,
    );
    await fails(['volume', 'create', '--label', '=x', 'btvol4'], /key is empty/);

    await dockerOk(['create', '--name', 'bt-vol-user', '-v', 'btvol1:/data', 'busybox', 'true']);
    await fails(['volume', 'rm', 'btvol1'], /^Error response from daemon: remove btvol1: volume is in use/);
    await fails(['volume', 'rm', '-f', 'btvol1'], /volume is in use/);
    // prune keeps named volumes without -a, and volumes in use always
    const pruned = await ok(['volume', 'prune', '-f']);
    assert.match(pruned, new RegExp(`Deleted Volumes:\\n${anon}\\n`));
    assert.match(pruned, /Total reclaimed space: /);
    assert.doesNotMatch(pruned, new RegExp(generated));
    const all = await ok(['volume', 'prune', '-a', '-f']);
    assert.match(all, /btvol2/);
    assert.match(all, new RegExp(generated));
    assert.doesNotMatch(all, /btvol1/);
    await dockerOk(['rm', 'bt-vol-user']);
    assert.equal((await ok(['volume', 'rm', 'btvol1'])).trim(), 'btvol1');
    await fails(['volume', 'rm', 'btvol1'], /no such volume/);
  });

  test('version, info and system df', async () => {
    const version = (await ok(['version'])).split('\n');
    assert.equal(version[0], 'Client:');
    assert.ok(version.some((l) => /^Server: berth /.test(l)));
    assert.ok(version.some((l) => /^ {2}API version: +1\.47 \(minimum version 1\.24\)$/.test(l)));
    assert.equal((await ok(['version', '--format', '{{.Server.ApiVersion}}'])).trim(), '1.47');
    assert.equal((await ok(['version', '-f', '{{.Client.ApiVersion}}'])).trim(), '1.47');
    await fails(['version', '--format', '{{.Nope'], /template|unclosed|unexpected/i, 125);

    const root = (await ok(['info', '--format', '{{.DockerRootDir}}'])).trim();
    assert.equal(root, join(d.root, 'data'));
    assert.match(await ok(['system', 'info', '-f', '{{json .Images}}']), /^\d+\n$/);
    const text = await ok(['info']);
    assert.match(text, /^Client:\n/);
    assert.match(text, /\n Server Version: 27\.3\.1\n/);
    assert.match(text, /\n Docker Root Dir: /);

    const containers = (await d.client.containers.list({ all: true })).length;
    const volumes = (await d.client.volumes.list()).Volumes?.length ?? 0;
    const df = (await ok(['system', 'df'])).trim().split('\n');
    assert.match(df[0]!, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/);
    assert.match(df[1]!, /^Images\s+1\s+\d+\s+\d[\d.]*[kM]?B\s+\S+ \(\d+%\)$/);
    assert.deepEqual(
      df.slice(2).map((l) => l.split(/\s{2,}/)[0]),
      ['Containers', 'Local Volumes', 'Build Cache'],
    );
    assert.equal(
      (await ok(['system', 'df', '--format', '{{.Type}}={{.TotalCount}}'])).trim(),
      `Images=1\nContainers=${containers}\nLocal Volumes=${volumes}\nBuild Cache=0`,
    );
    const verbose = await ok(['system', 'df', '-v']);
    assert.match(
      verbose,
      /^Images space usage:\n\nREPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+UNIQUE SIZE\s+CONTAINERS\nbusybox\s+latest/,
    );
    assert.match(verbose, /\nContainers space usage:\n/);
    assert.match(verbose, /\nLocal Volumes space usage:\n/);
  });

  test('events: history between --since and --until, filters, formats, and streaming', async () => {
    const since = String(Math.floor(Date.now() / 1000) - 1);
    await ok(['volume', 'create', 'btevvol']);
    await ok(['volume', 'rm', 'btevvol']);
    const until = String(Math.floor(Date.now() / 1000) + 1);
    const lines = (
      await ok([
        'events',
        '--since',
        since,
        '--until',
        until,
        '--filter',
        'type=volume',
        '--format',
        '{{.Action}} {{.Actor.ID}}',
      ])
    )
      .trim()
      .split('\n');
    assert.deepEqual(
      lines.filter((l) => l.endsWith('btevvol')),
      ['create btevvol', 'destroy btevvol'],
    );
    const plain = await ok([
      'system',
      'events',
      '--since',
      since,
      '--until',
      until,
      '--filter',
      'event=create',
      '--filter',
      'type=volume',
    ]);
    assert.match(
      plain,
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) volume create btevvol \(driver=local\)\n$/,
    );
    const json = JSON.parse(
      (
        await ok([
          'events',
          '--since',
          since,
          '--until',
          until,
          '--filter',
          'type=volume',
          '--format',
          'json',
        ])
      ).split('\n')[0]!,
    ) as { Type: string };
    assert.equal(json.Type, 'volume');
    await fails(['events', '--since', 'not a time'], /not a time or duration/);
    await fails(['events', '--filter', 'novalue'], /bad format of filter/);

    // Streaming: the event of a network created after the command started.
    const child: ChildProcess = spawn(
      process.execPath,
      [
        ...berthArgv(),
        'events',
        '--filter',
        'type=network',
        '--format',
        '{{.Action}} {{.Actor.Attributes.name}}',
      ],
      { env: d.env, cwd: REPO },
    );
    try {
      let out = '';
      const seen = new Promise<void>((resolve) => {
        child.stdout!.on('data', (b: Buffer) => {
          out += b.toString();
          if (/create btevnet/.test(out)) resolve();
        });
      });
      // give the stream time to subscribe, then create networks until one is seen
      const timer = setInterval(() => {
        void berth(['network', 'create', `btevnet${Math.floor(Math.random() * 1e6)}`]);
      }, 3000);
      try {
        await seen;
      } finally {
        clearInterval(timer);
      }
      assert.match(out, /^create btevnet\d+$/m);
    } finally {
      child.kill('SIGINT');
      await new Promise((r) => child.once('close', r));
    }
  });

  test('system prune removes stopped containers, unused networks, dangling images and (--volumes) anonymous volumes', async () => {
    await dockerOk(['run', '--name', 'bt-stopped', 'busybox', 'true']);
    await ok(['network', 'create', 'btprune-net']);
    const anon = await anonymousVolume();
    const declined = await berth(['system', 'prune', '--volumes'], 'no\n');
    assert.equal(declined.status, 0);
    assert.match(
      declined.stdout,
      /WARNING! This will remove:\n {2}- all stopped containers\n {2}- all networks not used by at least one container\n {2}- all anonymous volumes not used by at least one container\n {2}- all dangling images\n/,
    );
    assert.match(await dockerOk(['ps', '-a', '--format', '{{.Names}}']), /bt-stopped/);
    const out = await ok(['system', 'prune', '-f', '--volumes']);
    assert.match(out, /Deleted Containers:\n[0-9a-f]{64}\n/);
    assert.match(out, /Deleted Networks:\n(btevnet\d+\n)*btprune-net\n/);
    assert.match(out, new RegExp(`Deleted Volumes:\\n${anon}\\n`));
    assert.match(out, /Total reclaimed space: /);
    assert.equal(await dockerOk(['ps', '-aq']), '');
    // the image has no container now, so -a removes it
    assert.match(await ok(['system', 'prune', '-a', '-f']), /untagged: busybox:latest/);
    assert.equal((await ok(['images', '-q'])).trim(), '');
  });
});
