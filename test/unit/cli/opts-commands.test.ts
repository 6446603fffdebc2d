// The pure parts of the container commands: docker's usage-error wording, exit codes for failed starts,
// port lines, log timestamps, stats rows and --filter parsing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Command } from 'commander';
import { dockerFlagError, filtersOf } from '../../../src/cli/commands/container-common.js';
import { logTimestamp, portLines } from '../../../src/cli/commands/container-manage.js';
import { startFailureCode } from '../../../src/cli/commands/container-run.js';
import { statsRow } from '../../../src/cli/commands/container-stats.js';
import type { ContainerStats } from '../../../src/client/index.js';

test('commander errors in docker words', () => {
  const program = new Command('berth');
  const exec = program.command('exec').argument('<container>').argument('<command...>');
  const rename = program.command('rename').argument('<container>').argument('<new-name>');
  assert.equal(dockerFlagError("error: unknown option '--foo'", exec), 'unknown flag: --foo');
  assert.equal(dockerFlagError("error: unknown option '-x'", exec), "unknown shorthand flag: 'x' in -x");
  assert.equal(
    dockerFlagError("error: option '-u, --user <user>' argument missing", exec),
    'flag needs an argument: --user',
  );
  assert.equal(
    dockerFlagError("error: missing required argument 'command'", exec),
    "berth: 'berth exec' requires at least 2 arguments",
  );
  assert.equal(
    dockerFlagError("error: missing required argument 'new-name'", rename),
    "berth: 'berth rename' requires exactly 2 arguments",
  );
});

test('exit codes of a failed start follow docker (127 missing, 126 not executable, else 125)', () => {
  assert.equal(startFailureCode('exec: "nope": executable file not found in $PATH'), 127);
  assert.equal(startFailureCode('exec: "/x": stat /x: no such file or directory'), 127);
  assert.equal(startFailureCode('exec: "/etc": permission denied'), 126);
  assert.equal(startFailureCode('cannot join network of a non running container'), 125);
});

test('port lines, sorted by port, IPv6 hosts bracketed', () => {
  const ports = {
    '443/tcp': [{ HostIp: '::', HostPort: '8443' }],
    '80/tcp': [
      { HostIp: '0.0.0.0', HostPort: '8080' },
      { HostIp: '', HostPort: '8081' },
    ],
    '53/udp': null,
  };
  assert.deepEqual(portLines(ports), [
    '80/tcp -> 0.0.0.0:8080',
    '80/tcp -> 0.0.0.0:8081',
    '443/tcp -> [::]:8443',
  ]);
  assert.deepEqual(portLines(ports, '80'), ['0.0.0.0:8080', '0.0.0.0:8081']);
  assert.deepEqual(portLines(ports, '443/tcp'), ['[::]:8443']);
  assert.deepEqual(portLines(ports, '53/udp'), []);
  assert.deepEqual(portLines(null), []);
});

test('log timestamps: unix seconds pass, durations count back from now, dates convert', () => {
  const now = Date.parse('2024-01-01T00:10:00Z');
  assert.equal(logTimestamp(undefined), undefined);
  assert.equal(logTimestamp('1700000000'), '1700000000');
  assert.equal(logTimestamp('10m', now), (Date.parse('2024-01-01T00:00:00Z') / 1000).toFixed(9));
  assert.equal(logTimestamp('2024-01-01T00:00:00Z'), '1704067200.000000000');
  assert.throws(() => logTimestamp('yesterday'), /invalid value/);
});

test('stats rows compute CPU %, memory without cache, network and block I/O', () => {
  const sample: ContainerStats = {
    read: '2024-01-01T00:00:01Z',
    id: 'a'.repeat(64),
    name: '/web',
    pids_stats: { current: 3 },
    cpu_stats: { cpu_usage: { total_usage: 3e8 }, system_cpu_usage: 2e9, online_cpus: 2 },
    precpu_stats: { cpu_usage: { total_usage: 1e8 }, system_cpu_usage: 1e9, online_cpus: 2 },
    memory_stats: {
      usage: 3 * 1024 * 1024,
      limit: 100 * 1024 * 1024,
      stats: { total_inactive_file: 1024 * 1024 },
    },
    networks: { eth0: { rx_bytes: 1500, tx_bytes: 500 } },
    blkio_stats: {
      io_service_bytes_recursive: [
        { major: 8, minor: 0, op: 'Read', value: 4096 },
        { major: 8, minor: 0, op: 'Write', value: 2_000_000 },
      ],
    },
  };
  assert.deepEqual(statsRow(sample, 'web'), {
    BlockIO: '4.1kB / 2MB',
    CPUPerc: '40.00%',
    Container: 'web',
    ID: 'a'.repeat(12),
    MemPerc: '2.00%',
    MemUsage: '2MiB / 100MiB',
    Name: 'web',
    NetIO: '1.5kB / 500B',
    PIDs: '3',
  });
  const stopped = statsRow(
    {
      read: '0001-01-01T00:00:00Z',
      cpu_stats: { cpu_usage: { total_usage: 0 } },
      precpu_stats: { cpu_usage: { total_usage: 0 } },
      memory_stats: {},
    },
    'x',
  );
  assert.deepEqual([stopped.CPUPerc, stopped.MemUsage, stopped.PIDs], ['0.00%', '0B / 0B', '0']);
});

test('--filter values: key=value, repeated keys collect, bad ones are usage errors', () => {
  assert.deepEqual(filtersOf(['name=a', 'name=b', 'Status=exited']), {
    name: ['a', 'b'],
    status: ['exited'],
  });
  assert.throws(
    () => filtersOf(['nonsense']),
    (err: Error & { exitCode?: number }) => err.exitCode === 125,
  );
});
